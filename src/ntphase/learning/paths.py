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
from dataclasses import dataclass
from typing import Any

import numpy as np

from ntphase._util.memory import fits
from ntphase._util.validation import check_choice, check_float, check_int, check_matrix, check_vector
from ntphase.conventions import LAYERS, nt_feature_count
from ntphase.kernels import (
    cross_product,
    infinite_kernel,
    nt_features,
    nt_kernel,
    truncated_kernel,
)
from ntphase.kernels.harmonic import HARMONIC_MAX_DEGREE, HarmonicFeatures, harmonic_model, harmonic_rank
from ntphase.learning import _matrix_free as mf
from ntphase.linalg.cg import DEFAULT_RTOL, CGInfo
from ntphase.linalg.preconditioners import WoodburyPreconditioner
from ntphase.linalg.ridge import RidgePath, check_lambdas, pinv_rcond, primal_ridge_path, ridge_path, spectral_path
from ntphase.sphere import gamma_above
from ntphase.sphere import level as sphere_level

__all__ = [
    "PolynomialPrimalFit",
    "choose_solver",
    "kernel_ridge_path",
    "nt_ridge_path",
    "nt_ridge_route",
    "polynomial_primal_fit",
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


def choose_solver(
    n: int, d: int, activation: Any, layers: str = "first", *, width: int | None = None, sphere: bool = True
) -> str:
    """What ``solver="auto"`` resolves to for a dual ridge solve: ``"dense"`` or ``"cg"``.

    The choice the estimators and the paths make, for callers that batch several
    fits themselves (e.g. all ridges of one sample in one block PCG): ``"cg"`` when
    the dense solve (``16 n^2`` bytes) does not fit in memory, ``"dense"`` for
    ``n <= 2,000``, otherwise the cheaper in flops of forming the kernel plus
    Cholesky (``n^3/3``) against the preconditioner's build plus the expected
    preconditioned iterations. ``width=None``: the infinite-width kernel ``K``;
    an integer: ``K_N`` of that many neurons (the dual side of NT ridge). ``sphere``:
    whether the rows lie on the sphere (harmonic preconditioner) or not (Nystrom).
    """
    n = check_int("n", n, minimum=1)
    d = check_int("d", d, minimum=2)
    layers = check_choice("layers", layers, LAYERS)
    if width is not None:
        width = check_int("width", width, minimum=1)
    return mf.choose_solver(n, d, activation, layers, width=width, sphere=bool(sphere))


def _check_xy(X: Any, y: Any, X_test: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    X = np.asarray(check_matrix("X", X), dtype=np.float64)
    y = check_vector("y", y, length=X.shape[0])
    if X_test is not None:
        X_test = np.asarray(check_matrix("X_test", X_test, ncols=X.shape[1]), dtype=np.float64)
    return X, y, X_test


# --------------------------------------------------------------------------- functional core


def _matrix_free_path(
    alpha: np.ndarray, y: np.ndarray, lam: np.ndarray, predictions_test: np.ndarray | None,
    info: CGInfo, solver: str,
) -> RidgePath:
    """A :class:`RidgePath` from matrix-free solutions ``alpha`` (``(n, L)``).

    ``K alpha = y - lambda alpha`` gives the fitted values, the training error and the norm
    ``alpha^T K alpha`` without another product; ``dof`` and ``gcv`` need the spectrum and are ``nan``.
    """
    coef = np.ascontiguousarray(alpha.T)
    resid = lam[:, None] * coef
    nan = np.full(lam.size, np.nan)
    return RidgePath(
        lambdas=lam,
        coef=coef,
        train_error=np.mean(resid**2, axis=1),
        norm=np.einsum("li,li->l", coef, y[None, :] - resid),
        dof=nan,
        gcv=nan.copy(),
        predictions_test=predictions_test,
        space="dual",
        rank=None,
        solver=solver,
        n_iter=np.asarray(info.iterations, dtype=int).copy(),
        residual=np.asarray(info.residuals, dtype=np.float64).copy(),
    )


def _check_solver_args(solver: str, rtol: float, maxiter: int | None) -> tuple[str, float, int | None]:
    solver = check_choice("solver", solver, mf.SOLVERS)
    rtol = check_float("rtol", rtol, minimum=0.0, allow_equal=False)
    maxiter = None if maxiter is None else check_int("maxiter", maxiter, minimum=1)
    return solver, rtol, maxiter


def nt_ridge_path(
    X: Any,
    y: Any,
    W: Any,
    activation: Any,
    lambdas: Any,
    X_test: Any = None,
    layers: str = "first",
    *,
    solver: str = "auto",
    rtol: float = DEFAULT_RTOL,
    maxiter: int | None = None,
    preconditioner: str = "auto",
    verbose: bool = False,
) -> RidgePath:
    """NT ridge regression path for fixed first-layer weights ``W``.

    With ``p`` NT parameters (:func:`ntphase.conventions.nt_feature_count`: ``N d``
    for the first layer), densely on the side chosen by :func:`nt_ridge_route`:

    * ``p < n``: primal, features ``Phi = nt_features(X, W)`` (``n x p``) and
      :func:`ntphase.linalg.ridge.primal_ridge_path` (``coef`` are the NT coefficients ``a``);
    * ``p >= n``: dual, ``K_N = nt_kernel(X, W)`` (``n x n``, never the features)
      and :func:`ntphase.linalg.ridge.ridge_path` (``coef`` are ``alpha``);

    or matrix-free (``solver="cg"``, dual side): ``K_N`` as
    :class:`ntphase.kernels.NTKernelOperator`, all ``lambda`` at once by batched
    PCG (``preconditioner`` ``"harmonic"`` on sphere data, ``"nystrom"``) or
    multi-shift CG (``"none"``); ``dof``/``gcv`` are then ``nan``.

    All give ``f_hat(x) = K_N(x, X) (K_N + lambda I)^+ y``.

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
    solver : {"auto", "dense", "cg"}
        ``"auto"``: dense when ``p < n`` (primal) or when the cost model of
        :mod:`ntphase.learning._matrix_free` prefers it and it fits in memory.
    rtol, maxiter, preconditioner, verbose
        Matrix-free settings (as in :class:`ntphase.learning.NTRidge`).

    Returns
    -------
    RidgePath

    Notes
    -----
    Dense cost ``O(n p min(n, p))`` (+ ``O(n^3)`` for the dual eigendecomposition);
    memory ``O(n min(n, p))``. Matrix-free: ``O(n N d L)`` per step, memory
    ``O(n (N + L))``.
    """
    X, y, X_test = _check_xy(X, y, X_test)
    W = np.asarray(check_matrix("W", W, ncols=X.shape[1]), dtype=np.float64)
    layers = check_choice("layers", layers, LAYERS)
    solver, rtol, maxiter = _check_solver_args(solver, rtol, maxiter)
    n, d = X.shape
    route = nt_ridge_route(n, W.shape[0], d, layers)
    if solver == "auto":
        solver = "dense" if route == "primal" else mf.choose_solver(
            n, d, activation, layers, width=W.shape[0], sphere=mf.on_sphere(X))
    if solver == "cg":
        lam = check_lambdas(lambdas)
        with mf.progress_bar(verbose, "NT ridge path (CG)", rtol) as progress:
            alpha, info, name = mf.path_cg(X, y, activation, lam, layers, preconditioner=preconditioner,
                                           rtol=rtol, maxiter=maxiter, progress=progress, W=W)
        pred = None if X_test is None else mf.nt_cross_product(X_test, X, W, activation, alpha, layers).T
        return _matrix_free_path(alpha, y, lam, pred, info, name)
    if route == "primal":
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
    *,
    solver: str = "auto",
    rtol: float = DEFAULT_RTOL,
    maxiter: int | None = None,
    preconditioner: str = "auto",
    verbose: bool = False,
) -> RidgePath:
    """Kernel ridge regression path with the infinite-width NT kernel ``K = H(<x,x'>/d)``.

    ``X`` (and ``X_test``) must lie on the sphere of radius ``sqrt(d)``
    (:func:`ntphase.kernels.infinite_kernel` checks; see :func:`ntphase.data.project_to_sphere`).
    ``solver="dense"``: one ``eigh``, cost ``O(n^2 d + n^3)``. ``solver="cg"``:
    matrix-free (:class:`ntphase.kernels.InfiniteKernelOperator`), all ``lambda``
    at once by batched PCG with the harmonic (default) or Nystrom preconditioner,
    or multi-shift CG (``preconditioner="none"``); predictions by tiled cross
    products; ``dof``/``gcv`` are ``nan``. ``"auto"``: the cost model and memory
    guard of :mod:`ntphase.learning._matrix_free`.
    """
    X, y, X_test = _check_xy(X, y, X_test)
    solver, rtol, maxiter = _check_solver_args(solver, rtol, maxiter)
    n, d = X.shape
    if solver == "auto":
        solver = mf.choose_solver(n, d, activation, layers)
    if solver == "cg":
        lam = check_lambdas(lambdas)
        with mf.progress_bar(verbose, "kernel ridge path (CG)", rtol) as progress:
            alpha, info, name = mf.path_cg(X, y, activation, lam, layers, preconditioner=preconditioner,
                                           rtol=rtol, maxiter=maxiter, progress=progress)
        pred = None if X_test is None else cross_product(X_test, X, activation, alpha, layers=layers).T
        return _matrix_free_path(alpha, y, lam, pred, info, name)
    K = infinite_kernel(X, activation, layers=layers)
    K_test = None if X_test is None else infinite_kernel(X_test, activation, X2=X, layers=layers)
    return ridge_path(K, y, lambdas, K_test)


@dataclass(frozen=True, eq=False)
class PolynomialPrimalFit:
    """Polynomial ridge solved on the explicit harmonic features (primal), for one or many ridges.

    Attributes
    ----------
    coef : ndarray, shape (r,) or (L, r)
        ``w`` with ``f_hat(x) = F(x) w`` (``F`` the harmonic features of ``degrees``).
    degrees : tuple of int
    level : int
    gamma : float
        ``gamma_{>l}``.
    d : int
    """

    coef: np.ndarray
    degrees: tuple[int, ...]
    level: int
    gamma: float
    d: int

    def predict(self, X: Any) -> np.ndarray:
        """``F(X) w`` (``(n_test,)`` or ``(L, n_test)``), blocked, ``O(n_test d^2)`` per column."""
        X = np.asarray(check_matrix("X", X, ncols=self.d), dtype=np.float64)
        if not self.degrees:
            return np.zeros(self.coef.shape[:-1] + (X.shape[0],))
        return HarmonicFeatures(X, self.degrees).matmat(self.coef.T).T


def _polynomial_level(n: int, d: int, activation: Any, level: int | None, layers: str) -> int:
    if level is None:
        return sphere_level(n, d, activation, layers=layers)
    return check_int("level", level, minimum=0)


def polynomial_primal_fit(
    X: Any,
    y: Any,
    activation: Any,
    ridge: Any = 0.0,
    level: int | None = None,
    layers: str = "first",
) -> PolynomialPrimalFit:
    r"""Polynomial ridge on the harmonic features, never forming ``n x n`` nor ``n x r``.

    ``f_hat(x) = K_{<=l}(x, X) (K_{<=l} + c I)^{-1} y = F(x) w`` with
    ``w = (F^T F + c D^{-1})^{-1} F^T y``, ``c = lambda + gamma_{>l}`` (push-through
    identity; ``K_{<=l} = F D F^T``, docs/theory.md, section 5). ``F^T F`` is
    accumulated over row blocks of explicit features
    (:class:`ntphase.kernels.harmonic.HarmonicFeatures`), ``F^T y`` and ``F(x) w``
    through ``d x d`` products.

    Parameters
    ----------
    X : array_like, shape (n, d)
        Rows on the sphere of radius ``sqrt(d)``.
    y : array_like, shape (n,)
    activation : str or Activation
    ridge : float or array (L,)
        ``lambda >= 0``; an array gives a path from one eigendecomposition of
        ``D^{1/2} F^T F D^{1/2}`` (``O(r^3)``).
    level : int in {0, 1, 2} or None
        ``None``: ``ntphase.sphere.level(n, d, activation)`` (must be ``<= 2``).
    layers : {"first", "second", "both"}

    Returns
    -------
    PolynomialPrimalFit

    Notes
    -----
    Cost ``O(n r^2 + r^3)`` flops, memory ``16 r^2`` bytes plus row blocks
    (``r = 5,151`` at d = 100, l = 2); predictions ``O(n_test d^2)``.
    """
    X = np.asarray(check_matrix("X", X), dtype=np.float64)
    n, d = X.shape
    y = check_vector("y", y, length=n)
    lvl = _polynomial_level(n, d, activation, level, layers)
    if lvl > HARMONIC_MAX_DEGREE:
        raise ValueError(
            f"level must be <= {HARMONIC_MAX_DEGREE} for the primal polynomial solve (explicit harmonic "
            f"features), got {lvl}; use solver='dense'"
        )
    model = harmonic_model(X, activation, lvl, layers)
    scalar = np.ndim(ridge) == 0
    lam = check_lambdas(ridge)
    shifts = lam + model.gamma
    if np.any(shifts <= 0):
        raise ValueError(
            f"ridge + gamma_(>l) must be > 0 for polynomial ridge, got gamma_(>{lvl}) = {model.gamma:.3g} "
            f"and ridges {lam.tolist()}"
        )
    if model.features is None:
        coef = np.zeros((lam.size, 0))
    else:
        P = WoodburyPreconditioner(model.features, model.column_eigenvalues, float(shifts.min()), n=n)
        Fy = model.features.rmatmat(y)
        if scalar:
            coef = P.solve_core(Fy)[None, :]
        else:
            theta, DV = P.eigenbasis()
            coef = ((DV.T @ Fy)[None, :] / (theta[None, :] + shifts[:, None])) @ DV.T
    return PolynomialPrimalFit(coef[0] if scalar else coef, model.degrees, lvl, model.gamma, d)


def polynomial_ridge_path(
    X: Any,
    y: Any,
    activation: Any,
    lambdas: Any,
    level: int | None = None,
    X_test: Any = None,
    layers: str = "first",
    *,
    solver: str = "auto",
) -> RidgePath:
    """Polynomial ridge regression path: kernel ``K_{<=l}``, ridge ``lambda + gamma_{>l}``.

    ``K_{<=l}(x,x') = sum_{k<=l} B(d,k) xi_{d,k} P_k(<x,x'>/d)``
    (:func:`ntphase.kernels.truncated_kernel`) and ``gamma_{>l} = H(1) -
    sum_{k<=l} B(d,k) xi_{d,k}`` (:func:`ntphase.sphere.gamma_above`); docs/theory.md
    section 5. ``level=None`` uses ``ntphase.sphere.level(n, d, activation)``.
    The returned path's ``lambdas`` are the *user* ridges ``lambda``; the solve
    uses ``lambda + gamma_{>l}``. Sphere data only.

    ``solver="dense"``: the dual ``n x n`` kernel, cost ``O(n^2 (d + l) + n^3)``.
    ``solver="primal"`` (levels ``<= 2``): the explicit harmonic features
    (:func:`polynomial_primal_fit`), ``O(n r^2 + r^3)``, ``space == "primal"`` with
    ``coef`` the weights ``a`` on ``Phi = F D^{1/2}`` (``Phi a = F w``, ``w = D^{1/2} a``). ``"auto"``:
    primal when the level is ``<= 2`` and ``r < n`` (or the dense kernel does not fit).
    """
    X, y, X_test = _check_xy(X, y, X_test)
    lam = check_lambdas(lambdas)
    solver = check_choice("solver", solver, ("auto", "dense", "primal"))
    n, d = X.shape
    level = _polynomial_level(n, d, activation, level, layers)
    gamma = float(gamma_above(activation, d, level, layers=layers))
    if solver == "auto":
        solver = _polynomial_route(n, d, activation, level, layers)
    if solver == "primal":
        return _polynomial_primal_path(X, y, activation, lam, level, X_test, layers, gamma)
    K = truncated_kernel(X, activation, level, layers=layers)
    K_test = None if X_test is None else truncated_kernel(X_test, activation, level, X2=X, layers=layers)
    # the path solved at lambda + gamma_{>l}, reported at the user ridges lambda
    return dataclasses.replace(ridge_path(K, y, lam + gamma, K_test), lambdas=lam)


def _polynomial_route(n: int, d: int, activation: Any, level: int, layers: str) -> str:
    """``"primal"`` when the level has explicit features and ``r < n`` or the dense kernel does not fit."""
    if level > HARMONIC_MAX_DEGREE:
        return "dense"
    r = harmonic_rank(activation, d, level, layers)
    if r < n or not fits(mf.dense_bytes(n)):
        return "primal"
    return "dense"


def _polynomial_primal_path(
    X: np.ndarray, y: np.ndarray, activation: Any, lam: np.ndarray, level: int,
    X_test: np.ndarray | None, layers: str, gamma: float,
) -> RidgePath:
    """The primal path on ``Phi = F D^{1/2}``: eigenbasis of ``Phi^T Phi`` (``r x r``), as the SVD route."""
    n = X.shape[0]
    model = harmonic_model(X, activation, level, layers)
    shifts = lam + gamma
    if model.features is None:
        zero = np.zeros((lam.size, 0))
        out = spectral_path(np.zeros(0), np.zeros(0), shifts, 0.0, n, float(y @ y), n, "K_{<=l}")
        pred = None if X_test is None else np.zeros((lam.size, X_test.shape[0]))
        return RidgePath(lam, zero, out["train_error"], out["norm"], out["dof"], out["gcv"], pred,
                         "primal", out["rank"])
    P = WoodburyPreconditioner(model.features, model.column_eigenvalues, float(shifts.min()), n=n)
    theta, DV = P.eigenbasis()  # D^{1/2} F^T F D^{1/2} = V theta V^T, DV = D^{1/2} V
    theta = np.maximum(theta, 0.0)
    root = np.sqrt(theta)
    c = DV.T @ model.features.rmatmat(y)  # = V^T Phi^T y = s z
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(root > 0, c / np.where(root > 0, root, 1.0), 0.0)
    outside = max(float(y @ y) - float(z @ z), 0.0)
    cutoff = (pinv_rcond(max(n, theta.size)) ** 2) * float(theta.max(initial=0.0))
    out = spectral_path(theta, z, shifts, cutoff, n, outside, n - theta.size, "K_{<=l}")
    V = DV / np.sqrt(model.column_eigenvalues)[:, None]
    a = (out["g"] * (root * z)[None, :]) @ V.T  # coefficients on Phi = F D^{1/2}, (L, r)
    pred = None
    if X_test is not None:
        w = a * np.sqrt(model.column_eigenvalues)[None, :]
        pred = HarmonicFeatures(X_test, model.degrees).matmat(w.T).T
    return RidgePath(lam, a, out["train_error"], out["norm"], out["dof"], out["gcv"], pred, "primal",
                     out["rank"])
