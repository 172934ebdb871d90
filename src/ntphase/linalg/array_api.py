"""Dense kernel linear algebra on an array-API namespace (PyTorch, CuPy, JAX, ``array_api_strict``).

The array-API branches of :func:`ntphase.linalg.solve_ridge`,
:func:`ntphase.linalg.eigenvalues`, the dense :func:`ntphase.linalg.lambda_min`
and :func:`ntphase.linalg.ridge_path`: ``xp.linalg.cholesky`` /
``xp.linalg.eigvalsh`` / ``xp.linalg.eigh`` on the matrix's device, at
float64 (:func:`ntphase._util.backend.float64_math`), plus the column-wise
preconditioned conjugate gradients behind the device branch of
:func:`ntphase.linalg.block_cg` (:func:`block_pcg`; :func:`conjugate_gradient`
is its one-column form). The ill-conditioned
or indefinite ridge system falls back to the host (the eigendecomposition
pseudo-inverse of :func:`ntphase.linalg.ridge.solve_ridge`, with its warning).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import array_api_compat
import numpy as np

from ntphase._util.arrays import from_numpy, to_numpy
from ntphase._util.backend import float64_math, solve_triangular
from ntphase._util.validation import check_float, check_int
from ntphase.conventions import SYMMETRY_RTOL

__all__ = ["block_pcg", "conjugate_gradient", "eigenvalues_xp", "eigh_xp", "is_device_array", "solve_ridge_xp"]


def is_device_array(K: Any) -> bool:
    """Whether ``K`` is an array of an array-API library other than NumPy."""
    return bool(array_api_compat.is_array_api_obj(K)) and not isinstance(K, np.ndarray)


def _square(xp: Any, K: Any) -> Any:
    if K.ndim != 2 or K.shape[0] != K.shape[1] or K.shape[0] < 1:
        raise ValueError(f"K must be a non-empty square matrix, got shape {tuple(K.shape)}")
    if K.dtype != xp.float64:
        K = xp.astype(K, xp.float64)
    if not bool(xp.all(xp.isfinite(K))):
        raise ValueError("K must contain only finite values (found NaN or inf)")
    return K


def eigenvalues_xp(K: Any) -> Any:
    """All eigenvalues of the symmetric ``K`` (lower triangle read), ascending, float64, on ``K``'s device.

    ``xp.linalg.eigvalsh``; cost ``O(n^3)``, memory a few ``n x n`` arrays on the device.
    """
    xp = array_api_compat.array_namespace(K)
    with float64_math(xp):
        return xp.linalg.eigvalsh(_square(xp, K))


def eigh_xp(K: Any) -> tuple[Any, Any]:
    """``K = U diag(e) U^T`` on ``K``'s namespace and device: ``xp.linalg.eigh`` of ``(K + K^T)/2``, float64.

    ``K`` must be symmetric to ``SYMMETRY_RTOL`` relative to ``max|K|`` (else
    ``ValueError``, as on the NumPy path). Returns ``e`` (ascending, shape
    ``(n,)``) and ``U`` (``n x n``) on the device. Cost ``O(n^3)``; device memory
    about four ``n x n`` arrays.
    """
    xp = array_api_compat.array_namespace(K)
    with float64_math(xp):
        K = _square(xp, K)
        KT = xp.permute_dims(K, (1, 0))
        scale = float(xp.max(xp.abs(K)))
        asym = float(xp.max(xp.abs(K - KT)))
        if asym > SYMMETRY_RTOL * scale:
            raise ValueError(
                f"K must be symmetric (max|K - K^T| <= {SYMMETRY_RTOL:g} * max|K|), "
                f"got max|K - K^T| = {asym:.3e} with max|K| = {scale:.3e}; "
                "pass the training kernel K(X, X), not a cross kernel"
            )
        e, U = xp.linalg.eigh((K + KT) * 0.5)
        return e, U


def _shifted(xp: Any, K: Any, ridge: float) -> Any:
    """``K + ridge I`` with one ``n x n`` array (PyTorch, CuPy: a copy shifted on its diagonal in place)."""
    if ridge == 0.0:
        return K
    n = K.shape[0]
    if array_api_compat.is_torch_namespace(xp):
        A = K.clone()
        A.diagonal().add_(ridge)
        return A
    if array_api_compat.is_cupy_namespace(xp):
        A = K.copy()
        A[xp.arange(n), xp.arange(n)] += ridge
        return A
    return K + ridge * xp.eye(n, dtype=xp.float64, device=array_api_compat.device(K))


def solve_ridge_xp(K: Any, y: Any, ridge: float, rcond: float, host_solve: Callable) -> Any:
    """``alpha = (K + ridge I)^{-1} y`` by Cholesky on ``K``'s namespace and device.

    ``L = xp.linalg.cholesky(K + ridge I)``, then two triangular solves
    (:func:`ntphase._util.backend.solve_triangular`). If the factor is not
    finite (not positive definite) or ``min(diag L)^2 <= rcond * max|K + ridge I|``
    (a cheap lower bound on the condition number exceeds ``1/rcond``), the system
    is solved on the host by ``host_solve(K, y, ridge, rcond=rcond)`` (the NumPy
    :func:`~ntphase.linalg.ridge.solve_ridge`: condition estimate, warning,
    pseudo-inverse) and the result comes back to the device.

    Cost ``n^3/3`` flops plus ``2 n^2``; device memory ``K``, ``K + ridge I``
    (none when ``ridge = 0``) and the factor: ``8 n^2`` bytes each.
    """
    xp = array_api_compat.array_namespace(K)
    with float64_math(xp):
        K = _square(xp, K)
        n = K.shape[0]
        y = xp.astype(xp.asarray(y, device=array_api_compat.device(K)), xp.float64)
        if y.shape != (n,):
            raise ValueError(f"y must have shape ({n},) to match K; got {tuple(y.shape)}")
        A = _shifted(xp, K, ridge)
        try:
            L = xp.linalg.cholesky(A)
        except (ValueError, RuntimeError):  # NumPy/strict LinAlgError, torch's LinAlgError: not positive definite
            ok = False
        else:  # JAX and CuPy return NaN factors instead of raising
            diag = xp.linalg.diagonal(L)
            ok = bool(xp.all(xp.isfinite(diag)))
        if ok:
            smallest = float(xp.min(diag)) ** 2
            ok = smallest > rcond * float(xp.max(xp.abs(A)))
        if ok:
            z = solve_triangular(xp, L, y, lower=True)
            return solve_triangular(xp, L, z, lower=True, transpose=True)
        alpha = host_solve(to_numpy(K), to_numpy(y), ridge, rcond=rcond)
        return from_numpy(np.asarray(alpha, dtype=np.float64), xp, K)


def _column_norms(xp: Any, V: Any) -> np.ndarray:
    return np.asarray(to_numpy(xp.linalg.vector_norm(V, axis=0)), dtype=np.float64)


def _column_dots(xp: Any, U: Any, V: Any) -> np.ndarray:
    return np.asarray(to_numpy(xp.sum(U * V, axis=0)), dtype=np.float64)


def block_pcg(
    apply: Callable[[Any], Any],
    B: Any,
    ridges: np.ndarray,
    *,
    rtol: float,
    maxiter: int,
    precondition: Callable[[Any, np.ndarray], Any] | None = None,
    X0: Any = None,
    progress: Callable[[int, float], None] | None = None,
) -> tuple[Any, np.ndarray, np.ndarray, int, np.ndarray]:
    r"""Column-wise PCG for ``(A + lambda_j I) x_j = b_j`` on ``B``'s namespace and device.

    The algorithm of :func:`ntphase.linalg.block_cg` (its NumPy twin):
    all columns advance together, ``alpha_j = (r_j.z_j)/(p_j.(A + lambda_j) p_j)``,
    ``x_j += alpha_j p_j``, ``r_j -= alpha_j (A + lambda_j) p_j``,
    ``z_j = M r_j``, ``p_j = z_j + beta_j p_j``; a column that meets ``rtol`` by
    its recursive residual has its true residual computed and restarts from it
    if that misses (residual replacement, van der Vorst & Ye 2000); converged or
    broken-down columns are frozen. Only the active columns are multiplied by
    ``A`` (gathered with ``xp.take``; the updates are scattered back by a
    ``k x m`` selection matrix, ``O(n k m)``). The per-column scalars live on the
    host (``m`` floats per step).

    Parameters
    ----------
    apply : callable
        ``V -> A V`` for a float64 ``(n, k)`` array of ``B``'s namespace.
    B : array, shape (n, m), float64
    ridges : ndarray, shape (m,)
    rtol, maxiter
        Relative residual tolerance per column, iteration cap.
    precondition : callable ``(R, cols) -> M R``, optional
        ``R`` of shape ``(n, k)`` on the device, ``cols`` the NumPy column indices.
    X0 : array, shape (n, m), optional
    progress : callable ``(iteration, max relative residual)``, optional

    Returns
    -------
    X : array, shape (n, m)
    iterations : ndarray of int, shape (m,)
    residuals : ndarray, shape (m,)
        Relative residuals at exit (true ones for converged or capped columns).
    products : int
        Columns multiplied by ``A``, true-residual checks included.
    broke : ndarray of bool, shape (m,)
        ``p^T (A + lambda I) p <= 0`` met (not positive definite).

    Notes
    -----
    Cost per step: one product of ``A`` with the active columns, one
    preconditioner application and ``O(n m^2)``; device memory ``6 n m`` floats.
    """
    xp = array_api_compat.array_namespace(B)
    dev = array_api_compat.device(B)
    n, m = B.shape
    products = 0

    def vec(a: np.ndarray) -> Any:
        return xp.asarray(np.asarray(a, dtype=np.float64), device=dev)

    def mult(cols: np.ndarray, V: Any) -> Any:
        nonlocal products
        products += int(cols.size)
        return apply(V) + V * vec(ridges[cols])[None, :]

    def take(V: Any, cols: np.ndarray) -> Any:
        return xp.take(V, xp.asarray(cols, device=dev), axis=1)

    def scatter(V: Any, cols: np.ndarray) -> Any:
        """``(n, k)`` columns placed at ``cols`` of an ``(n, m)`` array (zeros elsewhere)."""
        E = np.zeros((cols.size, m))
        E[np.arange(cols.size), cols] = 1.0
        return xp.matmul(V, vec(E))

    def mask(cols: np.ndarray) -> Any:
        w = np.zeros(m)
        w[cols] = 1.0
        return vec(w)[None, :]

    def prec(R: Any, cols: np.ndarray) -> Any:
        return R if precondition is None else xp.astype(precondition(R, cols), xp.float64)

    with float64_math(xp):
        B = xp.astype(B, xp.float64)
        bnorm = _column_norms(xp, B)
        zero = bnorm == 0
        safe = np.where(zero, 1.0, bnorm)
        keep_b = vec(~zero)[None, :]
        B = B * keep_b
        if X0 is None:
            X = xp.zeros_like(B)
            R = B
        else:
            X = xp.astype(X0, xp.float64) * keep_b  # zero right-hand side: the exact solution 0
            R = (B - mult(np.arange(m), X)) * keep_b
        relres = _column_norms(xp, R) / safe
        active = relres > rtol
        broke = np.zeros(m, dtype=bool)
        iterations = np.zeros(m, dtype=int)
        rz = np.ones(m)
        P = xp.zeros_like(B)
        idx = np.flatnonzero(active)
        if idx.size:
            Z = prec(take(R, idx), idx)
            P = scatter(Z, idx)
            rz[idx] = _column_dots(xp, take(R, idx), Z)
        step = 0
        while idx.size and step < maxiter:
            step += 1
            Pa = take(P, idx)
            Q = mult(idx, Pa)
            pq = _column_dots(xp, Pa, Q)
            bad = ~(pq > 0)
            broke[idx[bad]] = True
            active[idx[bad]] = False
            good = ~bad
            alpha = np.zeros(idx.size)
            alpha[good] = rz[idx[good]] / pq[good]
            X = X + scatter(Pa * vec(alpha)[None, :], idx)
            R = R - scatter(Q * vec(alpha)[None, :], idx)
            idx = idx[good]
            iterations[idx] += 1
            relres[idx] = _column_norms(xp, take(R, idx)) / safe[idx]
            if progress is not None:
                progress(step, float(np.max(relres[idx])) if idx.size else 0.0)
            met = relres[idx] <= rtol
            restart = np.zeros(idx.size, dtype=bool)
            if np.any(met):
                cols = idx[met]
                true_R = take(B, cols) - mult(cols, take(X, cols))
                relres[cols] = _column_norms(xp, true_R) / safe[cols]
                R = R * (1.0 - mask(cols)) + scatter(true_R, cols)
                done = relres[cols] <= rtol
                active[cols[done]] = False
                restart[np.flatnonzero(met)[~done]] = True
            keep = active[idx]
            idx, restart = idx[keep], restart[keep]
            if idx.size:
                Ra = take(R, idx)
                Z = prec(Ra, idx)
                rz_new = _column_dots(xp, Ra, Z)
                beta = np.where(restart, 0.0, rz_new / rz[idx])
                P = P * (1.0 - mask(idx)) + scatter(Z + take(P, idx) * vec(beta)[None, :], idx)
                rz[idx] = rz_new
        if idx.size:  # stopped by maxiter: true residuals
            true_R = take(B, idx) - mult(idx, take(X, idx))
            relres[idx] = _column_norms(xp, true_R) / safe[idx]
        return X, iterations, relres, products, broke


def conjugate_gradient(
    matvec: Callable[[Any], Any],
    b: Any,
    *,
    tol: float = 1e-10,
    maxiter: int | None = None,
    preconditioner: Callable[[Any], Any] | None = None,
) -> tuple[Any, int, float]:
    """Preconditioned conjugate gradients for ``A x = b`` on ``b``'s namespace (``A`` SPD via ``matvec``).

    One column of :func:`block_pcg`: stops when ``||b - A x|| <= tol ||b||``
    for the true residual. ``preconditioner(r)`` applies ``M^{-1}`` (SPD),
    e.g. a Jacobi ``r / diag``. Converges in ``O(sqrt(cond) log(1/tol))``
    iterations (Hestenes & Stiefel 1952); each costs one ``matvec`` and ``O(n)``.

    Returns
    -------
    x : array, shape (n,)
    iterations : int
    relative_residual : float
        ``||b - A x|| / ||b||`` at exit (not converged: above ``tol``).
    """
    tol = check_float("tol", tol, minimum=0.0, allow_equal=False)
    xp = array_api_compat.array_namespace(b)
    n = b.shape[0]
    maxiter = check_int("maxiter", maxiter if maxiter is not None else max(10 * n, 100), minimum=1)

    def apply(V: Any) -> Any:
        return xp.reshape(matvec(V[:, 0]), (n, 1))

    precondition = None
    if preconditioner is not None:
        def precondition(R: Any, cols: np.ndarray) -> Any:
            return xp.reshape(preconditioner(R[:, 0]), (n, 1))

    with float64_math(xp):
        B = xp.reshape(xp.astype(b, xp.float64), (n, 1))
        X, its, res, _, _ = block_pcg(apply, B, np.zeros(1), rtol=tol, maxiter=maxiter, precondition=precondition)
        return X[:, 0], int(its[0]), float(res[0])
