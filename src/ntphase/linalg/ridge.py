"""Ridge regression: whole ``lambda`` paths, Cholesky solves, minimum-norm interpolation.

Pure linear algebra on kernel matrices ``K`` (dual, ``n x n``) or feature
matrices ``Phi`` (primal, ``n x p``); nothing here knows about activations or
the sphere (docs/theory.md, section 5).

Convention (``docs/internals.md``): the ridge ``lambda`` is in kernel units,

    f_hat(x) = K(x, X) (K + lambda I)^{-1} y,
    a_hat    = argmin_a sum_i (y_i - <a, phi(x_i)>)^2 + lambda ||a||^2
             = (Phi^T Phi + lambda I)^{-1} Phi^T y = Phi^T (K + lambda I)^{-1} y,

so the dual coefficient is ``alpha = (K + lambda I)^{-1} y`` and
``a_hat = Phi^T alpha``. ``lambda = 0`` is the minimum-norm interpolator
``alpha = K^+ y`` (``a_hat = Phi^+ y``), the ``lambda -> 0+`` limit of the
fitted values and of ``a_hat``.

Numerically zero eigenvalues
----------------------------
Along a path, an eigen-direction of ``K + lambda I`` with
``|e_i + lambda| <= rcond * max_j |e_j|`` is treated as exactly singular and
dropped (pseudo-inverse), with a :class:`scipy.linalg.LinAlgWarning` giving the
condition number. The default ``rcond = n * eps`` (:func:`pinv_rcond`) is the
size of the rounding error of the computed eigenvalues: ``eigh`` is backward
stable, so by Weyl's inequality every computed eigenvalue is within a modest
multiple of ``eps * ||K||_2`` of an exact one, and ``n * eps * ||K||_2`` is the
customary bound (``numpy.linalg.matrix_rank``, ``scipy.linalg.pinvh``).
Below it the sign and size of an eigenvalue are rounding noise and ``1/e`` would
amplify noise. In the primal the same rule is applied to singular values of
``Phi`` (``s_i <= rcond * s_max``, default ``max(n, p) * eps``), which are
computed to that absolute accuracy directly (no squaring of the condition number).

Layout
------
Input checks and the cutoff :func:`pinv_rcond` come first, then the path
arithmetic in an eigenbasis (:func:`spectral_path`, shared by the dual and
primal routes), then the public solvers. The symmetry tolerance is
``SYMMETRY_RTOL`` of :mod:`ntphase.conventions`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import array_api_compat
import numpy as np
import scipy.linalg
from scipy.linalg import LinAlgWarning

from ntphase._util.arrays import from_numpy, to_numpy
from ntphase._util.backend import float64_math, offload
from ntphase._util.memory import check_memory
from ntphase._util.validation import check_float, check_matrix, check_vector
from ntphase.conventions import SYMMETRY_RTOL
from ntphase.linalg.array_api import eigh_xp, is_device_array, solve_ridge_xp

__all__ = [
    "RidgePath",
    "RidgeSolution",
    "min_norm_interpolator",
    "pinv_rcond",
    "primal_ridge_path",
    "ridge_path",
    "ridge_path_auto",
    "solve_ridge",
]


# --------------------------------------------------------------------------- input checks
_EPS = float(np.finfo(np.float64).eps)

def pinv_rcond(size: int) -> float:
    """Default relative cutoff for numerically zero eigenvalues: ``size * eps``.

    ``size`` is ``n`` for the eigenvalues of an ``n x n`` kernel matrix and
    ``max(n, p)`` for the singular values of an ``n x p`` feature matrix: the
    rounding error of backward-stable ``eigh``/``svd`` relative to the largest
    eigenvalue (singular value) is a modest multiple of ``eps``, and ``size * eps``
    is the customary bound (``numpy.linalg.matrix_rank``).
    """
    return float(size) * _EPS


def as_float64_matrix(name: str, A: Any, ncols: int | None = None) -> np.ndarray:
    """Validated float64 NumPy copy-free view of a 2-D finite array of any array library."""
    A = check_matrix(name, A, ncols=ncols)
    if not isinstance(A, np.ndarray):
        A = to_numpy(A)
    return np.asarray(A, dtype=np.float64)


def check_kernel(name: str, K: Any) -> np.ndarray:
    """Square, finite, symmetric float64 matrix; returns a symmetrized copy."""
    K = as_float64_matrix(name, K)
    n, m = K.shape
    if n != m:
        raise ValueError(f"{name} must be a square n x n kernel matrix, got shape {(n, m)}")
    scale = float(np.max(np.abs(K)))
    asym = float(np.max(np.abs(K - K.T)))
    if asym > SYMMETRY_RTOL * scale:
        raise ValueError(
            f"{name} must be symmetric (max|K - K^T| <= {SYMMETRY_RTOL:g} * max|K|), "
            f"got max|K - K^T| = {asym:.3e} with max|K| = {scale:.3e}; "
            "pass the training kernel K(X, X), not a cross kernel"
        )
    return (K + K.T) * 0.5


def check_lambdas(lambdas: Any) -> np.ndarray:
    """Non-empty 1-D float64 copy of finite ridges ``>= 0`` (a scalar becomes shape (1,))."""
    try:
        lam = np.asarray(lambdas, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(
            f"lambdas must be a real number or a 1-D sequence of real numbers, got {lambdas!r}"
        ) from None
    if lam.ndim == 0:
        lam = lam.reshape(1)
    if lam.ndim != 1 or lam.size == 0:
        raise ValueError(f"lambdas must be a non-empty 1-D sequence, got shape {lam.shape}")
    if not np.all(np.isfinite(lam)):
        raise ValueError(f"lambdas must be finite, got {lam.tolist()}")
    if np.any(lam < 0):
        raise ValueError(f"lambdas must all be >= 0, got {lam.tolist()}")
    return lam.copy()


def check_rcond(rcond: Any, size: int) -> float:
    """``rcond`` if given (a float ``>= 0``), else :func:`pinv_rcond` of ``size``."""
    if rcond is None:
        return pinv_rcond(size)
    return check_float("rcond", rcond, minimum=0.0)


# --------------------------------------------------------------------------- path arithmetic
def spectral_path(
    e: np.ndarray,
    z: np.ndarray,
    lam: np.ndarray,
    cutoff: float,
    n: int,
    outside: float,
    n_outside: int,
    what: str,
    e_raw: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Path quantities in an eigenbasis of the hat matrix.

    ``e``: eigenvalues of ``K`` restricted to the basis (``r``), ``z`` the
    coordinates of ``y`` in it; ``outside = ||y - proj y||^2`` over the
    ``n_outside`` directions not in the basis (hat eigenvalue 0 there).
    Returns ``g`` (L, r) = ``1/(e + lambda)`` or 0 where dropped, and the path.
    ``e_raw``: the computed eigenvalues before zeroing rounding noise, for the
    condition number in the warning.
    """
    shift = e[None, :] + lam[:, None]  # (L, r)
    keep = np.abs(shift) > cutoff
    with np.errstate(divide="ignore", invalid="ignore"):
        g = np.where(keep, 1.0 / np.where(keep, shift, 1.0), 0.0)
    # residual factor 1 - e g: written as lambda g on kept directions (no cancellation
    # when lambda << e), 1 on dropped ones.
    s = np.where(keep, lam[:, None] * g, 1.0)
    rss = outside + np.sum((s * z[None, :]) ** 2, axis=1)
    w = g * z[None, :]
    norm = np.sum(e[None, :] * w**2, axis=1)
    dof = np.sum(np.where(keep, e[None, :] * g, 0.0), axis=1)
    n_minus_dof = n_outside + np.sum(s, axis=1)  # tr(I - A), computed without cancellation
    with np.errstate(divide="ignore", invalid="ignore"):
        gcv = n * rss / n_minus_dof**2
        # lambda = 0 with everything kept and nothing outside: s == 0 exactly; use
        # the finite lambda -> 0+ limit n sum z^2 g^2 / (sum g)^2.
        limit = n * np.sum(w**2, axis=1) / np.sum(g, axis=1) ** 2
    gcv = np.where(n_minus_dof == 0, limit, gcv)
    rank = keep.sum(axis=1)

    dropped = rank < e.size
    if np.any(dropped):
        e_cond = e if e_raw is None else e_raw
        abs_e = np.abs(e_cond)
        i = int(np.flatnonzero(dropped)[0])
        smallest = float(np.min(np.abs(e_cond + lam[i])))
        cond = float((abs_e.max() + lam[i]) / smallest) if smallest > 0 else np.inf
        warnings.warn(
            f"{what} + lambda I is numerically singular for lambda in "
            f"{lam[dropped].tolist()}: condition number {cond:.3e} at lambda = {lam[i]:g} "
            f"exceeds max|e|/cutoff = {abs_e.max() / cutoff if cutoff > 0 else np.inf:.3e}; "
            f"{e.size - int(rank[i])} of {e.size} eigen-directions with "
            f"|e + lambda| <= {cutoff:.3e} were dropped (pseudo-inverse, minimum-norm solution)",
            LinAlgWarning,
            stacklevel=3,
        )
    return {
        "g": g,
        "w": w,
        "train_error": rss / n,
        "norm": norm,
        "dof": dof,
        "gcv": gcv,
        "rank": rank,
    }


