"""Conjugate gradients for kernel ridge systems: block PCG and multi-shift ridge paths.

* :func:`block_cg` solves ``(A + lambda_j I) x_j = b_j`` for a block of
  right-hand sides (seeds, targets, or several ridges at once), each column
  its own preconditioned CG (Hestenes & Stiefel 1952), vectorized over the
  columns so that every step is one block product ``A P``. Converged columns
  are frozen and no longer multiplied. When a column's recursive residual
  meets the tolerance its true residual ``b - (A + lambda I) x`` is computed;
  if that has drifted above the tolerance (rounding in the recurrence) the
  column restarts from the true residual (residual replacement, van der Vorst
  & Ye 2000), so the reported residuals are true ones.
* :func:`ridge_path_cg` solves ``(A + lambda I) x = b`` for many ``lambda``
  with one product per step: the shifted systems share the Krylov space of
  ``A`` and their residuals stay collinear with the base system's
  (multi-shift CG: Jegerlehner 1996, arXiv:hep-lat/9612014; Frommer 2003,
  Computing 70:87-109). Unpreconditioned (a preconditioner would break the
  shift invariance). Columns whose true residual misses the tolerance at the
  end are polished by :func:`block_cg` from the multi-shift iterate.

Non-convergence never passes silently: a :class:`ConvergenceWarning` names the
residual reached and the iteration count, and :class:`CGInfo` records both.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.sparse.linalg import LinearOperator, aslinearoperator

from ntphase._util.arrays import from_numpy, namespace, to_numpy
from ntphase._util.backend import float64_math, offload
from ntphase._util.validation import check_float, check_int
from ntphase.linalg.array_api import block_pcg, is_device_array

__all__ = [
    "DEFAULT_MAXITER",
    "DEFAULT_RTOL",
    "CGInfo",
    "ConvergenceWarning",
    "block_cg",
    "ridge_path_cg",
]

#: Default relative residual ``||b - (A + lambda I) x|| / ||b||``.
DEFAULT_RTOL = 1e-8
#: Default iteration cap (CG on a well-preconditioned kernel needs tens; an
#: unpreconditioned interpolator at large n can need thousands).
DEFAULT_MAXITER = 5000


class ConvergenceWarning(RuntimeWarning):
    """An iterative solver stopped before reaching its tolerance."""


@dataclass(frozen=True)
class CGInfo:
    """What a CG solve did.

    Attributes
    ----------
    iterations : ndarray of int, shape (m,)
        Iterations per column (multi-shift: the step at which each shift met
        the tolerance, plus any polishing steps).
    residuals : ndarray, shape (m,)
        Final true relative residuals ``||b_j - (A + lambda_j I) x_j|| / ||b_j||``
        (0 for ``b_j = 0``).
    products : int
        Operator-vector products with ``A`` (a block of ``k`` vectors counts
        ``k``), including the true-residual checks.
    converged : bool
        Every column met ``rtol``.
    column_converged : ndarray of bool, shape (m,)
    rtol : float
    """

    iterations: np.ndarray
    residuals: np.ndarray
    products: int
    converged: bool
    column_converged: np.ndarray
    rtol: float


def no_progress(iteration: int, residual: float) -> None:
    """Default progress callback: does nothing (a progress bar takes ``(iteration, max residual)``)."""


def _as_operator(name: str, A: Any) -> LinearOperator:
    try:
        op = aslinearoperator(A)
    except TypeError:
        raise TypeError(
            f"{name} must be an array, sparse matrix or LinearOperator, got {type(A).__name__}"
        ) from None
    if len(op.shape) != 2 or op.shape[0] != op.shape[1]:
        raise ValueError(f"{name} must be square, got shape {op.shape}")
    return op


def _matmat(op: LinearOperator, V: np.ndarray) -> np.ndarray:
    return np.asarray(op.matmat(V), dtype=np.float64).reshape(V.shape)


def _check_rhs(B: Any, n: int) -> tuple[np.ndarray, bool]:
    B = np.asarray(B, dtype=np.float64)
    vector = B.ndim == 1
    if vector:
        B = B[:, None]
    if B.ndim != 2 or B.shape[0] != n:
        raise ValueError(f"B must have shape ({n},) or ({n}, m) to match A, got {B.shape}")
    if not np.all(np.isfinite(B)):
        raise ValueError("B must contain only finite values (found NaN or inf)")
    return B, vector


def _check_ridges(ridge: Any, m: int, name: str = "ridge") -> np.ndarray:
    if np.ndim(ridge) == 0:
        return np.full(m, check_float(name, ridge, minimum=0.0))
    ridges = np.asarray(ridge, dtype=np.float64)
    if ridges.shape != (m,):
        raise ValueError(
            f"{name} must be a number or have one entry per column ({m}), got shape {ridges.shape}"
        )
    if not np.all(np.isfinite(ridges)) or np.any(ridges < 0):
        raise ValueError(f"{name} must be finite and >= 0, got {ridges}")
    return ridges


def _norms(V: np.ndarray) -> np.ndarray:
    return np.sqrt(np.einsum("ij,ij->j", V, V))


def block_cg(
    A: Any,
    B: Any,
    M: Any = None,
    *,
    ridge: Any = 0.0,
    rtol: float = DEFAULT_RTOL,
    maxiter: int | None = None,
    x0: Any = None,
    progress: Callable[[int, float], None] | None = None,
) -> tuple[np.ndarray, CGInfo]:
    r"""Solve ``(A + lambda_j I) x_j = b_j`` for every column by preconditioned CG.

    Per column ``j`` (all columns advance together, one block product per step):
    ``alpha = (r.z)/(p.(A + lambda) p)``, ``x += alpha p``,
    ``r -= alpha (A + lambda) p``, ``z = M r``, ``p = z + (r.z)_new/(r.z)_old p``,
    until ``||r_j|| <= rtol ||b_j||`` holds for the true residual.

    Parameters
    ----------
    A : ndarray, sparse matrix, LinearOperator or callable, shape (n, n)
        Symmetric positive semi-definite (e.g. a kernel ``K``); ``A + lambda_j I``
        must be positive definite (``lambda = 0`` needs an invertible ``A``).
        A callable computes ``V -> A V`` for ``(n, k)`` arrays of ``B``'s library.
    B : array, shape (n,) or (n, m)
        Right-hand sides.
    M : ndarray, LinearOperator or ColumnPreconditioner, optional
        Symmetric positive definite approximation of ``(A + lambda I)^{-1}``
        (e.g. :class:`~ntphase.linalg.preconditioners.WoodburyPreconditioner`); default none. An object with
        ``apply_columns(R, cols)`` (e.g. ``WoodburyPreconditioner.for_ridges``)
        applies a different preconditioner to each column ``cols[j]``.
    ridge : float or array (m,), default 0
        ``lambda >= 0``, one for all columns or one per column.
    rtol : float, default ``DEFAULT_RTOL = 1e-8``
        Relative residual tolerance per column.
    maxiter : int, optional
        Iteration cap per column (default ``DEFAULT_MAXITER``).
    x0 : array, shape of ``B``, optional
        Start (default zero; a start costs one block product for its residual).
    progress : callable ``(iteration, max relative residual) -> None``, optional
        Called after every step (e.g. to drive a progress bar).

    Returns
    -------
    X : ndarray, shape of ``B``
    info : CGInfo

    Warns
    -----
    ConvergenceWarning
        When a column misses ``rtol`` within ``maxiter`` steps or breaks down
        (``p^T (A + lambda I) p <= 0``: not positive definite); the message
        names the largest residual reached and the iteration count.

    Notes
    -----
    Cost per step: one product of ``A`` and one application of ``M`` with the
    active columns, plus ``O(n m)``. Memory ``5 n m`` floats. In exact
    arithmetic each column converges in at most ``n`` steps; in practice in
    ``O(sqrt(kappa) log(1/rtol))`` with ``kappa`` the condition number of the
    preconditioned system.

    Examples
    --------
    >>> import numpy as np
    >>> A = np.diag([1.0, 2.0, 3.0])
    >>> X, info = block_cg(A, np.ones(3), ridge=1.0)
    >>> bool(np.allclose(X, [1/2, 1/3, 1/4])), info.converged
    (True, True)

    Device arrays: when ``B`` (or a matrix ``A``) is a PyTorch, CuPy or JAX
    array, the same PCG runs on its namespace and device
    (:func:`ntphase.linalg.array_api.block_pcg`, float64 under
    :func:`~ntphase._util.backend.float64_math`); ``A`` is then a matrix of that
    namespace or a callable ``V -> A V`` on ``(n, k)`` device arrays, ``M`` a
    device matrix, a callable ``R -> M R``, or an object with
    ``apply_columns(R, cols)`` taking device arrays; ``X`` comes back on the
    device, ``info`` as above. Inside :func:`ntphase.kernels.use_device` a NumPy
    matrix ``A`` with a NumPy ``B`` is solved on the device and ``X`` returned as NumPy.
    """
    if isinstance(A, np.ndarray) and not is_device_array(B) and not is_device_array(x0):
        moved = offload(A, B, x0)
        if moved is not None:
            _, (Ad, Bd, x0d) = moved
            Xd, info = block_cg(Ad, Bd, M, ridge=ridge, rtol=rtol, maxiter=maxiter, x0=x0d, progress=progress)
            return to_numpy(Xd), info
    if is_device_array(B) or is_device_array(A):
        return _block_cg_device(A, B, M, ridge, rtol, maxiter, x0, progress)
    if _is_product(A):
        A = _callable_operator(A, np.shape(B)[0] if np.ndim(B) else 0)
    op = _as_operator("A", A)
    n = op.shape[0]
    B, vector = _check_rhs(B, n)
    m = B.shape[1]
    ridges = _check_ridges(ridge, m)
    rtol = check_float("rtol", rtol, minimum=0.0, allow_equal=False)
    maxiter = DEFAULT_MAXITER if maxiter is None else check_int("maxiter", maxiter, minimum=1)
    column_wise = hasattr(M, "apply_columns")
    precond = None if M is None or column_wise else _as_operator("M", M)
    if M is not None and tuple(M.shape) != op.shape:
        raise ValueError(f"M must have the shape of A {op.shape}, got {M.shape}")
    progress = no_progress if progress is None else progress
    if not callable(progress):
        raise TypeError(f"progress must be a callable (iteration, residual) or None, got {progress!r}")

    products = 0

    def apply(cols: np.ndarray, V: np.ndarray) -> np.ndarray:
        nonlocal products
        products += V.shape[1]
        return _matmat(op, V) + ridges[cols] * V

    def precondition(R: np.ndarray, cols: np.ndarray) -> np.ndarray:
        if column_wise:
            return np.asarray(M.apply_columns(R, cols), dtype=np.float64).reshape(R.shape)
        return R.copy() if precond is None else _matmat(precond, R)

    if x0 is None:
        X = np.zeros((n, m))
        R = B.copy()
    else:
        X = np.array(x0, dtype=np.float64).reshape(n, -1)
        if X.shape != B.shape:
            raise ValueError(f"x0 must have the shape of B {B.shape}, got {X.shape}")
        R = B - apply(np.arange(m), X)
    bnorm = _norms(B)
    safe = np.where(bnorm > 0, bnorm, 1.0)
    X[:, bnorm == 0] = 0.0  # the exact solution
    R[:, bnorm == 0] = 0.0
    relres = _norms(R) / safe
    active = relres > rtol
    broke = np.zeros(m, dtype=bool)
    iterations = np.zeros(m, dtype=int)
    P = np.zeros((n, m))
    rz = np.ones(m)
    idx = np.flatnonzero(active)
    if idx.size:
        Z = precondition(R[:, idx], idx)
        P[:, idx] = Z
        rz[idx] = np.einsum("ij,ij->j", R[:, idx], Z)

    step = 0
    while idx.size and step < maxiter:
        step += 1
        Pa = P[:, idx]
        Q = apply(idx, Pa)
        pq = np.einsum("ij,ij->j", Pa, Q)
        bad = ~(pq > 0)
        if np.any(bad):
            broke[idx[bad]] = True
            active[idx[bad]] = False
        good = ~bad
        idx, Pa, Q, pq = idx[good], Pa[:, good], Q[:, good], pq[good]
        alpha = rz[idx] / pq
        X[:, idx] += alpha * Pa
        R[:, idx] -= alpha * Q
        iterations[idx] += 1
        relres[idx] = _norms(R[:, idx]) / safe[idx]
        progress(step, float(np.max(relres[idx])) if idx.size else 0.0)
        met = relres[idx] <= rtol
        restart = np.zeros(idx.size, dtype=bool)
        if np.any(met):
            # true residual of the columns that claim convergence (residual replacement)
            cols = idx[met]
            true_R = B[:, cols] - apply(cols, X[:, cols])
            true_rel = _norms(true_R) / safe[cols]
            relres[cols] = true_rel
            R[:, cols] = true_R
            done = true_rel <= rtol
            active[cols[done]] = False
            restart[np.flatnonzero(met)[~done]] = True
        keep = active[idx]
        idx, restart = idx[keep], restart[keep]
        if idx.size:
            Z = precondition(R[:, idx], idx)
            rz_new = np.einsum("ij,ij->j", R[:, idx], Z)
            beta = np.where(restart, 0.0, rz_new / rz[idx])
            P[:, idx] = Z + beta * P[:, idx]
            rz[idx] = rz_new

    if idx.size:  # stopped by maxiter: report true residuals
        true_R = B[:, idx] - apply(idx, X[:, idx])
        relres[idx] = _norms(true_R) / safe[idx]
    info = _finish("block_cg", iterations, relres, products, rtol, broke, maxiter)
    return (X[:, 0] if vector else X), info


def _is_product(A: Any) -> bool:
    """A plain callable ``V -> A V`` (not an array, sparse matrix or LinearOperator)."""
    return callable(A) and not isinstance(A, LinearOperator) and not hasattr(A, "shape")


def _callable_operator(apply: Callable[[Any], Any], n: int) -> LinearOperator:
    """The ``n x n`` LinearOperator of a callable ``V -> A V`` on ``(n, k)`` NumPy arrays."""
    return LinearOperator(
        (n, n),
        matvec=lambda v: np.asarray(apply(np.reshape(v, (n, 1))), dtype=np.float64).reshape(n),
        matmat=lambda V: np.asarray(apply(V), dtype=np.float64),
        dtype=np.float64,
    )


def _block_cg_device(
    A: Any, B: Any, M: Any, ridge: Any, rtol: float, maxiter: int | None, x0: Any,
    progress: Callable[[int, float], None] | None,
) -> tuple[Any, CGInfo]:
    """:func:`block_cg` on the namespace of the device arrays among ``A``, ``B``, ``x0``."""
    like = A if is_device_array(A) else B
    xp = namespace(like)
    with float64_math(xp):
        if is_device_array(A):
            if A.ndim != 2 or A.shape[0] != A.shape[1]:
                raise ValueError(f"A must be square, got shape {tuple(A.shape)}")
            Ad = xp.astype(A, xp.float64)

            def apply(V: Any) -> Any:
                return xp.matmul(Ad, V)

            n = int(A.shape[0])
        elif callable(getattr(A, "matmat", None)) or callable(A):
            apply = A.matmat if callable(getattr(A, "matmat", None)) else A
            n = int(B.shape[0])
            shape = getattr(A, "shape", None)
            if shape is not None and tuple(shape) != (n, n):
                raise ValueError(f"A must be square and match B ({n} rows), got shape {tuple(shape)}")
        else:
            raise TypeError(
                f"A must be a matrix of B's array library or a callable V -> A V on device arrays, "
                f"got {type(A).__name__}"
            )
        Bd = B if is_device_array(B) else from_numpy(np.asarray(B, dtype=np.float64), xp, like)
        namespace(Bd, like, names=("B", "A"))
        Bd = xp.astype(Bd, xp.float64)
        vector = Bd.ndim == 1
        if vector:
            Bd = Bd[:, None]
        if Bd.ndim != 2 or Bd.shape[0] != n:
            raise ValueError(f"B must have shape ({n},) or ({n}, m) to match A, got {tuple(B.shape)}")
        if not bool(xp.all(xp.isfinite(Bd))):
            raise ValueError("B must contain only finite values (found NaN or inf)")
        m = int(Bd.shape[1])
        ridges = _check_ridges(ridge, m)
        rtol = check_float("rtol", rtol, minimum=0.0, allow_equal=False)
        maxiter = DEFAULT_MAXITER if maxiter is None else check_int("maxiter", maxiter, minimum=1)
        if progress is not None and not callable(progress):
            raise TypeError(f"progress must be a callable (iteration, residual) or None, got {progress!r}")
        X0 = None
        if x0 is not None:
            X0 = x0 if is_device_array(x0) else from_numpy(np.asarray(x0, dtype=np.float64), xp, like)
            X0 = xp.reshape(xp.astype(X0, xp.float64), (n, -1))
            if tuple(X0.shape) != (n, m):
                raise ValueError(f"x0 must have the shape of B {(n, m)}, got {tuple(x0.shape)}")
        precondition = _device_preconditioner(xp, M, n)
        X, iterations, relres, products, broke = block_pcg(
            apply, Bd, ridges, rtol=rtol, maxiter=maxiter, precondition=precondition, X0=X0, progress=progress
        )
    info = _finish("block_cg", iterations, relres, products, rtol, broke, maxiter)
    return (X[:, 0] if vector else X), info


def _device_preconditioner(xp: Any, M: Any, n: int) -> Callable[[Any, np.ndarray], Any] | None:
    """``(R, cols) -> M R`` for device residuals ``R``.

    A device matrix or a callable ``R -> M R`` is applied on the device; a NumPy
    matrix is moved there once; a host preconditioner (a SciPy ``LinearOperator``,
    or an object with ``apply_columns(R, cols)`` such as
    :class:`~ntphase.linalg.preconditioners.WoodburyPreconditioner`) is applied on
    the host, ``R`` going there and back each step (``16 n k`` bytes).
    """
    if M is None:
        return None

    def host(f: Callable[[np.ndarray, np.ndarray], Any]) -> Callable[[Any, np.ndarray], Any]:
        def apply(R: Any, cols: np.ndarray) -> Any:
            Rh = np.asarray(to_numpy(R), dtype=np.float64)
            return from_numpy(np.asarray(f(Rh, cols), dtype=np.float64).reshape(Rh.shape), xp, R)

        return apply

    if hasattr(M, "apply_columns"):
        return host(M.apply_columns)
    if isinstance(M, LinearOperator):
        return host(lambda Rh, cols: M.matmat(Rh))
    if isinstance(M, np.ndarray) or is_device_array(M):
        if tuple(M.shape) != (n, n):
            raise ValueError(f"M must have the shape of A {(n, n)}, got {tuple(M.shape)}")
        Md = M if is_device_array(M) else None

        def matrix(R: Any, cols: np.ndarray) -> Any:
            nonlocal Md
            if Md is None:
                Md = from_numpy(np.asarray(M, dtype=np.float64), xp, R)
            return xp.matmul(xp.astype(Md, xp.float64), R)

        return matrix
    if callable(M):
        return lambda R, cols: M(R)
    raise TypeError(
        f"M must be None, a matrix, a LinearOperator, a callable R -> M R or have apply_columns; "
        f"got {type(M).__name__}"
    )


def _finish(who: str, iterations: np.ndarray, relres: np.ndarray, products: int, rtol: float,
            broke: np.ndarray, maxiter: int) -> CGInfo:
    """The run's :class:`CGInfo` from the final relative residuals; warns on unconverged columns."""
    column_converged = relres <= rtol
    info = CGInfo(iterations, relres, products, bool(np.all(column_converged)), column_converged, rtol)
    _warn_unconverged(who, info, broke, maxiter)
    return info


