"""Smallest eigenvalue of a kernel on the sphere with its low-degree spikes preconditioned away.

On the sphere a kernel ``K`` (infinite-width, or the empirical ``K_N``) has a
few huge eigenvalue groups ("spikes", ``~ n xi_{d,k}``) on the low-degree
harmonics and a bulk near ``gamma_{>l}`` (Montanari & Zhong 2022,
arXiv:2007.12826, section 4). A Krylov method for ``lambda_min`` must resolve
the bottom of the bulk relative to ``lambda_max`` (the top spike), so its
product count grows with the spread. Preconditioning with the theory's model
``P = F D F^T + gamma_{>l} I`` (:class:`HarmonicPreconditioner`) maps the
spikes near 1 while keeping the Rayleigh quotient of ``K`` itself, so the
value is exact (not the eigenvalue of a deflated approximation).

Solver: LOBPCG (Knyazev 2001, SIAM J. Sci. Comput. 23(2):517-541;
``scipy.sparse.linalg.lobpcg``) with ``T = P^{-1}``. Lanczos after projecting
out ``span(F)`` was not chosen: ``span(F)`` is only approximately invariant for
``K`` (``K`` couples it to the rest through ``K_{>l}``), so the projected
operator's smallest eigenvalue differs from ``lambda_min(K)`` and would need a
correction; the preconditioned Rayleigh-quotient iteration needs none.

Accuracy: the returned Ritz value ``theta`` and unit Ritz vector ``u`` satisfy
``0 <= theta - lambda_min <= ||K u - theta u|| <= tol * scale``, with
``scale`` a Rayleigh quotient of ``K`` (a lower bound on ``lambda_max``): the
same criterion as :func:`ntphase.lambda_min`.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.sparse.linalg import LinearOperator, aslinearoperator, lobpcg

from ntphase._validation import check_float, check_int
from ntphase.data import as_generator

from .cg import ConvergenceWarning
from .preconditioners import HarmonicPreconditioner

__all__ = ["DEFAULT_TOL", "HarmonicLambdaMin", "lambda_min_harmonic"]

#: Residual tolerance relative to the ``lambda_max`` estimate (as ``ntphase.lambda_min``).
DEFAULT_TOL = 1e-10
#: Default LOBPCG iteration cap.
DEFAULT_MAXITER = 2000


@dataclass(frozen=True)
class HarmonicLambdaMin:
    """Smallest eigenvalue from preconditioned LOBPCG, with how it was obtained.

    Attributes
    ----------
    value : float
        Ritz value ``theta >= lambda_min``.
    matvecs : int
        Products with ``K`` (a block of ``k`` vectors counts ``k``), including
        the scale estimate and the final residual check.
    residual_norm : float
        ``||K u - theta u||`` for the unit Ritz vector (recomputed at the end).
    scale : float
        Rayleigh-quotient estimate of ``lambda_max`` (from below).
    converged : bool
        ``residual_norm <= tol * scale``.
    level, rank : int
        Degree ``l`` and number ``r`` of harmonic features in the preconditioner.
    iterations : int
        LOBPCG iterations.
    """

    value: float
    matvecs: int
    residual_norm: float
    scale: float
    converged: bool
    level: int
    rank: int
    iterations: int

    @property
    def error_bound(self) -> float:
        """Bound on ``value - lambda_min`` (the residual norm)."""
        return self.residual_norm

    def __float__(self) -> float:
        return float(self.value)


class _Counted(LinearOperator):
    def __init__(self, op: LinearOperator) -> None:
        self.op = op
        self.count = 0
        super().__init__(dtype=np.dtype(np.float64), shape=op.shape)

    def _matmat(self, V: np.ndarray) -> np.ndarray:
        V = np.asarray(V, dtype=np.float64)
        self.count += V.shape[1]
        return np.asarray(self.op.matmat(V), dtype=np.float64).reshape(V.shape)

    def _matvec(self, v: np.ndarray) -> np.ndarray:
        return self._matmat(np.asarray(v).reshape(-1, 1))[:, 0]

    def _adjoint(self) -> _Counted:
        return self


def lambda_min_harmonic(
    K: Any,
    X: Any,
    activation: Any,
    *,
    layers: str = "first",
    level: int | None = None,
    tol: float = DEFAULT_TOL,
    rng: Any = None,
    maxiter: int | None = None,
    block_size: int = 1,
    preconditioner: HarmonicPreconditioner | None = None,
) -> HarmonicLambdaMin:
    r"""``lambda_min(K)`` by LOBPCG preconditioned with the harmonic model of ``K``.

    Parameters
    ----------
    K : ndarray, LinearOperator (e.g. :class:`ntphase.NTKernelOperator`), shape (n, n)
        Symmetric positive semi-definite kernel of the points ``X``.
    X : array_like, shape (n, d)
        The points, on the sphere of radius ``sqrt(d)``.
    activation : str or Activation
        Gives ``xi_{d,k}`` and ``gamma_{>l}`` of the model (for ``K_N`` the
        infinite-width ones: its spikes sit on the same harmonics).
    layers : {"first", "second", "both"}
    level : int in {0, 1, 2} or None
        As in :class:`HarmonicPreconditioner`.
    tol : float, default ``DEFAULT_TOL = 1e-10``
        Residual tolerance relative to the ``lambda_max`` estimate.
    rng : Generator, int or None
        Start block.
    maxiter : int, optional
        LOBPCG iteration cap (default ``DEFAULT_MAXITER``).
    block_size : int, default 1
        LOBPCG block size.
    preconditioner : HarmonicPreconditioner, optional
        Reuse a built one (``ridge = 0``).

    Returns
    -------
    HarmonicLambdaMin

    Warns
    -----
    ConvergenceWarning
        If the residual misses ``tol * scale``; the best Ritz value and its
        residual are returned (``converged=False``).

    Notes
    -----
    Cost: the preconditioner (``O(n r^2 + r^3)``), then per iteration
    ``block_size`` products with ``K`` and applications of ``P^{-1}``
    (``O(n d^2)``), plus LOBPCG's ``O(n block_size^2)``.
    """
    op = aslinearoperator(K)
    n = op.shape[0]
    if op.shape != (n, n):
        raise ValueError(f"K must be square, got shape {op.shape}")
    tol = check_float("tol", tol, minimum=0.0, allow_equal=False)
    block_size = check_int("block_size", block_size, minimum=1, maximum=max(1, n // 5))
    maxiter = (
        DEFAULT_MAXITER if maxiter is None else check_int("maxiter", maxiter, minimum=1)
    )
    P = (
        preconditioner
        if preconditioner is not None
        else HarmonicPreconditioner(X, activation, 0.0, level, layers)
    )
    if P.shape != op.shape:
        raise ValueError(f"the preconditioner has shape {P.shape}, K has {op.shape}")
    counted = _Counted(op)
    generator = as_generator(rng)

    # scale: the largest Rayleigh quotient of K over the constant and the first coordinate
    probe = np.empty((n, 2))
    probe[:, 0] = 1.0 / math.sqrt(n)
    x1 = np.asarray(
        P.features.X[:, 0] if P.features is not None else generator.standard_normal(n)
    )
    probe[:, 1] = x1 / np.linalg.norm(x1)
    scale = float(np.max(np.einsum("ij,ij->j", probe, counted.matmat(probe))))
    scale = scale if scale > 0 else 1.0

    start = P.matmat(generator.standard_normal((n, block_size)))
    with warnings.catch_warnings():
        warnings.simplefilter(
            "ignore", UserWarning
        )  # lobpcg's own non-convergence note; ours follows
        values, vectors, history = lobpcg(
            counted,
            start,
            M=P,
            tol=tol * scale,
            maxiter=maxiter,
            largest=False,
            retResidualNormsHistory=True,
        )
    j = int(np.argmin(values))
    u = vectors[:, j] / np.linalg.norm(vectors[:, j])
    Ku = counted.matvec(u)
    value = float(u @ Ku)
    residual = float(np.linalg.norm(Ku - value * u))
    converged = residual <= tol * scale
    result = HarmonicLambdaMin(
        value,
        counted.count,
        residual,
        scale,
        converged,
        P.level,
        P.rank,
        max(len(history) - 1, 0),
    )
    if not converged:
        warnings.warn(
            f"lambda_min_harmonic: residual {residual:.3e} above tol * scale = {tol * scale:.3e} after "
            f"{result.iterations} LOBPCG iterations ({counted.count} products); the value {value:.6g} is an "
            "upper bound on lambda_min; increase maxiter or tol",
            ConvergenceWarning,
            stacklevel=2,
        )
    return result