# --------------------------------------------------------------------------- results


@dataclass(frozen=True, eq=False)
class RidgeSolution:
    """One point of a :class:`RidgePath` (the values at one ``lambda``)."""

    ridge: float
    coef: np.ndarray
    train_error: float
    norm: float
    dof: float
    gcv: float
    predictions_test: np.ndarray | None
    space: str
    rank: int


@dataclass(frozen=True, eq=False)
class RidgePath:
    """Ridge regression solved for a whole path of ridges ``lambdas``.

    Attributes
    ----------
    lambdas : ndarray, shape (L,)
        The ridges, in the order given (kernel units, ``K + lambda I``).
    coef : ndarray, shape (L, n) or (L, p)
        Dual coefficients ``alpha = (K + lambda I)^+ y`` (``space == "dual"``) or
        feature-space coefficients ``a = (Phi^T Phi + lambda I)^+ Phi^T y``
        (``space == "primal"``).
    train_error : ndarray, shape (L,)
        ``mean_i (y_i - f_hat(x_i))^2``.
    norm : ndarray, shape (L,)
        Squared RKHS norm ``alpha^T K alpha`` = ``||a||^2`` (the same number in
        both spaces, since ``a = Phi^T alpha``).
    dof : ndarray, shape (L,)
        Effective degrees of freedom ``tr A = sum_i e_i / (e_i + lambda)``,
        ``A = K (K + lambda I)^+`` the hat matrix (dropped directions count 0).
    gcv : ndarray, shape (L,)
        Generalized cross-validation (Golub, Heath & Wahba 1979)
        ``n * RSS / (n - dof)^2 = mean residual^2 / (1 - dof/n)^2``. Where
        ``n - dof = 0`` (``lambda = 0`` with ``K`` invertible) the value is the
        ``lambda -> 0+`` limit ``n * sum_i z_i^2/e_i^2 / (sum_i 1/e_i)^2``
        (``z = U^T y``), which is finite.
    predictions_test : ndarray, shape (L, n_test), or None
        ``K_test alpha`` (or ``Phi_test a``) when test inputs were given.
    space : {"dual", "primal"}
        Which coefficients ``coef`` holds.
    rank : ndarray of int, shape (L,)
        Number of eigen-directions kept (not dropped as numerically zero).
    solver : str
        What solved it: ``"direct"`` (a factorization), or the matrix-free solver
        (``"cg+harmonic"``, ``"cg+nystrom"``, ``"multishift-cg"``, ...).
    n_iter : ndarray of int, shape (L,), or None
        Iterations per ``lambda`` of a matrix-free solve (None for a direct one).
    residual : ndarray, shape (L,), or None
        Final true relative residual per ``lambda`` of a matrix-free solve.
    """

    lambdas: np.ndarray
    coef: np.ndarray
    train_error: np.ndarray
    norm: np.ndarray
    dof: np.ndarray
    gcv: np.ndarray
    predictions_test: np.ndarray | None = None
    space: str = "dual"
    rank: np.ndarray | None = None
    solver: str = "direct"
    n_iter: np.ndarray | None = None
    residual: np.ndarray | None = None

    def predict(self, K_test: Any) -> np.ndarray:
        """Predictions ``K_test @ coef.T`` for every ``lambda``, shape ``(L, n_test)``.

        ``K_test`` is the cross kernel ``K(X_test, X)`` (``n_test x n``) for a dual
        path, or the test features ``Phi_test`` (``n_test x p``) for a primal one.
        Cost ``O(L n_test n)``.
        """
        name = "K_test" if self.space == "dual" else "Phi_test"
        K_test = as_float64_matrix(name, K_test, ncols=self.coef.shape[1])
        return self.coef @ K_test.T

    def at(self, ridge: float) -> RidgeSolution:
        """The solution at one ``lambda`` of the path (matched to 1e-12 relative)."""
        ridge = check_float("ridge", ridge, minimum=0.0)
        hits = np.flatnonzero(np.isclose(self.lambdas, ridge, rtol=1e-12, atol=0.0))
        if hits.size == 0:
            raise ValueError(
                f"ridge must be one of the path's lambdas {self.lambdas.tolist()}, got {ridge}"
            )
        i = int(hits[0])
        return RidgeSolution(
            ridge=float(self.lambdas[i]),
            coef=self.coef[i],
            train_error=float(self.train_error[i]),
            norm=float(self.norm[i]),
            dof=float(self.dof[i]),
            gcv=float(self.gcv[i]),
            predictions_test=None if self.predictions_test is None else self.predictions_test[i],
            space=self.space,
            rank=int(self.rank[i]) if self.rank is not None else -1,
        )