def _warn_unconverged(who: str, info: CGInfo, broke: np.ndarray, maxiter: int) -> None:
    if info.converged:
        return
    missed = np.flatnonzero(~info.column_converged)
    worst = int(missed[np.argmax(info.residuals[missed])])
    message = (
        f"{who}: {missed.size} of {info.residuals.size} column(s) did not reach rtol = {info.rtol:g}; "
        f"largest relative residual {info.residuals[worst]:.3e} (column {worst}, "
        f"{info.iterations[worst]} iterations, cap {maxiter})"
    )
    if np.any(broke[missed]):
        message += (
            f"; {int(np.sum(broke[missed]))} column(s) broke down (p^T (A + lambda I) p <= 0): the "
            "system is not positive definite, e.g. a singular kernel with ridge 0; use a positive ridge"
        )
    else:
        message += "; increase maxiter, use a preconditioner, or a larger ridge"
    warnings.warn(message, ConvergenceWarning, stacklevel=3)


def ridge_path_cg(
    A: Any,
    b: Any,
    lambdas: Any,
    M: Any = None,
    *,
    rtol: float = DEFAULT_RTOL,
    maxiter: int | None = None,
    progress: Callable[[int, float], None] | None = None,
) -> tuple[np.ndarray, CGInfo]:
    r"""Solve ``(A + lambda_s I) x_s = b`` for many ``lambda_s``, matrix-free.

    Two algorithms, chosen by ``M``:

    * ``M=None``: **multi-shift CG** (one product with ``A`` per step for all
      shifts; below).
    * ``M`` a preconditioner with ``for_ridges(lambdas)``
      (:class:`~ntphase.linalg.preconditioners.WoodburyPreconditioner`,
      :class:`~ntphase.linalg.preconditioners.NystromPreconditioner`):
      **batched PCG**, every shift its own column of one :func:`block_cg` with
      its own ``P_{lambda_s}^{-1}``, so each step is one block product with
      ``S`` columns (one pass over a tiled kernel for all shifts) and the
      iteration count is the preconditioned one.

    Multi-shift CG runs on the base system ``A_0 = A + lambda_min I``; every shifted system
    ``A_0 + delta_s I`` (``delta_s = lambda_s - lambda_min >= 0``) has residual
    ``zeta_s r_k`` with the base residual ``r_k`` and scalars
    (Jegerlehner 1996, eqs. for the shifted CG coefficients)

        ``zeta_{k+1} = zeta_k zeta_{k-1} alpha_{k-1} / (alpha_k beta_{k-1}
        (zeta_{k-1} - zeta_k) + zeta_{k-1} alpha_{k-1} (1 + delta alpha_k))``,
        ``alpha^s_k = alpha_k zeta_{k+1}/zeta_k``,
        ``beta^s_k = beta_k (zeta_{k+1}/zeta_k)^2``,
        ``x^s += alpha^s_k p^s``, ``p^s = zeta_{k+1} r_{k+1} + beta^s_k p^s``,

    so all shifts cost one product with ``A`` per step. Shift ``s`` is frozen
    once ``|zeta_s| ||r_k|| <= rtol ||b||``. At the end the true residuals of
    all shifts are computed (one block product); any above ``rtol`` (rounding
    in the recurrences) are polished by :func:`block_cg` from their iterate.

    Parameters
    ----------
    A : ndarray, sparse matrix or LinearOperator, shape (n, n)
        Symmetric positive semi-definite.
    b : array, shape (n,)
    lambdas : array_like, shape (S,)
        Ridges ``>= 0`` (any order; ``0`` needs an invertible ``A``).
    M : preconditioner with ``for_ridges``, optional
        Selects batched PCG (above).
    rtol, maxiter, progress
        As in :func:`block_cg` (``maxiter`` caps the base iterations).

    Returns
    -------
    X : ndarray, shape (n, S)
        ``X[:, s]`` solves the system with ``lambdas[s]``.
    info : CGInfo
        Per shift; ``products`` counts the base steps, the residual check
        (``S``) and any polishing.

    Notes
    -----
    Multi-shift cost: ``k`` products (``k`` the unpreconditioned base
    iterations, set by the smallest ridge) plus ``O(n S)`` per step, against
    ``sum_s k_s`` products for separate solves. Memory ``2 n S + 3 n`` floats.
    Batched PCG: ``k_P`` block products of ``<= S`` columns (``k_P`` the
    preconditioned iterations, ~10 with the harmonic preconditioner) and
    ``5 n S`` floats.
    """
    op = _as_operator("A", A)
    n = op.shape[0]
    b = np.asarray(b, dtype=np.float64)
    if b.shape != (n,):
        raise ValueError(f"b must have shape ({n},) to match A, got {b.shape}")
    if not np.all(np.isfinite(b)):
        raise ValueError("b must contain only finite values (found NaN or inf)")
    lambdas = np.asarray(lambdas, dtype=np.float64)
    if lambdas.ndim != 1 or lambdas.size == 0:
        raise ValueError(f"lambdas must be a non-empty 1-D array, got shape {lambdas.shape}")
    if not np.all(np.isfinite(lambdas)) or np.any(lambdas < 0):
        raise ValueError(f"lambdas must be finite and >= 0, got {lambdas}")
    rtol = check_float("rtol", rtol, minimum=0.0, allow_equal=False)
    maxiter = DEFAULT_MAXITER if maxiter is None else check_int("maxiter", maxiter, minimum=1)
    progress = no_progress if progress is None else progress
    if M is not None:
        if not hasattr(M, "for_ridges"):
            raise TypeError(
                "M must offer for_ridges(lambdas) (WoodburyPreconditioner, NystromPreconditioner) or be None "
                f"(multi-shift CG); got {type(M).__name__}"
            )
        B = np.repeat(b[:, None], lambdas.size, axis=1)
        return block_cg(
            op,
            B,
            M.for_ridges(lambdas),
            ridge=lambdas,
            rtol=rtol,
            maxiter=maxiter,
            progress=progress,
        )
    S = lambdas.size
    base = float(lambdas.min())
    delta = lambdas - base
    bnorm = float(np.linalg.norm(b))
    X = np.zeros((n, S))
    iterations = np.zeros(S, dtype=int)
    products = 0
    if bnorm == 0.0:
        info = CGInfo(iterations, np.zeros(S), 0, True, np.ones(S, dtype=bool), rtol)
        return X, info

    r = b.copy()
    p = b.copy()
    Ps = np.tile(b[:, None], (1, S))  # p^s_0 = zeta_0 r_0 = b
    zeta = np.ones(S)
    zeta_old = np.ones(S)
    alpha_old, beta_old = 1.0, 0.0
    rr = bnorm * bnorm
    active = np.ones(S, dtype=bool)
    broke = np.zeros(S, dtype=bool)
    step = 0
    while np.any(active) and step < maxiter:
        step += 1
        q = np.asarray(op.matvec(p), dtype=np.float64).reshape(n) + base * p
        products += 1
        pq = float(p @ q)
        if not pq > 0:
            broke[active] = True
            break
        alpha = rr / pq
        # shifted coefficients (active shifts only)
        a = np.flatnonzero(active)
        denom = alpha * beta_old * (zeta_old[a] - zeta[a]) + zeta_old[a] * alpha_old * (
            1.0 + delta[a] * alpha
        )
        zeta_new = zeta[a] * zeta_old[a] * alpha_old / denom
        alpha_s = alpha * zeta_new / zeta[a]
        X[:, a] += alpha_s * Ps[:, a]
        r -= alpha * q
        rr_new = float(r @ r)
        beta = rr_new / rr
        beta_s = beta * (zeta_new / zeta[a]) ** 2
        Ps[:, a] = zeta_new * r[:, None] + beta_s * Ps[:, a]
        zeta_old[a], zeta[a] = zeta[a], zeta_new
        p = r + beta * p
        alpha_old, beta_old, rr = alpha, beta, rr_new
        iterations[a] += 1
        rel = np.abs(zeta[a]) * math.sqrt(rr) / bnorm
        progress(step, float(np.max(rel)))
        active[a[rel <= rtol]] = False

    # true residuals of every shift (one block product), then polish the misses
    R = b[:, None] - (_matmat(op, X) + lambdas * X)
    products += S
    relres = _norms(R) / bnorm
    miss = np.flatnonzero(relres > rtol)
    if miss.size and not np.any(broke):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            Xm, polish = block_cg(
                op,
                np.tile(b[:, None], (1, miss.size)),
                ridge=lambdas[miss],
                rtol=rtol,
                maxiter=max(1, maxiter - step),
                x0=X[:, miss],
            )
        X[:, miss] = Xm
        products += polish.products
        iterations[miss] += polish.iterations
        relres[miss] = polish.residuals
    info = _finish("ridge_path_cg", iterations, relres, products, rtol, broke, maxiter)
    return X, info
