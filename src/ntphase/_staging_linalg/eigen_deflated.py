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

Solvers (``method``):

* ``"davidson"`` (default): generalized Davidson (Davidson 1975, J. Comput.
  Phys. 17:87-94; Morgan & Scott 1986, SIAM J. Sci. Stat. Comput. 7:817-825)
  with thick restarts: the basis grows by the preconditioned residual
  ``P^{-1} (K u - theta u)``, Rayleigh-Ritz on the whole basis. Where
  ``P^{-1}`` acts as the scalar ``1/gamma`` (the bulk) this is Lanczos on ``K``;
  on ``span(F)`` the spikes are inverted away.
* ``"lobpcg"``: LOBPCG (Knyazev 2001, SIAM J. Sci. Comput. 23(2):517-541;
  ``scipy.sparse.linalg.lobpcg``) with ``T = P^{-1}``.

Measured (relu, ``K_N`` with ``N d / n = 2``, tol ``1e-10``; products):
d = 50: n = 2,000 Davidson 273, LOBPCG 607, ``ntphase.lambda_min`` Lanczos
511; n = 4,000: 324, 494, 651. d = 20: n = 4,000: 375, 1,041, 561; n = 8,000:
402, >2,000 (not converged), 621. So Davidson is the default; it needs 1.5-2x
fewer products than Lanczos, not an order of magnitude: what costs products is
resolving the bottom edge of the bulk, which any preconditioner built from
``F`` and the identity leaves as it is (it is a scalar there).

Lanczos after projecting out ``span(F)`` was not used: ``span(F)`` is only
approximately invariant for ``K`` (``K`` couples it to the rest through
``K_{>l}``), so the projected operator's smallest eigenvalue differs from
``lambda_min(K)``; both methods above keep the Rayleigh quotient of ``K``
itself, so the value is exact.

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
import scipy.linalg
from scipy.sparse.linalg import LinearOperator, aslinearoperator, lobpcg

from ntphase._memory import available_memory
from ntphase._validation import check_choice, check_float, check_int
from ntphase.data import as_generator

from .cg import ConvergenceWarning
from .preconditioners import HarmonicPreconditioner

__all__ = ["DEFAULT_TOL", "HarmonicLambdaMin", "lambda_min_harmonic"]