# --------------------------------------------------------------------------- core


def _check_path_inputs(
    y: Any, lambdas: Any, test_name: str, test: Any, rcond: Any, *, n: int, ncols: int, rcond_size: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, float, int]:
    """Checked ``y`` (length ``n``), ridges, test matrix (``ncols`` columns), ``rcond``, ``n_test``.

    Shared by both routes, in this order (so the first bad argument is the one
    named); ``rcond_size`` is what the default ``rcond = rcond_size * eps`` counts.
    """
    y = check_vector("y", y, length=n)
    lam = check_lambdas(lambdas)
    if test is not None:
        test = as_float64_matrix(test_name, test, ncols=ncols)
    rcond = check_rcond(rcond, rcond_size)
    n_test = 0 if test is None else test.shape[0]
    return y, lam, test, rcond, n_test


def _path_result(
    lam: np.ndarray, coef: np.ndarray, out: dict[str, np.ndarray], test: np.ndarray | None, space: str
) -> RidgePath:
    """The :class:`RidgePath` of :func:`spectral_path` output ``out``, predictions ``coef @ test.T``."""
    return RidgePath(
        lambdas=lam,
        coef=coef,
        train_error=out["train_error"],
        norm=out["norm"],
        dof=out["dof"],
        gcv=out["gcv"],
        predictions_test=None if test is None else coef @ test.T,
        space=space,
        rank=out["rank"],
    )


