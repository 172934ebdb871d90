"""Matrix-free smallest-eigenvalue solvers and the dense/matrix-free cost model.

The machinery behind :func:`ntphase.linalg.eigen.lambda_min` and
:func:`ntphase.linalg.eigen.choose_method` (one concept: *how* ``lambda_min`` is
computed without forming ``K``, and when forming it is cheaper):

* :func:`lanczos_min`: thick-restart Lanczos with full reorthogonalization;
* :func:`lobpcg_min`: SciPy's LOBPCG with a power-iteration tolerance scale;
* :func:`davidson_min`: generalized Davidson with a preconditioner (e.g. the
  harmonic model of a kernel on the sphere);
* :func:`choose`: the flop cost model (dense ``eigvalsh`` vs matrix-free
  products), with its measured constants.

The solvers return ``(value, matvecs, residual_norm, scale, converged)``;
:mod:`ntphase.linalg.eigen` wraps it in :class:`~ntphase.linalg.eigen.LambdaMinResult`.
The accuracy guarantee is stated in the :mod:`ntphase.linalg.eigen` docstring.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.linalg
from scipy.sparse.linalg import LinearOperator, lobpcg

from ntphase._util.memory import available_memory, fits

#: The cost model assumes ``max(LANCZOS_PRODUCTS_MIN, LANCZOS_PRODUCTS_COEF n^(2/3))``
#: operator products for matrix-free ``lambda_min``: measured for ReLU ``K_N``
#: with ``N d / n = 4``: 330 products at n = 1000, 411 at 2000, 991 at 8000
#: (the spacing at the lower edge shrinks with n, so Krylov methods need more
#: products; it also grows as ``N d / n -> 1``).
LANCZOS_PRODUCTS_COEF = 2.5
LANCZOS_PRODUCTS_MIN = 200

#: Speeds relative to a large BLAS-3 product (one core, docs/benchmarks.md):
#: dense ``eigvalsh`` (tridiagonal reduction, half BLAS-2) measured 0.5 at
#: n = 2000 and 0.2 at n = 8000; NTKernelOperator products 0.4-0.5 (thin
#: ``d``-sized dimensions); products with a stored dense matrix (memory-bound) 0.06.
DENSE_EIG_EFFICIENCY = 0.25
MATRIX_FREE_EFFICIENCY = 0.4
DENSE_MATVEC_EFFICIENCY = 0.06

#: Up to this size ``"auto"`` always uses the dense solver (measured faster:
#: n = 2000, relu, N d / n = 4: 0.6 s dense vs 1.2 s matrix-free).
AUTO_DENSE_MIN_N = 3000

#: Lanczos basis size before a thick restart (memory ``8 n LANCZOS_BASIS`` bytes);
#: measured at n = 8000: 991 products unrestarted vs 1331 with a basis of 400.
LANCZOS_BASIS = 1000

#: The basis may use at most this fraction of the available memory.
LANCZOS_MEMORY_FRACTION = 0.1

#: Power iterations used to estimate ``lambda_max`` (the tolerance scale).
POWER_STEPS = 8

#: Davidson basis size before a thick restart (``2 x 8 n`` bytes per vector: basis and its image).
DAVIDSON_BASIS = 400
#: Ritz vectors kept at a Davidson restart (the smallest ones).
DAVIDSON_KEEP = 40
#: A Davidson correction that keeps less than this fraction of its norm after
#: orthogonalization against the basis is replaced by a random direction.
DAVIDSON_REORTH_FLOOR = 1e-10
#: Products of preconditioned Davidson relative to Lanczos assumed by the cost
#: model: measured 0.26-0.65 on relu ``K`` and ``K_N`` at n = 2,000-4,000, d = 20-50
#: with the harmonic preconditioner of level 2 (docs/benchmarks.md).
DAVIDSON_PRODUCT_RATIO = 0.5


#: ``progress(products, value, residual)``: a matrix-free solver's report on its way.
Progress = Callable[[int, float, float], None]


# ---------------------------------------------------------------------------
# counting wrapper
# ---------------------------------------------------------------------------


class _Counted(LinearOperator):
    """Wrap an operator and count vector products (a block of m counts m)."""

    def __init__(self, op: LinearOperator) -> None:
        self.op = op
        self.count = 0
        super().__init__(dtype=np.dtype(np.float64), shape=op.shape)

    def _matmat(self, V: np.ndarray) -> np.ndarray:
        V = np.asarray(V, dtype=np.float64)
        self.count += V.shape[1]
        return np.asarray(self.op.matmat(V), dtype=np.float64)

    def _matvec(self, v: np.ndarray) -> np.ndarray:
        return self._matmat(np.asarray(v).reshape(-1, 1))[:, 0]

    def _adjoint(self) -> _Counted:
        return self


# ---------------------------------------------------------------------------
# cost model (rules documented in ntphase.linalg.eigen.choose_method)
# ---------------------------------------------------------------------------


def dense_eig_bytes(n: int) -> float:
    # eigvalsh copies K (overwrite_a=False) and needs O(n) workspace
    return 8.0 * n * n + 64.0 * n


def _lanczos_products(n: int) -> float:
    """Products assumed by the cost model (see ``LANCZOS_PRODUCTS_COEF``)."""
    return max(LANCZOS_PRODUCTS_MIN, LANCZOS_PRODUCTS_COEF * n ** (2.0 / 3.0))


def choose(kind: str, A: Any) -> str:
    """``choose_method`` on a classified operand (``kind`` from ``spectrum._operand``)."""
    n = A.shape[0]
    dense_eig = (4.0 / 3.0) * n**3 / DENSE_EIG_EFFICIENCY
    if kind == "dense":
        if not fits(dense_eig_bytes(n)):
            return "lanczos"
        if n <= AUTO_DENSE_MIN_N:
            return "dense"
        lanczos = _lanczos_products(n) * 2.0 * n * n / DENSE_MATVEC_EFFICIENCY
        return "dense" if dense_eig <= lanczos else "lanczos"
    if hasattr(A, "matvec_flops") and hasattr(A, "dense_bytes"):
        if not fits(A.dense_bytes() + 64.0 * n):  # formed K is overwritten in place
            return "lanczos"
        if n <= AUTO_DENSE_MIN_N:
            return "dense"
        formation = A.dense_flops()
        lanczos = _lanczos_products(n) * A.matvec_flops() / MATRIX_FREE_EFFICIENCY
        return "dense" if formation + dense_eig <= lanczos else "lanczos"
    if n <= 200 and fits(2 * dense_eig_bytes(n)):
        return "dense"
    return "lanczos"


# ---------------------------------------------------------------------------
# matrix-free solvers
# ---------------------------------------------------------------------------


def _scale(counted: _Counted, generator: np.random.Generator) -> float:
    """Power-iteration estimate of ``lambda_max`` (a Rayleigh quotient, so ``<= lambda_max``).

    Floored by the mean diagonal when the operator has ``trace()`` so that a
    multiple of the identity still gets ``c > lambda_min``.
    """
    n = counted.shape[0]
    v = generator.standard_normal(n)
    v /= np.linalg.norm(v)
    rq = 0.0
    for _ in range(POWER_STEPS):
        w = counted.matvec(v)
        rq = float(v @ w)
        norm = float(np.linalg.norm(w))
        if norm == 0.0:
            break
        v = w / norm
    scale = max(rq, 0.0)
    if hasattr(counted.op, "trace"):
        scale = max(scale, 2.0 * counted.op.trace() / n)
    return scale if scale > 0 else 1.0


def _residual(op: LinearOperator, u: np.ndarray, value: float) -> float:
    u = u / np.linalg.norm(u)
    return float(np.linalg.norm(op.matvec(u) - value * u))


def _lanczos_basis_size(n: int) -> int:
    """Basis size: ``LANCZOS_BASIS`` capped by ``n`` and by ``LANCZOS_MEMORY_FRACTION`` of memory."""
    by_memory = int(LANCZOS_MEMORY_FRACTION * available_memory() / (8.0 * n)) - 1
    return max(1, min(n, LANCZOS_BASIS, max(by_memory, 20)))


def _smallest_ritz(T: np.ndarray, j: int, tridiagonal: bool) -> tuple[float, np.ndarray, float]:
    """Smallest eigenpair of the projected ``T[:j, :j]`` and the largest eigenvalue (the scale).

    Before the first restart ``T`` is tridiagonal (up to rounding of the full
    reorthogonalization) and LAPACK's tridiagonal bisection costs ``O(j)``;
    afterwards it is an arrowhead-plus-tridiagonal matrix and a dense ``eigh``
    (``O(j^3)``) is used.
    """
    if tridiagonal and j > 2:
        diag, off = np.diag(T)[:j].copy(), np.diag(T, -1)[: j - 1].copy()
        low, vec = scipy.linalg.eigh_tridiagonal(diag, off, select="i", select_range=(0, 0))
        high = scipy.linalg.eigh_tridiagonal(diag, off, eigvals_only=True, select="i",
                                             select_range=(j - 1, j - 1))
        return float(low[0]), vec[:, 0], float(high[0])
    theta, S = scipy.linalg.eigh(T[:j, :j])
    return float(theta[0]), S[:, 0], float(theta[-1])


def lanczos_min(op: LinearOperator, tol: float, generator: np.random.Generator,
                 maxiter: int | None, progress: Progress | None = None) -> tuple[float, int, float, float, bool]:
    """Thick-restart Lanczos (Wu & Simon 2000; Stewart's Krylov-Schur) for the smallest eigenvalue.

    Full reorthogonalization (classical Gram-Schmidt with a second pass when
    the first one cancels, the DGKS criterion), so ``T = Q^T K Q`` is exact and
    ``K Q_j = Q_j T_j + beta q_{j+1} e_j^T``: the residual of a Ritz pair
    ``(theta, Q_j s)`` is ``|beta s_j|``. At most ``_lanczos_basis_size(n)``
    vectors are kept; a restart keeps the smaller half of the Ritz vectors.
    The stopping test is ``residual <= tol * scale``, ``scale`` the largest
    Ritz value seen (a lower bound on ``lambda_max`` that converges fast, the
    top of ``K_N`` being well-separated spikes). The Ritz problem is solved
    every 10 products, or less often when its cost exceeds 5% of the products'.

    ARPACK (``scipy.sparse.linalg.eigsh``) was measured first: on ``K_N``
    (relu, n = 2000, d = 20, N d / n = 4) it needed 1,500 to 50,000 products
    depending on ``k``/``ncv`` (implicit restarts lose the Krylov information
    where the lower edge is dense), against 400-770 here.

    ``progress(products, value, residual)`` is called at every Ritz check.

    Returns ``(value, matvecs, residual_norm, scale, converged)``.
    """
    n = op.shape[0]
    counted = _Counted(op)
    m = _lanczos_basis_size(n)
    keep = max(1, m // 2)
    max_products = maxiter if maxiter is not None else max(20 * n, 5000)
    Q = np.empty((n, m + 1))
    T = np.zeros((m + 1, m + 1))
    v0 = generator.standard_normal(n)
    Q[:, 0] = v0 / np.linalg.norm(v0)
    scale = 0.0
    p = 0
    restarted = False
    product_time = 0.0
    ritz_time = 0.0
    interval = 10
    next_check = interval
    while True:
        j = p
        beta = 0.0
        while j < m:
            start = time.perf_counter()
            w = np.asarray(counted.matvec(Q[:, j]), dtype=np.float64).reshape(-1)
            product_time += time.perf_counter() - start
            basis = Q[:, : j + 1]
            before = float(np.linalg.norm(w))
            h = basis.T @ w
            w -= basis @ h
            beta = float(np.linalg.norm(w))
            if beta < 0.7071 * before:  # DGKS: cancellation, orthogonalize again
                h2 = basis.T @ w
                w -= basis @ h2
                h += h2
                beta = float(np.linalg.norm(w))
            T[: j + 1, j] = h
            T[j, : j + 1] = h
            j += 1
            scale = max(scale, float(h[-1]))
            small_beta = beta <= tol * max(scale, 1e-300)
            if j >= next_check or j == m or small_beta or counted.count >= max_products:
                start = time.perf_counter()
                value, s, top = _smallest_ritz(T, j, tridiagonal=not restarted)
                ritz_time += time.perf_counter() - start
                scale = max(scale, top)
                estimate = abs(beta * s[j - 1])
                if progress is not None:
                    progress(counted.count, value, estimate)
                done = estimate <= tol * scale or beta == 0.0 or j >= n
                if done or counted.count >= max_products:
                    u = Q[:, :j] @ s
                    residual = _residual(counted, u, value)
                    if not done:
                        warnings.warn(
                            f"lambda_min: Lanczos stopped after {counted.count} products without "
                            f"reaching tol (residual {residual:.3g} > {tol * scale:.3g}); returning "
                            f"{value:.6g}", RuntimeWarning, stacklevel=3)
                    return value, counted.count, residual, scale, bool(done)
                # keep the Ritz solves under ~5% of the time spent in products
                if ritz_time > 0.05 * product_time:
                    interval = min(2 * interval, 200)
                next_check = j + interval
            Q[:, j] = w / beta
            T[j, j - 1] = T[j - 1, j] = beta
        # thick restart: keep the smallest Ritz vectors and the residual direction
        theta, S = scipy.linalg.eigh(T[:m, :m])
        Q[:, :keep] = Q[:, :m] @ S[:, :keep]
        Q[:, keep] = Q[:, m]
        T[:] = 0.0
        T[np.arange(keep), np.arange(keep)] = theta[:keep]
        coupling = beta * S[m - 1, :keep]
        T[keep, :keep] = coupling
        T[:keep, keep] = coupling
        p = keep
        restarted = True
        next_check = keep + interval


def lobpcg_min(op: LinearOperator, tol: float, generator: np.random.Generator,
                maxiter: int | None, block: int) -> tuple[float, int, float, float, bool]:
    """SciPy ``lobpcg`` for the smallest eigenvalue, absolute tolerance ``tol * c``.

    ``c`` is :func:`_scale` (power iteration); ``converged`` means the true
    residual of the returned Ritz vector is ``<= 10 tol c``. Returns
    ``(value, matvecs, residual_norm, c, converged)``.
    """
    n = op.shape[0]
    counted = _Counted(op)
    c = _scale(counted, generator)
    X0 = generator.standard_normal((n, block))
    maxiter = maxiter if maxiter is not None else max(20 * n, 5000) // block
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        vals, vecs = lobpcg(counted, X0, largest=False, tol=tol * c, maxiter=maxiter)
    j = int(np.argmin(vals))
    value = float(vals[j])
    residual = _residual(counted, vecs[:, j], value)
    converged = bool(residual <= 10 * tol * c)
    if not converged:
        messages = "; ".join(str(w.message) for w in caught)[:300]
        warnings.warn(f"lambda_min: LOBPCG did not reach tol (residual {residual:.3g} > "
                      f"{tol * c:.3g}); returning {value:.6g}. {messages}", RuntimeWarning, stacklevel=3)
    return value, counted.count, residual, c, converged


def davidson_min(op: LinearOperator, preconditioner: LinearOperator, tol: float,
                 generator: np.random.Generator, maxiter: int | None, block: int = 1,
                 progress: Progress | None = None) -> tuple[float, int, float, float, bool, int]:
    """Generalized (block) Davidson with thick restart for the smallest eigenvalue.

    Davidson (1975, J. Comput. Phys. 17:87-94); Morgan & Scott (1986, SIAM J. Sci.
    Stat. Comput. 7:817-825); the block form as in Liu (1978, NRCC report). The basis
    ``V`` (orthonormal, two Gram-Schmidt passes) grows by the preconditioned residuals
    ``M (K u_j - theta_j u_j)`` of the ``block`` smallest Ritz pairs; ``W = K V`` and
    ``H = V^T W`` are kept, so a step costs one product with a block of ``block``
    vectors (one pass over the data: a tiled kernel builds each tile once for the
    whole block), one application of ``M`` (an approximation of ``K^{-1}``, e.g. the
    harmonic model of a kernel with its spikes), ``O(n k block)`` and an ``O(k^3)``
    Ritz problem. Where ``M`` acts as a scalar and ``block = 1`` this is Lanczos on
    ``K``; on the spike subspace ``M`` inverts the spikes away, so the product
    count no longer grows with their spread. A block costs more products than
    ``block = 1`` (measured in docs/benchmarks.md) but far fewer passes, which is
    what an operator whose tile, not its multiplication, dominates pays for. The
    value is a Rayleigh quotient of ``K`` itself (not of a deflated approximation),
    so the accuracy statement of :mod:`ntphase.linalg.eigen` holds. ``scale``: the
    larger of the Rayleigh quotients of the constant vector and a random one, then
    the largest Ritz value. A basis that would exceed its size (``DAVIDSON_BASIS``,
    or ``LANCZOS_MEMORY_FRACTION`` of the memory) restarts on its
    ``max(DAVIDSON_KEEP, 2 block)`` smallest Ritz vectors.

    ``progress(products, value, residual)`` is called after every pass.

    Returns ``(value, matvecs, residual_norm, scale, converged, steps)``; ``steps``
    counts the passes (block products).
    """
    n = op.shape[0]
    counted = _Counted(op)
    max_products = maxiter if maxiter is not None else max(20 * n, 5000)
    probe = np.empty((n, 2))
    probe[:, 0] = 1.0 / np.sqrt(n)
    probe[:, 1] = generator.standard_normal(n)
    probe[:, 1] /= np.linalg.norm(probe[:, 1])
    scale = float(np.max(np.einsum("ij,ij->j", probe, counted.matmat(probe))))
    scale = scale if scale > 0 else 1.0
    b = max(1, min(int(block), n // 3))
    by_memory = int(LANCZOS_MEMORY_FRACTION * available_memory() / (16.0 * n))
    want_keep = max(DAVIDSON_KEEP, 2 * b)
    kmax = max(2, min(n, max(DAVIDSON_BASIS, want_keep + 4 * b), max(by_memory, 2 * want_keep)))
    keep = min(want_keep, kmax // 2)
    V = np.empty((n, kmax))
    W = np.empty((n, kmax))
    H = np.empty((kmax, kmax))
    T = _apply(preconditioner, generator.standard_normal((n, b)))
    k = 0
    u = T[:, 0] / np.linalg.norm(T[:, 0])
    step = 0
    done = False
    while counted.count < max_products:
        step += 1
        m = min(b, n - k)
        for j in range(m):  # orthonormalize the corrections against the basis and each other
            t = T[:, j]
            norm0 = float(np.linalg.norm(t))
            norm = _project_out(t, V[:, : k + j])
            if not norm > DAVIDSON_REORTH_FLOOR * norm0:  # the correction lies in the basis: diversify
                t = generator.standard_normal(n)
                norm = _project_out(t, V[:, : k + j])
            V[:, k + j] = t / norm
        new = slice(k, k + m)
        W[:, new] = counted.matmat(V[:, new])
        H[: k + m, new] = V[:, : k + m].T @ W[:, new]
        H[new, new] = 0.5 * (H[new, new] + H[new, new].T)
        H[new, :k] = H[:k, new].T
        k += m
        theta, S = scipy.linalg.eigh(H[:k, :k], check_finite=False)
        scale = max(scale, float(theta[-1]))
        p = min(b, k)
        U = V[:, :k] @ S[:, :p]
        R = W[:, :k] @ S[:, :p] - U * theta[:p]
        u = U[:, 0]
        estimate = float(np.linalg.norm(R[:, 0]))
        if progress is not None:
            progress(counted.count, float(theta[0]), estimate)
        if estimate <= tol * scale or k >= n:
            done = True
            break
        if k + b > kmax:  # thick restart on the smallest Ritz vectors
            V[:, :keep] = V[:, :k] @ S[:, :keep]
            W[:, :keep] = W[:, :k] @ S[:, :keep]
            H[:keep, :keep] = np.diag(theta[:keep])
            k = keep
        T = _apply(preconditioner, R)
    u = u / np.linalg.norm(u)
    Ku = counted.matvec(u)
    value = float(u @ Ku)
    residual = float(np.linalg.norm(Ku - value * u))
    converged = bool(residual <= tol * scale) or (done and residual <= 10 * tol * scale)
    if not converged:
        warnings.warn(
            f"lambda_min: Davidson stopped after {counted.count} products ({step} steps) without reaching "
            f"tol (residual {residual:.3g} > {tol * scale:.3g}); returning {value:.6g}, an upper bound on "
            "lambda_min; increase maxiter or tol", RuntimeWarning, stacklevel=3)
    return value, counted.count, residual, scale, converged, step


def _project_out(t: np.ndarray, Q: np.ndarray) -> float:
    """Remove from ``t`` (in place) its part in the span of orthonormal ``Q``, two passes; the new norm."""
    for _ in range(2):
        t -= Q @ (Q.T @ t)
    return float(np.linalg.norm(t))


def _apply(preconditioner: LinearOperator, R: np.ndarray) -> np.ndarray:
    """``M R`` for a block ``R`` of shape ``(n, m)``, as a new float64 array of that shape."""
    return np.array(preconditioner.matmat(R), dtype=np.float64).reshape(R.shape)
