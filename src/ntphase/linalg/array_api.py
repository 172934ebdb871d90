"""Dense kernel linear algebra on an array-API namespace (PyTorch, CuPy, JAX, ``array_api_strict``).

The array-API branches of :func:`ntphase.linalg.solve_ridge`,
:func:`ntphase.linalg.eigenvalues` and the dense :func:`ntphase.linalg.lambda_min`:
``xp.linalg.cholesky`` / ``xp.linalg.eigvalsh`` on the matrix's device, at
float64 (:func:`ntphase._util.backend.float64_math`), plus a conjugate-gradient
solver on a matrix-free product (:func:`conjugate_gradient`). The ill-conditioned
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

__all__ = ["conjugate_gradient", "eigenvalues_xp", "is_device_array", "solve_ridge_xp"]


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


def conjugate_gradient(
    matvec: Callable[[Any], Any],
    b: Any,
    *,
    tol: float = 1e-10,
    maxiter: int | None = None,
    preconditioner: Callable[[Any], Any] | None = None,
) -> tuple[Any, int, float]:
    """Preconditioned conjugate gradients for ``A x = b`` on ``b``'s namespace (``A`` SPD via ``matvec``).

    Stops when ``||b - A x|| <= tol ||b||`` (recomputed residual norm of the
    recursion). ``preconditioner(r)`` applies ``M^{-1}`` (SPD), e.g. a Jacobi
    ``r / diag``. Converges in ``O(sqrt(cond) log(1/tol))`` iterations (Hestenes &
    Stiefel 1952); each costs one ``matvec`` and ``O(n)``.

    Returns
    -------
    x : array, shape (n,)
    iterations : int
    relative_residual : float
        ``||r|| / ||b||`` of the recursion at exit (not converged: above ``tol``).
    """
    tol = check_float("tol", tol, minimum=0.0, allow_equal=False)
    xp = array_api_compat.array_namespace(b)
    n = b.shape[0]
    maxiter = check_int("maxiter", maxiter if maxiter is not None else max(10 * n, 100), minimum=1)
    with float64_math(xp):
        b = xp.astype(b, xp.float64)
        bnorm = float(xp.linalg.vector_norm(b))
        x = xp.zeros_like(b)
        if bnorm == 0.0:
            return x, 0, 0.0
        r = b
        z = preconditioner(r) if preconditioner is not None else r
        p = z
        rz = float(xp.sum(r * z))
        res = 1.0
        for it in range(1, maxiter + 1):
            Ap = matvec(p)
            alpha = rz / float(xp.sum(p * Ap))
            x = x + alpha * p
            r = r - alpha * Ap
            res = float(xp.linalg.vector_norm(r)) / bnorm
            if res <= tol:
                return x, it, res
            z = preconditioner(r) if preconditioner is not None else r
            rz_new = float(xp.sum(r * z))
            p = z + (rz_new / rz) * p
            rz = rz_new
        return x, maxiter, res