def ridge_path(
    K: Any,
    y: Any,
    lambdas: Any,
    K_test: Any = None,
    *,
    rcond: float | None = None,
) -> RidgePath:
    """Kernel ridge regression for a whole path of ridges, from one eigendecomposition.

    With ``K = U diag(e) U^T`` (``scipy.linalg.eigh``, float64) and ``z = U^T y``,
    for every ``lambda``:

    - ``alpha = U diag(1/(e + lambda)) z`` (dual coefficients),
    - ``train_error = mean (y - K alpha)^2 = (1/n) sum_i (lambda z_i/(e_i + lambda))^2``,
    - ``norm = alpha^T K alpha = sum_i e_i z_i^2/(e_i + lambda)^2``,
    - ``dof = sum_i e_i/(e_i + lambda)``, ``gcv = n RSS/(n - dof)^2``
      (see :class:`RidgePath`),
    - predictions ``K_test alpha`` if ``K_test`` is given.

    Directions with ``|e_i + lambda| <= rcond * max|e|`` are dropped
    (pseudo-inverse); ``lambda = 0`` is thus the minimum-norm interpolator
    ``K^+ y``. A :class:`scipy.linalg.LinAlgWarning` with the condition number
    is raised when anything is dropped.

    Parameters
    ----------
    K : array, shape (n, n)
        Symmetric positive semidefinite kernel matrix on the training points.
    y : array, shape (n,)
        Responses.
    lambdas : float or array, shape (L,)
        Ridges ``>= 0`` (kernel units), any order.
    K_test : array, shape (n_test, n), optional
        Cross kernel ``K(X_test, X)``.
    rcond : float, optional
        Relative cutoff for numerically zero eigenvalues; default
        ``n * eps`` (:func:`pinv_rcond`; see the module docstring).

    Returns
    -------
    RidgePath
        ``space == "dual"``, ``coef`` of shape ``(L, n)``; NumPy arrays whatever
        the input. A PyTorch, CuPy or JAX ``K`` (or a NumPy ``K`` inside
        :func:`ntphase.kernels.use_device`) is diagonalized on its device
        (``xp.linalg.eigh`` at float64, :func:`ntphase.linalg.array_api.eigh_xp`),
        ``U^T y`` and ``w U^T`` are computed there; the path arithmetic in the
        eigenbasis (``O(L n)``) runs on the host.

    Notes
    -----
    Cost: ``O(n^3)`` for the eigendecomposition, then ``O(L n^2)`` for the
    coefficients (no solve per ``lambda``) and ``O(L n n_test)`` for predictions.
    Memory about ``3 n^2 + L n`` floats; refused up front if it would not fit.

    Examples
    --------
    >>> import numpy as np
    >>> K = np.array([[2.0, 1.0], [1.0, 2.0]])
    >>> path = ridge_path(K, np.array([1.0, 0.0]), [0.0, 1.0])
    >>> np.allclose(path.coef[1], np.linalg.solve(K + np.eye(2), [1.0, 0.0]))
    True
    >>> float(path.train_error[0]) < 1e-30
    True
    """
    moved = offload(K)
    if moved is not None:  # inside use_device(...): the eigendecomposition on the device
        K = moved[1][0]
    if is_device_array(K):
        return _ridge_path_device(K, y, lambdas, K_test, rcond)
    K = check_kernel("K", K)
    n = K.shape[0]
    y, lam, K_test, rcond, n_test = _check_path_inputs(
        y, lambdas, "K_test", K_test, rcond, n=n, ncols=n, rcond_size=n
    )
    check_memory(
        8.0 * (3 * n * n + 3 * lam.size * n + lam.size * n_test),
        f"ridge path on a kernel of shape ({n}, {n}) with {lam.size} ridges",
        hint="use the primal route (primal_ridge_path) when there are fewer features than samples",
    )
    e, U = scipy.linalg.eigh(K, overwrite_a=True, check_finite=False)
    z = U.T @ y
    return _eigen_path(e, z, lambda w: w @ U.T, lam, K_test, rcond)


