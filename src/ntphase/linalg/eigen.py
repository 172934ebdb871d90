"""Spectra of NT kernels: all eigenvalues, the smallest one, the top ones, spike groups.

``lambda_min`` decides the memorization threshold (docs/theory.md, section 4): it is
``> 0`` iff ``K_N`` is invertible, and ``0`` (up to rounding) when ``N d < n``.
It is computed densely (``scipy.linalg.eigvalsh`` with an index subset) or
matrix-free (thick-restart Lanczos or SciPy's LOBPCG on any ``LinearOperator``,
in particular :class:`ntphase.kernels.operator.NTKernelOperator`), chosen by a cost
model (:func:`choose_method`). The matrix-free solvers and the cost model
are in :mod:`ntphase.linalg.lanczos`. Every function takes a matrix or any
SciPy ``LinearOperator``; to work on ``K_N`` without forming it, pass
``NTKernelOperator(X, W, activation)``.

Accuracy of the matrix-free ``lambda_min``
------------------------------------------
The returned Ritz value ``theta`` is a Rayleigh quotient, so
``theta >= lambda_min`` always; the solver stops when the residual of its
unit Ritz vector ``u`` satisfies ``||K u - theta u|| <= tol * scale``, where
``scale`` is an estimate of ``lambda_max`` from below (Lanczos: the largest
Ritz value seen; LOBPCG: a power-iteration Rayleigh quotient; see
:class:`LambdaMinResult`). Since some eigenvalue lies within the residual of
``theta`` (Weyl / Bauer-Fike for symmetric matrices), and Krylov methods from a
random start find the smallest one, ``0 <= theta - lambda_min <= residual``;
for an isolated eigenvalue the error is even ``residual^2 / gap``. The
default ``tol = 1e-10`` therefore gives an absolute error below
``1e-10 lambda_max``, i.e. a relative error below ``1e-6`` whenever
``lambda_min >= 1e-4 lambda_max``; a singular ``K_N`` (``N d < n``) returns a
value below ``tol * scale`` (the absolute, ``lambda_max``-relative criterion
is what makes the singular case terminate). The residual actually reached is
returned in :class:`LambdaMinResult`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.linalg
from scipy.sparse import issparse
from scipy.sparse.linalg import LinearOperator, aslinearoperator, eigsh

from ntphase._util.arrays import to_numpy
from ntphase._util.backend import offload
from ntphase._util.memory import check_memory, fits
from ntphase._util.random import as_generator
from ntphase._util.validation import check_choice, check_float, check_int
from ntphase.conventions import SYMMETRY_RTOL, XI_ZERO_RTOL
from ntphase.linalg.array_api import eigenvalues_xp, is_device_array
from ntphase.linalg.lanczos import (
    AUTO_DENSE_MIN_N,
    DAVIDSON_PRODUCT_RATIO,
    choose,
    davidson_min,
    dense_eig_bytes,
    lanczos_min,
    lobpcg_min,
)

__all__ = [
    "LambdaMinResult",
    "eigenvalues",
    "lambda_min",
    "top_eigenvalues",
    "spike_groups",
    "choose_method",
    "DEFAULT_TOL",
]

#: Default residual tolerance, relative to the ``lambda_max`` estimate.
DEFAULT_TOL = 1e-10

#: ARPACK ``ncv`` for :func:`top_eigenvalues`.
LANCZOS_NCV = 64

#: Default LOBPCG block size (measured: larger blocks stagnate without a
#: preconditioner, since every block vector must meet the tolerance).
LOBPCG_BLOCK = 1

_METHODS = ("auto", "dense", "lanczos", "lobpcg", "davidson")


@dataclass(frozen=True)
class LambdaMinResult:
    """Smallest eigenvalue with how it was obtained.

    Attributes
    ----------
    value : float
        The smallest eigenvalue (matrix-free: a Ritz value, ``>= lambda_min``).
    method : str
        ``"dense"``, ``"lanczos"``, ``"lobpcg"`` or ``"davidson"``.
    matvecs : int
        Number of operator-vector products (0 for the dense solver).
    residual_norm : float
        ``||K u - value u||`` for the unit Ritz vector ``u`` (matrix-free);
        ``nan`` for the dense solver.
    error_bound : float
        Bound on ``value - lambda_min``: the residual norm (matrix-free), or
        ``n * eps * scale`` (dense, backward-stable eigensolver).
    scale : float
        Estimate of ``lambda_max`` that scales the tolerance (``nan`` for dense
        unless known).
    converged : bool
        Whether the solver met its tolerance.
    iterations : int
        Solver steps (Davidson expansions; for the other methods the products,
        0 for dense).
    """

    value: float
    method: str
    matvecs: int
    residual_norm: float
    error_bound: float
    scale: float
    converged: bool = True
    iterations: int = 0

    def __float__(self) -> float:
        return float(self.value)


# ---------------------------------------------------------------------------
# operands
# ---------------------------------------------------------------------------


def _operand(K: Any) -> tuple[str, Any]:
    """Classify ``K``: ``("dense", ndarray)`` or ``("operator", LinearOperator)``."""
    if isinstance(K, LinearOperator):
        _check_square(K.shape)
        return "operator", K
    if issparse(K):
        _check_square(K.shape)
        return "operator", aslinearoperator(K)
    if hasattr(K, "shape") or isinstance(K, (list, np.ndarray)):
        A = np.asarray(K)
        if A.ndim != 2:
            raise ValueError(f"K must be a square 2-D matrix, got shape {A.shape}")
        _check_square(A.shape)
        if not (np.issubdtype(A.dtype, np.floating) or np.issubdtype(A.dtype, np.integer)):
            raise TypeError(f"K must have a real numeric dtype, got {A.dtype}")
        A = np.asarray(A, dtype=np.float64)
        if not np.all(np.isfinite(A)):
            raise ValueError("K must contain only finite values (found NaN or inf)")
        return "dense", A
    raise TypeError(
        "K must be a square matrix (ndarray) or a scipy LinearOperator / sparse matrix "
        f"(for K_N without forming it: NTKernelOperator(X, W, activation)); got {type(K).__name__}"
    )


def _check_square(shape: tuple[int, ...]) -> None:
    if len(shape) != 2 or shape[0] != shape[1] or shape[0] < 1:
        raise ValueError(f"K must be a non-empty square matrix, got shape {tuple(shape)}")


def _to_dense(op: LinearOperator) -> np.ndarray:
    """Materialize an operator (NTKernelOperator: blocked syrk; otherwise ``op @ I`` in column blocks)."""
    n = op.shape[0]
    if hasattr(op, "todense") and hasattr(op, "dense_bytes"):
        check_memory(op.dense_bytes(), f"dense K of shape ({n}, {n})",
                     "use method='lanczos' or 'lobpcg' (matrix-free)")
        return op.todense()
    check_memory(8.0 * n * n * 2, f"dense K of shape ({n}, {n})",
                 "use method='lanczos' or 'lobpcg' (matrix-free)")
    K = np.empty((n, n))
    step = max(1, min(n, 2**22 // max(n, 1)))
    for c0 in range(0, n, step):
        E = np.zeros((n, min(step, n - c0)))
        E[np.arange(c0, c0 + E.shape[1]), np.arange(E.shape[1])] = 1.0
        K[:, c0 : c0 + E.shape[1]] = op.matmat(E)
    return K


def _symmetric_dense(A: np.ndarray) -> np.ndarray:
    """Check (blockwise, relative ``SYMMETRY_RTOL`` of max |A|) that a dense matrix is symmetric."""
    n = A.shape[0]
    scale = float(np.max(np.abs(A))) if A.size else 0.0
    rows = max(1, 2**20 // max(n, 1))
    for r0 in range(0, n, rows):
        r1 = min(n, r0 + rows)
        if np.max(np.abs(A[r0:r1] - A[:, r0:r1].T), initial=0.0) > SYMMETRY_RTOL * max(scale, np.finfo(float).tiny):
            raise ValueError(f"K must be symmetric (|K - K^T| exceeds {SYMMETRY_RTOL:g} max|K|)")
    return A


# ---------------------------------------------------------------------------
# cost model
# ---------------------------------------------------------------------------


def choose_method(K: Any) -> str:
    """The method ``lambda_min(K, method="auto")`` uses, without computing anything.

    Rules (flop counts weighted by measured efficiencies, see module constants):

    * dense matrix: ``"dense"`` if ``n <= AUTO_DENSE_MIN_N``; otherwise the
      cheaper of ``(4/3) n^3 / DENSE_EIG_EFFICIENCY`` (tridiagonal reduction)
      and ``products(n) * 2 n^2 / DENSE_MATVEC_EFFICIENCY``;
      ``"lanczos"`` if the dense solver's copy does not fit in memory.
    * :class:`~ntphase.kernels.operator.NTKernelOperator` (or inputs
      ``(X, W, activation)``): dense costs the formation ``n^2 (N + d)`` plus the
      eigensolver, matrix-free costs ``products(n)`` products of
      ``op.matvec_flops() / MATRIX_FREE_EFFICIENCY``; dense only if ``K_N``
      fits in memory. (Measured at n = 8000, ``N d / n = 4``: matrix-free
      63 s vs dense 85 s, one core.)
    * any other operator: ``"lanczos"`` (``"dense"`` only for ``n <= 200``).
    """
    kind, A = _operand(K)
    return choose(kind, A)


# ---------------------------------------------------------------------------
# public functions
# ---------------------------------------------------------------------------


def eigenvalues(K: Any) -> np.ndarray:
    """All eigenvalues of a symmetric matrix, ascending, float64.

    Parameters
    ----------
    K : array_like (n, n) or NTKernelOperator
        Symmetric matrix (only the lower triangle is read) or an operator that
        can be formed densely (memory-checked).

    Returns
    -------
    ndarray, shape (n,)
        ``scipy.linalg.eigvalsh(K)``, ascending. Cost ``O(n^3)``, memory ``8 n^2``
        bytes for the working copy. A PyTorch/CuPy/JAX ``K``: ``xp.linalg.eigvalsh``
        on its device, same array type; NumPy ``K`` inside
        :func:`ntphase.kernels.use_device`: on that device, back as NumPy.

    Examples
    --------
    >>> import numpy as np
    >>> from ntphase.linalg.eigen import eigenvalues
    >>> eigenvalues(np.diag([3.0, 1.0, 2.0])).tolist()
    [1.0, 2.0, 3.0]
    """
    moved = offload(K)
    if moved is not None:  # inside use_device(...): on the device, back as NumPy
        return to_numpy(eigenvalues(moved[1][0]))
    if is_device_array(K):
        return eigenvalues_xp(K)
    kind, A = _operand(K)
    n = A.shape[0]
    if kind == "operator":
        A = _to_dense(A)
        check_memory(64.0 * n, "eigenvalue workspace")
        return scipy.linalg.eigvalsh(A, overwrite_a=True, check_finite=False)
    check_memory(dense_eig_bytes(n), f"eigvalsh of a ({n}, {n}) matrix",
                 "use lambda_min / top_eigenvalues (matrix-free) for a few eigenvalues")
    return scipy.linalg.eigvalsh(_symmetric_dense(A), check_finite=False)


def lambda_min(
    K: Any,
    method: str = "auto",
    tol: float = DEFAULT_TOL,
    rng: Any = None,
    maxiter: int | None = None,
    return_info: bool = False,
    block_size: int = LOBPCG_BLOCK,
    preconditioner: Any = None,
    progress: Callable[[int, float, float], None] | None = None,
) -> float | LambdaMinResult:
    r"""Smallest eigenvalue of a symmetric positive semi-definite kernel.

    Parameters
    ----------
    K : ndarray (n, n), LinearOperator or sparse matrix
        The kernel: a dense symmetric matrix, any symmetric ``LinearOperator``
        (e.g. :class:`~ntphase.kernels.NTKernelOperator`; it is formed densely
        only if that fits in memory and is cheaper).
    method : {"auto", "dense", "lanczos", "lobpcg"}
        ``"dense"``: ``scipy.linalg.eigvalsh(K, subset_by_index=[0, 0])``
        (``O(n^3)``, ``8 n^2`` bytes; an operator is formed first).
        ``"lanczos"``: thick-restart Lanczos with full reorthogonalization
        (basis of up to ``LANCZOS_BASIS`` vectors, ``8 n`` bytes each),
        stopping when the Ritz residual is ``<= tol * scale``, ``scale`` the
        largest Ritz value seen (a ``lambda_max``-relative test, so a singular
        ``K`` terminates). ``"lobpcg"``: ``scipy.sparse.linalg.lobpcg`` with
        ``block_size`` random start vectors and the absolute residual
        tolerance ``tol * c``, ``c`` a power-iteration estimate of
        ``lambda_max`` (measured 2-4x more products than Lanczos; it
        stagnates near ``tol = 1e-9`` without a preconditioner).
        ``"davidson"``: generalized Davidson whose basis grows by
        ``preconditioner`` applied to the Ritz residual
        (:func:`ntphase.linalg.lanczos.davidson_min`; requires ``preconditioner``).
        ``"auto"``: :func:`choose_method`; with a ``preconditioner``,
        ``"davidson"`` wherever that picks a matrix-free method (the cost
        model assumes ``DAVIDSON_PRODUCT_RATIO = 0.5`` of Lanczos' products,
        which pays when one application of the preconditioner costs less than a
        product with ``K``).
    tol : float
        Matrix-free residual tolerance relative to the ``lambda_max`` estimate:
        ``0 <= value - lambda_min <= ||K u - value u|| <= tol * scale`` (see the
        module docstring). Ignored by the dense solver (accurate to about
        ``n eps lambda_max``).
    rng : numpy.random.Generator, int or None
        Start vectors of the matrix-free solvers.
    maxiter : int, optional
        Cap on operator products (Lanczos, default ``max(20 n, 5000)``) or
        iterations (LOBPCG, default ``max(20 n, 5000) / block_size``).
    return_info : bool
        Return a :class:`LambdaMinResult` instead of a float.
    block_size : int
        LOBPCG block size; for ``"davidson"``, the number of smallest Ritz pairs
        whose preconditioned residuals extend the basis at each step, so that
        one product takes a block of ``block_size`` vectors (one pass over the
        data). More products in all, fewer passes: measured on the relu
        infinite kernel (n = 8,000, d = 100, harmonic level 2), blocks of 4-8
        need 1.5-2x fewer passes for 2.6-4x the products and 1.08-1.16x less
        time; larger blocks lose (docs/benchmarks.md). It can pay only where a
        pass, not the multiplication, dominates: a tiled kernel
        (:class:`~ntphase.kernels.InfiniteKernelOperator`), not ``K_N``'s
        operator, whose product cost is linear in the block.
    preconditioner : LinearOperator, optional
        Symmetric positive definite approximation of ``K^{-1}`` (or of
        ``(K - sigma I)^{-1}`` near the bottom of the spectrum), e.g.
        :func:`ntphase.learning.harmonic_preconditioner` with ridge 0 for a
        kernel on the sphere, whose spikes it inverts away. Measured with the
        harmonic one (relu, d = 20-50, n = 2,000-4,000): 1.5-3.8x fewer products
        than Lanczos (docs/benchmarks.md).

    progress : callable, optional
        ``progress(products, value, residual)``: called by ``"lanczos"`` at every
        Ritz check and by ``"davidson"`` after every pass, with the current
        smallest Ritz value and its residual estimate (for a long run at large
        ``n``; the dense solver and LOBPCG do not call it).

    Returns
    -------
    float or LambdaMinResult

    Notes
    -----
    Array-API matrices (PyTorch, CuPy, JAX): ``"auto"``/``"dense"`` run
    ``xp.linalg.eigvalsh`` on their device (all eigenvalues: the array API has
    no index subset); ``"lanczos"``/``"lobpcg"`` copy the matrix to the host.
    Inside :func:`ntphase.kernels.use_device`, a NumPy matrix with ``"auto"``
    or ``"dense"`` is computed on that device.
    Cost: dense ``O(n^3)``; matrix-free ``O(n N d)`` per product times the
    number of products (typically a few hundred for ``K_N`` near the lower edge
    of its spectrum; it grows as ``N d / n -> 1`` because the gap closes).
    If the solver does not converge, a ``RuntimeWarning`` is issued and the
    best Ritz value is returned with its residual (``converged=False``).

    Examples
    --------
    >>> import numpy as np
    >>> from ntphase.linalg.eigen import lambda_min
    >>> lambda_min(np.diag([3.0, 0.5, 2.0]))
    0.5
    """
    method = check_choice("method", method, _METHODS)
    tol = check_float("tol", tol, minimum=0.0, allow_equal=False)
    block_size = check_int("block_size", block_size, minimum=1)
    if rng is not None:  # checked for every method, even dense (which ignores it)
        as_generator(rng)
    if maxiter is not None:
        maxiter = check_int("maxiter", maxiter, minimum=1)
    on_device = offload(K)
    if on_device is not None and method in ("auto", "dense"):
        K, method = on_device[1][0], "dense"  # inside use_device(...): dense on the device
    if is_device_array(K):
        if method in ("auto", "dense"):
            value = float(to_numpy(eigenvalues_xp(K))[0])
            result = LambdaMinResult(value, "dense", 0, math.nan, math.nan, math.nan)
            return result if return_info else result.value
        K = to_numpy(K)  # the matrix-free solvers run on the host
    kind, A = _operand(K)
    n = A.shape[0]
    if preconditioner is not None:
        preconditioner = aslinearoperator(preconditioner)
        if preconditioner.shape != (n, n):
            raise ValueError(f"preconditioner must have the shape of K {(n, n)}, got {preconditioner.shape}")
    elif method == "davidson":
        raise ValueError("method='davidson' needs a preconditioner (e.g. ntphase.learning.harmonic_preconditioner)")
    if method == "auto":
        method = choose(kind, A)
        if method == "lanczos" and preconditioner is not None and DAVIDSON_PRODUCT_RATIO < 1.0:
            method = "davidson"
    if method in ("lanczos", "lobpcg", "davidson") and n < 3:
        method = "dense"  # too small for a Krylov method; the dense solver is exact here
    if method == "dense":
        if kind == "operator":
            A = _to_dense(A)
            check_memory(64.0 * n, "eigenvalue workspace")
            value = scipy.linalg.eigvalsh(A, subset_by_index=[0, 0], overwrite_a=True, check_finite=False)[0]
        else:
            check_memory(dense_eig_bytes(n), f"eigvalsh of a ({n}, {n}) matrix",
                         "use method='lanczos' (matrix-free)")
            value = scipy.linalg.eigvalsh(_symmetric_dense(A), subset_by_index=[0, 0], check_finite=False)[0]
        bound = n * np.finfo(np.float64).eps * float(np.max(np.abs(A))) if kind == "dense" else math.nan
        result = LambdaMinResult(float(value), "dense", 0, math.nan, bound, math.nan)
    else:
        generator = np.random.default_rng(rng)
        op = aslinearoperator(_symmetric_dense(A)) if kind == "dense" else A
        steps = 0
        if method == "lanczos":
            value, matvecs, residual, scale, converged = lanczos_min(op, tol, generator, maxiter, progress)
        elif method == "davidson":
            value, matvecs, residual, scale, converged, steps = davidson_min(
                op, preconditioner, tol, generator, maxiter, block_size, progress)
        else:
            value, matvecs, residual, scale, converged = lobpcg_min(
                op, tol, generator, maxiter, min(block_size, max(1, n // 5)))
        result = LambdaMinResult(value, method, matvecs, residual, residual, scale, converged,
                                 steps or matvecs)
    return result if return_info else result.value


def top_eigenvalues(K: Any, k: int, method: str = "auto", tol: float = DEFAULT_TOL,
                    rng: Any = None) -> np.ndarray:
    """The ``k`` largest eigenvalues, in descending order, float64.

    Parameters
    ----------
    K : ndarray (n, n) or LinearOperator
    k : int
        ``1 <= k <= n`` (matrix-free needs ``k < n - 1``).
    method : {"auto", "dense", "lanczos"}
        ``"dense"``: ``eigvalsh(K, subset_by_index=[n-k, n-1])``.
        ``"lanczos"``: ARPACK ``eigsh(K, k, which="LA", tol=tol)`` (relative
        accuracy ``tol`` of each eigenvalue's residual). ``"auto"``: dense for a
        dense matrix with ``n <= AUTO_DENSE_MIN_N`` or when ``k`` is a sizable
        fraction of ``n``; Lanczos otherwise (the top eigenvalues of ``K_N``
        are well separated spikes, so few products are needed).

    Returns
    -------
    ndarray, shape (k,)
    """
    method = check_choice("method", method, ("auto", "dense", "lanczos"))
    kind, A = _operand(K)
    n = A.shape[0]
    k = check_int("k", k, minimum=1, maximum=n)
    if method == "auto":
        small = kind == "dense" and n <= AUTO_DENSE_MIN_N
        method = "dense" if (small or k >= n // 4 or k >= n - 1) and fits(3 * dense_eig_bytes(n)) else "lanczos"
    if method == "lanczos" and k >= n - 1:
        raise ValueError(f"k must be < n - 1 = {n - 1} for method='lanczos', got {k}")
    if method == "dense":
        if kind == "operator":
            A = _to_dense(A)
        else:
            check_memory(dense_eig_bytes(n), f"eigvalsh of a ({n}, {n}) matrix",
                         "use method='lanczos'")
            A = _symmetric_dense(A)
        vals = scipy.linalg.eigvalsh(A, subset_by_index=[n - k, n - 1], check_finite=False)
        return vals[::-1].copy()
    op = aslinearoperator(A) if kind == "dense" else A
    vals = eigsh(op, k=k, which="LA", tol=tol, v0=np.random.default_rng(rng).standard_normal(n),
                 ncv=min(n - 1, max(2 * k + 1, LANCZOS_NCV)), return_eigenvectors=False)
    return np.sort(vals)[::-1].copy()


def spike_groups(eigs: Any, spectrum: Any, n: int, level: int) -> list[dict]:
    r"""Group measured eigenvalues by the predicted spikes and bulk (docs/theory.md, section 3).

    Prediction at level ``l``: for each degree ``k <= l`` with ``xi_{d,k} > 0``,
    ``B(d,k)`` eigenvalues near ``n xi_{d,k} + gamma_{>l}``; the remaining
    ``n - sum_k B(d,k)`` eigenvalues (the bulk) near ``gamma_{>l}``.

    Assignment by counts: the groups are sorted by predicted location
    (descending) and the measured eigenvalues (descending) are dealt out in
    that order, ``B(d,k)`` to each spike group and the rest to the bulk. So a
    group's ``measured_count`` equals its predicted count when all ``n``
    eigenvalues are given (fewer, possibly 0, when only the top ones are given).
    Whether the assignment reflects real structure shows in the measured
    ``min``/``max`` of neighbouring groups (gaps) and in the means.

    Parameters
    ----------
    eigs : array_like, shape (m,)
        Measured eigenvalues (any order), ``m <= n``; all of them or the top ones.
    spectrum : SphereSpectrum
        From :func:`ntphase.sphere.sphere_spectrum` with ``kmax >= level``;
        uses ``multiplicity``, ``xi``, ``H1`` and ``gamma_above(level)``.
    n : int
        Number of samples (size of the kernel matrix).
    level : int
        ``l`` (e.g. :func:`ntphase.sphere.level`).

    Returns
    -------
    list of dict
        One row per group, ordered by predicted location (descending):
        ``group`` (``"degree k"`` or ``"bulk"``), ``degree`` (int, ``-1`` for the
        bulk), ``predicted_count``, ``predicted_location``, ``measured_count``,
        ``measured_mean``, ``measured_min``, ``measured_max`` (``nan`` when empty).
        Degrees with ``B(d,k) xi_{d,k} <= XI_ZERO_RTOL * H(1)`` count as zero
        (``ntphase.conventions``; e.g. odd ``k >= 3`` for ReLU computed by quadrature).
    """
    values = np.asarray(eigs, dtype=np.float64).reshape(-1)
    n = check_int("n", n, minimum=1)
    level = check_int("level", level, minimum=0)
    if values.size > n:
        raise ValueError(f"eigs must have at most n = {n} values, got {values.size}")
    if not np.all(np.isfinite(values)):
        raise ValueError("eigs must contain only finite values (found NaN or inf)")
    xi = np.asarray(spectrum.xi, dtype=np.float64)
    mult = np.asarray(spectrum.multiplicity, dtype=np.float64)
    if level >= xi.size:
        raise ValueError(f"level must be <= the spectrum's kmax = {xi.size - 1}, got {level}")
    gamma = float(spectrum.gamma_above(level))
    zero = XI_ZERO_RTOL * abs(float(spectrum.H1))
    groups: list[dict[str, Any]] = []
    for k in range(level + 1):
        if mult[k] * xi[k] > zero:
            groups.append({"group": f"degree {k}", "degree": k, "predicted_count": int(round(mult[k])),
                           "predicted_location": n * float(xi[k]) + gamma})
    spikes = sum(g["predicted_count"] for g in groups)
    if spikes > n:
        raise ValueError(f"the degrees <= level = {level} hold {spikes} > n = {n} eigenvalues; "
                         "choose a lower level (ntphase.sphere.level(n, d, activation))")
    groups.append({"group": "bulk", "degree": -1, "predicted_count": n - spikes, "predicted_location": gamma})
    groups.sort(key=lambda g: -g["predicted_location"])
    ordered = np.sort(values)[::-1]
    start = 0
    for g in groups:
        part = ordered[start : start + g["predicted_count"]]
        start += g["predicted_count"]
        g["measured_count"] = int(part.size)
        g["measured_mean"] = float(part.mean()) if part.size else math.nan
        g["measured_min"] = float(part.min()) if part.size else math.nan
        g["measured_max"] = float(part.max()) if part.size else math.nan
    return groups