#: Residual tolerance relative to the ``lambda_max`` estimate (as ``ntphase.lambda_min``).
DEFAULT_TOL = 1e-10
#: Default cap on LOBPCG iterations / Davidson products.
DEFAULT_MAXITER = 5000
#: A Davidson correction that keeps less than this fraction of its norm after
#: orthogonalization against the basis is replaced by a random direction.
_REORTH_FLOOR = 1e-10
#: Davidson basis size before a thick restart (``2 x 8 n`` bytes per vector: basis and its image).
DAVIDSON_BASIS = 400
#: Ritz vectors kept at a restart (the smallest ones).
DAVIDSON_KEEP = 40
#: The Davidson basis may use at most this fraction of the available memory.
DAVIDSON_MEMORY_FRACTION = 0.1


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
        LOBPCG iterations or Davidson expansion steps.
    method : str
        ``"davidson"`` or ``"lobpcg"``.
    """

    value: float
    matvecs: int
    residual_norm: float
    scale: float
    converged: bool
    level: int
    rank: int
    iterations: int
    method: str

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
    method: str = "davidson",
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
        Cap on Davidson products / LOBPCG iterations (default ``DEFAULT_MAXITER``).
    block_size : int, default 1
        LOBPCG block size.
    preconditioner : HarmonicPreconditioner, optional
        Reuse a built one (``ridge = 0``).
    method : {"davidson", "lobpcg"}
        Module docstring.

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
    Cost: the preconditioner (``O(n r^2 + r^3)``), then per step one product
    with ``K`` and one application of ``P^{-1}`` (``O(n d^2)``), plus
    ``O(n k + k^3)`` for the Davidson basis of ``k <= DAVIDSON_BASIS`` vectors
    (``16 n k`` bytes) or ``O(n block_size^2)`` for LOBPCG.
    """
    op = aslinearoperator(K)
    n = op.shape[0]
    if op.shape != (n, n):
        raise ValueError(f"K must be square, got shape {op.shape}")
    tol = check_float("tol", tol, minimum=0.0, allow_equal=False)
    block_size = check_int("block_size", block_size, minimum=1, maximum=max(1, n // 5))
    maxiter = DEFAULT_MAXITER if maxiter is None else check_int("maxiter", maxiter, minimum=1)
    method = check_choice("method", method, ("davidson", "lobpcg"))
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
    x1 = np.asarray(P.features.X[:, 0] if P.features is not None else generator.standard_normal(n))
    probe[:, 1] = x1 / np.linalg.norm(x1)
    scale = float(np.max(np.einsum("ij,ij->j", probe, counted.matmat(probe))))
    scale = scale if scale > 0 else 1.0

    if method == "davidson":
        u, steps, scale = _davidson(counted, P, tol, scale, maxiter, generator)
    else:
        start = P.matmat(generator.standard_normal((n, block_size)))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # lobpcg's own non-convergence note; ours follows
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
        steps = max(len(history) - 1, 0)
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
        steps,
        method,
    )
    if not converged:
        warnings.warn(
            f"lambda_min_harmonic: residual {residual:.3e} above tol * scale = {tol * scale:.3e} after "
            f"{result.iterations} {method} iterations ({counted.count} products); the value {value:.6g} is an "
            "upper bound on lambda_min; increase maxiter or tol",
            ConvergenceWarning,
            stacklevel=2,
        )
    return result


def _davidson(
    op: _Counted,
    P: HarmonicPreconditioner,
    tol: float,
    scale: float,
    maxiter: int,
    generator: np.random.Generator,
) -> tuple[np.ndarray, int, float]:
    """Generalized Davidson with thick restart; returns the unit Ritz vector, the steps and the scale.

    Basis ``V`` (orthonormal, two Gram-Schmidt passes), ``W = K V`` and the
    projected ``H = V^T W`` are kept and grown by one column per step, so a
    step costs one product, one ``P^{-1}``, ``O(n k)`` and an ``O(k^3)``
    Ritz problem. The residual of the Ritz pair is ``W s - theta V s``.
    """
    n = op.shape[0]
    by_memory = int(DAVIDSON_MEMORY_FRACTION * available_memory() / (16.0 * n))
    kmax = max(2, min(n, DAVIDSON_BASIS, max(by_memory, 2 * DAVIDSON_KEEP)))
    keep = min(DAVIDSON_KEEP, kmax // 2)
    V = np.empty((n, kmax))
    W = np.empty((n, kmax))
    H = np.empty((kmax, kmax))
    t = P.matvec(generator.standard_normal(n))
    k = 0
    u = t / np.linalg.norm(t)
    for step in range(1, maxiter + 1):
        norm0 = float(np.linalg.norm(t))
        for _ in range(2):
            t -= V[:, :k] @ (V[:, :k].T @ t)
        norm = float(np.linalg.norm(t))
        if not norm > _REORTH_FLOOR * norm0:  # the correction lies in the basis: diversify
            t = generator.standard_normal(n)
            for _ in range(2):
                t -= V[:, :k] @ (V[:, :k].T @ t)
            norm = float(np.linalg.norm(t))
        V[:, k] = t / norm
        W[:, k] = op.matvec(V[:, k])
        H[: k + 1, k] = V[:, : k + 1].T @ W[:, k]
        H[k, :k] = H[:k, k]
        k += 1
        theta, S = scipy.linalg.eigh(H[:k, :k], check_finite=False)
        scale = max(scale, float(theta[-1]))
        u = V[:, :k] @ S[:, 0]
        r = W[:, :k] @ S[:, 0] - theta[0] * u
        if np.linalg.norm(r) <= tol * scale:
            return u, step, scale
        if k == kmax:  # thick restart on the smallest Ritz vectors
            V[:, :keep] = V[:, :k] @ S[:, :keep]
            W[:, :keep] = W[:, :k] @ S[:, :keep]
            H[:keep, :keep] = np.diag(theta[:keep])
            k = keep
        t = P.matvec(r)
    return u, maxiter, scale