def _ridge_path_device(K: Any, y: Any, lambdas: Any, K_test: Any, rcond: float | None) -> RidgePath:
    """:func:`ridge_path` with ``xp.linalg.eigh`` on ``K``'s device; the path arithmetic on the host."""
    e_d, U = eigh_xp(K)
    xp = array_api_compat.array_namespace(U)
    n = int(U.shape[0])
    y, lam, K_test, rcond, _ = _check_path_inputs(
        to_numpy(y) if is_device_array(y) else y, lambdas, "K_test", K_test, rcond, n=n, ncols=n, rcond_size=n
    )
    with float64_math(xp):
        z = np.asarray(to_numpy(xp.matmul(from_numpy(y, xp, U), U)), dtype=np.float64)  # U^T y
        e = np.asarray(to_numpy(e_d), dtype=np.float64)

        def coef(w: np.ndarray) -> np.ndarray:
            W = from_numpy(np.ascontiguousarray(w), xp, U)
            return np.asarray(to_numpy(xp.matmul(W, xp.permute_dims(U, (1, 0)))), dtype=np.float64)

        return _eigen_path(e, z, coef, lam, K_test, rcond)


def _eigen_path(
    e: np.ndarray, z: np.ndarray, coef: Any, lam: np.ndarray, K_test: np.ndarray | None, rcond: float
) -> RidgePath:
    """The dual :class:`RidgePath` from ``K = U diag(e) U^T``, ``z = U^T y``; ``coef(w) = w U^T``."""
    n = e.size
    scale = float(np.max(np.abs(e))) if n else 0.0
    cutoff = rcond * scale
    if e[0] < -cutoff:
        warnings.warn(
            f"K is not positive semidefinite: smallest eigenvalue {e[0]:.3e} < -{cutoff:.3e} "
            "(rcond * max|e|); a kernel matrix should be PSD. Solving (K + lambda I) alpha = y anyway",
            LinAlgWarning,
            stacklevel=3,
        )
    # Eigenvalues within rounding noise of 0 are 0: keeps norm and dof exact on a
    # singular K (e.g. K = Phi Phi^T with p < n) at small lambda > 0.
    e_raw = e
    e = np.where(np.abs(e) <= cutoff, 0.0, e)
    out = spectral_path(e, z, lam, cutoff, n, 0.0, 0, "K", e_raw)
    return _path_result(lam, coef(out["w"]), out, K_test, "dual")


