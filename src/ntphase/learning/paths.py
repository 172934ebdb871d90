"""NT, kernel and polynomial ridge paths: the functional core of the estimators.

Pure functions that turn data ``(X, y)`` and a model (NT features of fixed
weights ``W``, the infinite-width kernel ``K``, or the truncated kernel
``K_{<=l}`` with the self-induced ridge ``gamma_{>l}``) into a whole
:class:`ntphase.linalg.RidgePath` (docs/theory.md, section 5), and the choice of the
side NT ridge is solved on (:func:`nt_ridge_route`), shared with
:class:`ntphase.learning.NTRidge`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from ntphase._util.validation import check_choice, check_int, check_matrix, check_vector
from ntphase.conventions import LAYERS, nt_feature_count
from ntphase.kernels import infinite_kernel, nt_features, nt_kernel, truncated_kernel
from ntphase.linalg.ridge import RidgePath, check_lambdas, primal_ridge_path, ridge_path
from ntphase.sphere import gamma_above
from ntphase.sphere import level as sphere_level

__all__ = [
    "kernel_ridge_path",
    "nt_ridge_path",
    "nt_ridge_route",
    "polynomial_ridge_path",
]


def nt_ridge_route(n: int, width: int, d: int, layers: str = "first") -> str:
    """Which side NT ridge is solved on: ``"primal"`` if ``p < n``, else ``"dual"``.

    ``p = nt_feature_count(width, d, layers)`` NT parameters against ``n`` samples:
    the primal route works with the ``n x p`` features (thin SVD, ``O(n p^2)``),
    the dual one with the ``n x n`` kernel ``K_N`` (``O(n^3)``). Used by
    :func:`nt_ridge_path` and :class:`ntphase.learning.NTRidge` alike.
    """
    return "primal" if nt_feature_count(width, d, layers) < n else "dual"


def _check_xy(X: Any, y: Any, X_test: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    X = np.asarray(check_matrix("X", X), dtype=np.float64)
    y = check_vector("y", y, length=X.shape[0])
    if X_test is not None:
        X_test = np.asarray(check_matrix("X_test", X_test, ncols=X.shape[1]), dtype=np.float64)
    return X, y, X_test


# --------------------------------------------------------------------------- functional core


def nt_ridge_path(
    X: Any,
    y: Any,
    W: Any,
    activation: Any,
    lambdas: Any,
    X_test: Any = None,
    layers: str = "first",
) -> RidgePath:
    """NT ridge regression path for fixed first-layer weights ``W``, on the smaller side.

    With ``p`` NT parameters (:func:`ntphase.conventions.nt_feature_count`: ``N d``
    for the first layer), on the side chosen by :func:`nt_ridge_route`:

    * ``p < n``: primal, features ``Phi = nt_features(X, W)`` (``n x p``) and
      :func:`ntphase.linalg.ridge.primal_ridge_path` (``coef`` are the NT coefficients ``a``);
    * ``p >= n``: dual, ``K_N = nt_kernel(X, W)`` (``n x n``, never the features)
      and :func:`ntphase.linalg.ridge.ridge_path` (``coef`` are ``alpha``).

    Both give ``f_hat(x) = K_N(x, X) (K_N + lambda I)^+ y``.

    Parameters
    ----------
    X : array, shape (n, d)
    y : array, shape (n,)
    W : array, shape (N, d)
        First-layer weights (``ntphase.data.sample_weights``).
    activation : str or Activation
    lambdas : float or array, shape (L,)
        Ridges ``>= 0`` (kernel units).
    X_test : array, shape (n_test, d), optional
    layers : {"first", "second", "both"}

    Returns
    -------
    RidgePath

    Notes
    -----
    Cost ``O(n p min(n, p))`` (+ ``O(n^3)`` for the dual eigendecomposition);
    memory ``O(n min(n, p))``.
    """
    X, y, X_test = _check_xy(X, y, X_test)
    W = np.asarray(check_matrix("W", W, ncols=X.shape[1]), dtype=np.float64)
    layers = check_choice("layers", layers, LAYERS)
    n, d = X.shape
    if nt_ridge_route(n, W.shape[0], d, layers) == "primal":
        Phi = nt_features(X, W, activation, layers=layers)
        Phi_test = None if X_test is None else nt_features(X_test, W, activation, layers=layers)
        return primal_ridge_path(Phi, y, lambdas, Phi_test)
    K = nt_kernel(X, W, activation, layers=layers)
    K_test = None if X_test is None else nt_kernel(X_test, W, activation, X2=X, layers=layers)
    return ridge_path(K, y, lambdas, K_test)


def kernel_ridge_path(
    X: Any,
    y: Any,
    activation: Any,
    lambdas: Any,
    X_test: Any = None,
    layers: str = "first",
) -> RidgePath:
    """Kernel ridge regression path with the infinite-width NT kernel ``K = H(<x,x'>/d)``.

    ``X`` (and ``X_test``) must lie on the sphere of radius ``sqrt(d)``
    (:func:`ntphase.kernels.infinite_kernel` checks; see :func:`ntphase.data.project_to_sphere`).
    Cost ``O(n^2 d + n^3)``.
    """
    X, y, X_test = _check_xy(X, y, X_test)
    K = infinite_kernel(X, activation, layers=layers)
    K_test = None if X_test is None else infinite_kernel(X_test, activation, X2=X, layers=layers)
    return ridge_path(K, y, lambdas, K_test)


def polynomial_ridge_path(
    X: Any,
    y: Any,
    activation: Any,
    lambdas: Any,
    level: int | None = None,
    X_test: Any = None,
    layers: str = "first",
) -> RidgePath:
    """Polynomial ridge regression path: kernel ``K_{<=l}``, ridge ``lambda + gamma_{>l}``.

    ``K_{<=l}(x,x') = sum_{k<=l} B(d,k) xi_{d,k} P_k(<x,x'>/d)``
    (:func:`ntphase.kernels.truncated_kernel`) and ``gamma_{>l} = H(1) -
    sum_{k<=l} B(d,k) xi_{d,k}`` (:func:`ntphase.sphere.gamma_above`); docs/theory.md
    section 5. ``level=None`` uses ``ntphase.sphere.level(n, d, activation)``.
    The returned path's ``lambdas`` are the *user* ridges ``lambda``; the solve
    uses ``lambda + gamma_{>l}``. Sphere data only. Cost ``O(n^2 (d + l) + n^3)``.
    """
    X, y, X_test = _check_xy(X, y, X_test)
    lam = check_lambdas(lambdas)
    n, d = X.shape
    level = sphere_level(n, d, activation, layers=layers) if level is None else check_int(
        "level", level, minimum=0
    )
    gamma = float(gamma_above(activation, d, level, layers=layers))
    K = truncated_kernel(X, activation, level, layers=layers)
    K_test = None if X_test is None else truncated_kernel(X_test, activation, level, X2=X, layers=layers)
    # the path solved at lambda + gamma_{>l}, reported at the user ridges lambda
    return dataclasses.replace(ridge_path(K, y, lam + gamma, K_test), lambdas=lam)