def _thin_svd(Phi: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    try:
        return scipy.linalg.svd(Phi, full_matrices=False, check_finite=False, lapack_driver="gesdd")
    except np.linalg.LinAlgError:  # gesdd can fail to converge where gesvd does not
        warnings.warn(
            "SVD driver gesdd did not converge; retrying with gesvd", LinAlgWarning, stacklevel=3
        )
        return scipy.linalg.svd(Phi, full_matrices=False, check_finite=False, lapack_driver="gesvd")


def primal_ridge_path(
    Phi: Any,
    y: Any,
    lambdas: Any,
    Phi_test: Any = None,
    *,
    rcond: float | None = None,
) -> RidgePath:
    """Ridge regression in feature space for a whole path, from one thin SVD of ``Phi``.

    With ``Phi = V diag(s) W^T`` (thin SVD, ``r = min(n, p)`` singular values) and
    ``z = V^T y``: ``a = W diag(s/(s^2 + lambda)) z``, the minimizer of
    ``||y - Phi a||^2 + lambda ||a||^2``; fitted values, training error, norm
    ``||a||^2``, ``dof = sum s^2/(s^2 + lambda)`` and GCV as in :func:`ridge_path`
    (the kernel ``K = Phi Phi^T`` has eigenvalues ``s^2`` and ``n - r`` zeros).
    Predictions ``Phi_test a`` equal the dual ones ``K(X_test, X) alpha``.

    Use it when ``p < n`` (``N d < n`` for the NT model): it never forms an
    ``n x n`` matrix. ``lambda = 0`` gives the minimum-norm least-squares solution
    ``Phi^+ y`` (singular values ``s <= rcond * s_max`` dropped, with a warning).

    Parameters
    ----------
    Phi : array, shape (n, p)
        Feature matrix of the training points.
    y : array, shape (n,)
    lambdas : float or array, shape (L,)
        Ridges ``>= 0``.
    Phi_test : array, shape (n_test, p), optional
    rcond : float, optional
        Relative cutoff on singular values; default ``max(n, p) * eps``
        (the ``numpy.linalg.matrix_rank`` convention). A direction is dropped when
        ``s_i^2 + lambda <= (rcond * s_max)^2``.

    Returns
    -------
    RidgePath
        ``space == "primal"``, ``coef`` of shape ``(L, p)``.

    Notes
    -----
    Cost ``O(n p min(n, p))`` for the SVD, ``O(L p r)`` for the coefficients;
    memory about ``2 n p + p^2`` floats. The SVD is used rather than the Gram
    matrix ``Phi^T Phi`` so that small singular values are not squared before
    they are computed.
    """
    Phi = as_float64_matrix("Phi", Phi)
    n, p = Phi.shape
    y, lam, Phi_test, rcond, n_test = _check_path_inputs(
        y, lambdas, "Phi_test", Phi_test, rcond, n=n, ncols=p, rcond_size=max(n, p)
    )
    r = min(n, p)
    check_memory(
        8.0 * (2 * n * p + r * p + 3 * lam.size * r + lam.size * (p + n_test)),
        f"primal ridge path on features of shape ({n}, {p}) with {lam.size} ridges",
        hint="use the dual route (ridge_path on the kernel) when there are more features than samples",
    )
    V, s, Wt = _thin_svd(Phi)
    z = V.T @ y
    outside = float(np.sum((y - V @ z) ** 2)) if r < n else 0.0
    s_max = float(s[0]) if r else 0.0
    cutoff = (rcond * s_max) ** 2
    out = spectral_path(s**2, z, lam, cutoff, n, outside, n - r, "Phi^T Phi")
    # a = W diag(s g) z : feature-space coefficients, (L, p)
    return _path_result(lam, (out["g"] * (s * z)[None, :]) @ Wt, out, Phi_test, "primal")


def ridge_path_auto(
    Phi: Any,
    y: Any,
    lambdas: Any,
    Phi_test: Any = None,
    *,
    rcond: float | None = None,
) -> RidgePath:
    """Ridge path from features, on the smaller side: primal if ``p < n``, else dual.

    Primal: :func:`primal_ridge_path` (thin SVD of ``Phi``). Dual: the kernel
    ``K = Phi Phi^T`` (``n x n``) and :func:`ridge_path`, with
    ``K_test = Phi_test Phi^T``. Both give the same predictions, training
    errors, norms, dof and GCV; ``RidgePath.space`` says which ``coef`` holds.
    Cost ``O(n p min(n, p))``.
    """
    Phi = as_float64_matrix("Phi", Phi)
    n, p = Phi.shape
    if p < n:
        return primal_ridge_path(Phi, y, lambdas, Phi_test, rcond=rcond)
    K = Phi @ Phi.T
    K_test = None
    if Phi_test is not None:
        K_test = as_float64_matrix("Phi_test", Phi_test, ncols=p) @ Phi.T
    return ridge_path(K, y, lambdas, K_test, rcond=rcond)


def solve_ridge(K: Any, y: Any, ridge: float, *, rcond: float | None = None) -> np.ndarray:
    """Dual coefficients ``alpha = (K + ridge I)^{-1} y`` by Cholesky.

    ``scipy.linalg.cho_factor`` on ``K + ridge I``, then LAPACK ``pocon`` estimates
    the reciprocal condition number. If the factorization fails (not positive
    definite) or the estimate is ``<= rcond`` (default ``n * eps``), a
    :class:`scipy.linalg.LinAlgWarning` with the condition number is raised and the
    eigendecomposition pseudo-inverse is used instead (:func:`ridge_path` at this
    single ridge: numerically zero directions dropped, the minimum-norm solution).
    ``ridge = 0`` is allowed (interpolation).

    Parameters
    ----------
    K : array, shape (n, n)
        Symmetric kernel matrix.
    y : array, shape (n,)
    ridge : float
        ``>= 0``, kernel units.
    rcond : float, optional

    Returns
    -------
    ndarray, shape (n,)
        Same array type and device as ``K`` (PyTorch, CuPy, JAX: solved there by
        :func:`ntphase.linalg.array_api.solve_ridge_xp`, Cholesky with
        ``xp.linalg``, host fallback when ill-conditioned); NumPy inside
        :func:`ntphase.kernels.use_device` (solved on that device).

    Notes
    -----
    Cost ``n^3/3`` flops (Cholesky) plus ``O(n^2)``; ``O(n^3)`` more on fallback.

    Examples
    --------
    >>> import numpy as np
    >>> K = np.array([[2.0, 1.0], [1.0, 2.0]])
    >>> np.allclose(solve_ridge(K, [1.0, 2.0], 0.5), np.linalg.solve(K + 0.5 * np.eye(2), [1.0, 2.0]))
    True
    """
    moved = offload(K, y)
    if moved is not None:  # inside use_device(...): solve on the device, return NumPy
        backend, (Kd, yd) = moved
        return to_numpy(solve_ridge(Kd, yd, ridge, rcond=rcond))
    if is_device_array(K):
        ridge = check_float("ridge", ridge, minimum=0.0)
        return solve_ridge_xp(K, y, ridge, check_rcond(rcond, K.shape[0]), solve_ridge)
    K = check_kernel("K", K)
    n = K.shape[0]
    y = check_vector("y", y, length=n)
    ridge = check_float("ridge", ridge, minimum=0.0)
    rcond = check_rcond(rcond, n)
    A = K.copy()
    A[np.diag_indices(n)] += ridge
    anorm = float(np.max(np.sum(np.abs(A), axis=0)))  # 1-norm, for pocon
    try:
        c, lower = scipy.linalg.cho_factor(A, lower=False, overwrite_a=True, check_finite=False)
    except np.linalg.LinAlgError:
        shifted = scipy.linalg.eigvalsh(K, check_finite=False) + ridge
        smallest = float(np.min(np.abs(shifted)))
        cond = float(np.max(np.abs(shifted)) / smallest) if smallest > 0 else np.inf
        reason = (
            f"K + ridge I is not positive definite (Cholesky failed; smallest eigenvalue "
            f"{shifted[0]:.3e}, condition number {cond:.3e})"
        )
    else:
        rc, info = scipy.linalg.lapack.dpocon(c, anorm, uplo="U")
        if info == 0 and rc > rcond:
            return scipy.linalg.cho_solve((c, lower), y, check_finite=False)
        reason = (
            f"K + ridge I is ill-conditioned: estimated condition number {1.0 / rc:.3e} "
            f"exceeds 1/rcond = {1.0 / rcond:.3e}"
            if rc > 0
            else "K + ridge I is singular to working precision (condition number inf)"
        )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        path = ridge_path(K, y, [ridge], rcond=rcond)
    e_detail = "; ".join(str(w.message) for w in caught)
    warnings.warn(
        f"solve_ridge(ridge={ridge:g}): {reason}; falling back to the eigendecomposition "
        f"pseudo-inverse" + (f" ({e_detail})" if e_detail else " (no eigenvalue dropped)"),
        LinAlgWarning,
        stacklevel=2,
    )
    return path.coef[0]


def min_norm_interpolator(K: Any, y: Any, *, rcond: float | None = None) -> np.ndarray:
    """Dual coefficients of the minimum-norm interpolator, ``alpha = K^+ y``.

    The ``lambda -> 0+`` limit of kernel ridge regression: for invertible ``K``
    it interpolates (``K alpha = y``); otherwise ``K alpha`` is the projection of
    ``y`` on the range of ``K`` and the NT coefficients ``a = Phi^T alpha`` are
    the minimum-norm least-squares solution ``Phi^+ y``. Eigenvalues
    ``|e| <= rcond * max|e|`` (default ``n * eps``) are dropped with a warning
    giving the condition number. Cost ``O(n^3)`` (one ``eigh``).
    """
    return ridge_path(K, y, [0.0], rcond=rcond).coef[0]
