"""Preconditioners for kernel ridge systems ``(K + lambda I) x = b``: harmonic (theory) and Nystrom.

Both are symmetric positive definite ``LinearOperator`` objects that apply
``P^{-1}`` (what :func:`~ntphase._staging_linalg.cg.block_cg` takes as ``M``)
through the Woodbury identity
``(U E U^T + c I)^{-1} = (1/c) (I - U (c E^{-1} + U^T U)^{-1} U^T)``.

* :class:`HarmonicPreconditioner`: the structure the theory predicts. On the
  sphere an inner-product kernel is ``K = sum_{k<=l} xi_{d,k} Y_k Y_k^T +
  K_{>l}`` and the high-degree rest is close to ``gamma_{>l} I`` when
  ``n << B(d, l+1)`` (Montanari & Zhong 2022, arXiv:2007.12826; El Karoui 2010,
  arXiv:1001.0492; Ghorbani, Mei, Misiakiewicz & Montanari 2021,
  arXiv:1904.12191), so ``P = F D F^T + (gamma_{>l} + lambda) I`` with the
  explicit harmonic features ``F`` (:mod:`.harmonics`).
* :class:`NystromPreconditioner`: for data without that structure; ``m``
  random centres give the Nystrom approximation
  ``K_hat = K_nm K_mm^+ K_mn`` (Williams & Seeger 2001; used as a
  preconditioner by Falkon, Rudi, Carratino & Rosasco 2017, arXiv:1705.10958)
  and ``P = U (Lambda_hat + lambda) U^T + (lambda_hat_min + lambda)(I - U U^T)``
  on its eigen-decomposition ``K_hat = U Lambda_hat U^T`` (Frangella, Tropp &
  Udell 2023, arXiv:2110.02820: the complement gets the smallest retained
  Nystrom eigenvalue, so ``lambda = 0`` works). ``complement="ridge"`` gives
  the plain ``K_hat + lambda I`` instead.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.linalg
from scipy.sparse.linalg import LinearOperator, aslinearoperator

from ntphase._memory import check_memory, fits
from ntphase._validation import check_choice, check_float, check_int
from ntphase.activations import get_activation
from ntphase.data import as_generator
from ntphase.sphere import level as sphere_level
from ntphase.sphere import sphere_spectrum

from .harmonics import (
    BLOCK_BYTES,
    MAX_DEGREE,
    HarmonicFeatures,
    _check_points,
    feature_count,
)

__all__ = [
    "NYSTROM_RTOL",
    "ColumnPreconditioner",
    "HarmonicPreconditioner",
    "NystromPreconditioner",
    "PreconditionerWarning",
]

#: Eigenvalues of ``K_mm`` (and of the Nystrom approximation) below this times
#: the largest one are treated as zero (pseudo-inverse): they carry rounding
#: of order ``m eps`` amplified by the squaring in ``L^T L``.
NYSTROM_RTOL = 1e-10

_LAYERS = ("first", "second", "both")
_GIB = 1024.0**3


class PreconditionerWarning(RuntimeWarning):
    """A preconditioner was built smaller than asked (memory) or is likely to be poor."""


def _harmonic_bytes(n: int, r: int) -> float:
    """Peak bytes of the harmonic preconditioner: the ``r x r`` Gram and its factor, one row block."""
    return 16.0 * r * r + 8.0 * n + 2.0 * BLOCK_BYTES


class HarmonicPreconditioner(LinearOperator):
    r"""``P^{-1}`` for ``P = F D F^T + (gamma_{>l} + ridge) I``, the kernel's low-degree part plus its rest.

    ``F = [Y_k, k <= l, xi_{d,k} > 0]`` (``n x r``) are the spherical-harmonic
    features (``Y_k Y_k^T = B(d,k) P_k(X X^T/d)``), ``D`` the eigenvalues
    ``xi_{d,k}`` per column (:func:`ntphase.sphere.sphere_spectrum`), so
    ``F D F^T`` is the truncated kernel ``K_{<=l}`` and ``P = K_{<=l} + c I``
    with ``c = gamma_{>l} + ridge`` (``gamma_{>l} = H(1) - sum_{k<=l} B(d,k)
    xi_{d,k}``, the diagonal of ``K - K_{<=l}``). Applied by Woodbury:

        ``P^{-1} v = (v - F C^{-1} F^T v) / c``,  ``C = c D^{-1} + F^T F``,

    with ``C`` Cholesky-factorized once. Degrees with ``xi_{d,k} = 0`` are
    dropped (they add nothing to ``K_{<=l}``).

    Parameters
    ----------
    X : array_like, shape (n, d)
        Rows on the sphere of radius ``sqrt(d)``.
    activation : str or Activation
    ridge : float >= 0, default 0
        ``lambda`` of the system ``(K + lambda I) x = b``.
    level : int in {0, 1, 2} or None
        ``l``. None: ``min(ntphase.sphere.level(n, d, activation), 2)``, lowered
        (with a :class:`PreconditionerWarning` naming ``r`` and the bytes) while
        the ``r x r`` factor does not fit in memory. An explicit level that does
        not fit raises :class:`ntphase._memory.InsufficientMemoryError`.
    layers : {"first", "second", "both"}
        Which kernel function's spectrum (as in :func:`ntphase.infinite_kernel`).

    Attributes
    ----------
    level : int
    degrees : tuple of int
        Degrees kept (``xi_{d,k} > 0``).
    rank : int
        ``r = sum_k B(d,k)`` over the kept degrees.
    gamma : float
        ``gamma_{>l}``.
    shift : float
        ``c = gamma_{>l} + ridge``.
    column_eigenvalues : ndarray (r,)
        ``D``.
    features : HarmonicFeatures

    Notes
    -----
    Build: ``O(n r^2 + r^3)`` flops, ``16 r^2`` bytes (``r = 5,151`` at
    ``d = 100``, ``l = 2``: 0.4 GB). Apply to ``m`` vectors: ``O(n d^2 m + r^2 m)``
    (the features are never formed: :class:`HarmonicFeatures`).

    Examples
    --------
    >>> import numpy as np
    >>> from ntphase.data import sample_sphere
    >>> X = sample_sphere(300, 10, rng=0)
    >>> P = HarmonicPreconditioner(X, "relu", ridge=1e-3)
    >>> P.level, P.rank
    (2, 65)
    >>> v = np.ones(300)
    >>> bool(np.allclose(P.forward(P @ v), v))
    True
    """

    def __init__(
        self,
        X: Any,
        activation: Any,
        ridge: float = 0.0,
        level: int | None = None,
        layers: str = "first",
    ) -> None:
        X = _check_points(X)
        n, d = X.shape
        act = get_activation(activation)
        ridge = check_float("ridge", ridge, minimum=0.0)
        layers = check_choice("layers", layers, _LAYERS)
        if level is None:
            level = min(sphere_level(n, d, act, layers), MAX_DEGREE)
            while level > 0 and not fits(_harmonic_bytes(n, _rank(act, d, level, layers))):
                r = _rank(act, d, level, layers)
                warnings.warn(
                    f"HarmonicPreconditioner: level {level} needs r = {r} features and about "
                    f"{_harmonic_bytes(n, r) / _GIB:.2f} GiB for its r x r factor, more than the memory "
                    f"allows; using level {level - 1}",
                    PreconditionerWarning,
                    stacklevel=2,
                )
                level -= 1
        else:
            level = check_int("level", level, minimum=0, maximum=MAX_DEGREE)
        spectrum = sphere_spectrum(act, d, level, layers)
        degrees = tuple(int(k) for k in np.flatnonzero(spectrum.positive()[: level + 1]))
        gamma = spectrum.gamma_above(level)
        shift = gamma + ridge
        if not shift > 0.0:
            raise ValueError(
                f"ridge + gamma_(>l) must be > 0 for the preconditioner, got ridge = {ridge} and "
                f"gamma_(>{level}) = {gamma:.3g} (the kernel has no mass above degree {level}); "
                "use a positive ridge or a lower level"
            )
        r = sum(feature_count(d, k) for k in degrees)
        check_memory(
            _harmonic_bytes(n, r),
            f"harmonic preconditioner with r = {r} features (level {level}, d = {d})",
            "use a lower level or the NystromPreconditioner",
        )
        self.level = level
        self.degrees = degrees
        self.rank = r
        self.gamma = float(gamma)
        self.ridge = ridge
        self.shift = float(shift)
        self.features = HarmonicFeatures(X, degrees) if degrees else None
        self.column_eigenvalues = (
            np.concatenate([np.full(feature_count(d, k), spectrum.xi[k]) for k in degrees])
            if degrees
            else np.zeros(0)
        )
        self.column_eigenvalues.setflags(write=False)
        self._gram: np.ndarray | None = None
        self._eig: tuple[np.ndarray, np.ndarray] | None = None
        if self.features is not None:
            self._gram = self.features.gram()
            C = self._gram.copy()
            C[np.diag_indices(r)] += self.shift / self.column_eigenvalues
            self._factor = scipy.linalg.cho_factor(C, lower=False, overwrite_a=True, check_finite=False)
        super().__init__(dtype=np.dtype(np.float64), shape=(n, n))

    def for_ridges(self, ridges: Any) -> ColumnPreconditioner:
        r"""Per-column preconditioners ``P_j^{-1}`` with ridges ``ridges[j]`` (for ridge paths).

        One eigen-decomposition ``D^{1/2} F^T F D^{1/2} = V Theta V^T`` (``O(r^3)``,
        cached) gives every ``C_j^{-1} = D^{1/2} V (Theta + c_j)^{-1} V^T D^{1/2}``,
        ``c_j = gamma_{>l} + ridges[j]``; applying all columns costs
        ``O(n d^2 S + r^2 S)``.
        """
        ridges = np.asarray(ridges, dtype=np.float64).reshape(-1)
        if not np.all(np.isfinite(ridges)) or np.any(ridges < 0):
            raise ValueError(f"ridges must be finite and >= 0, got {ridges}")
        shifts = self.gamma + ridges
        if np.any(shifts <= 0):
            raise ValueError(f"ridge + gamma_(>l) must be > 0 for every column; gamma = {self.gamma:.3g}")
        if self.features is None:
            return ColumnPreconditioner(self.shape[0], lambda R, cols: R / shifts[cols])
        if self._eig is None:
            root = np.sqrt(self.column_eigenvalues)
            theta, V = scipy.linalg.eigh(root[:, None] * self._gram * root[None, :], check_finite=False)
            self._eig = (theta, root[:, None] * V)  # (Theta, D^{1/2} V)
        theta, DV = self._eig
        features = self.features

        def apply(R: np.ndarray, cols: np.ndarray) -> np.ndarray:
            c = shifts[cols]
            W = DV.T @ features.rmatmat(R)
            W /= theta[:, None] + c[None, :]
            return (R - features.matmat(DV @ W)) / c

        return ColumnPreconditioner(self.shape[0], apply)

    def solve_core(self, W: np.ndarray) -> np.ndarray:
        """``C^{-1} W`` with ``C = c D^{-1} + F^T F`` (``r x m``): the primal polynomial-ridge system."""
        return scipy.linalg.cho_solve(self._factor, W, check_finite=False)

    def _matmat(self, V: np.ndarray) -> np.ndarray:
        V = np.asarray(V, dtype=np.float64)
        if self.features is None:
            return V / self.shift
        Z = self.solve_core(self.features.rmatmat(V))
        return (V - self.features.matmat(Z)) / self.shift

    def _matvec(self, v: np.ndarray) -> np.ndarray:
        return self._matmat(np.asarray(v, dtype=np.float64).reshape(-1, 1))[:, 0]

    def _adjoint(self) -> HarmonicPreconditioner:
        return self

    def forward(self, V: Any) -> np.ndarray:
        """``P V = F D F^T V + c V`` (the model of ``K + ridge I``), shape of ``V``."""
        V = np.asarray(V, dtype=np.float64)
        if self.features is None:
            return self.shift * V
        V2 = V.reshape(V.shape[0], -1)
        low = self.features.matmat(self.column_eigenvalues[:, None] * self.features.rmatmat(V2))
        return (low + self.shift * V2).reshape(V.shape)


class ColumnPreconditioner:
    """A preconditioner that differs per right-hand side (one ridge per column).

    ``apply_columns(R, cols)`` returns ``P_{cols[j]}^{-1} R[:, j]`` for every
    ``j``; :func:`~ntphase._staging_linalg.cg.block_cg` calls it with the
    indices of its active columns.
    """

    def __init__(self, n: int, apply: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> None:
        self.shape = (n, n)
        self._apply = apply

    def apply_columns(self, R: np.ndarray, cols: np.ndarray) -> np.ndarray:
        return self._apply(np.asarray(R, dtype=np.float64), np.asarray(cols))


def _rank(act: Any, d: int, level: int, layers: str) -> int:
    positive = sphere_spectrum(act, d, level, layers).positive()
    return sum(feature_count(d, k) for k in range(level + 1) if positive[k])


def _columns_from(kernel: Any, n: int | None) -> tuple[Callable[[np.ndarray], np.ndarray], int]:
    """A ``columns(idx) -> K[:, idx]`` callable and ``n`` from an array, operator or callable."""
    if (
        callable(kernel)
        and not isinstance(kernel, (np.ndarray, LinearOperator))
        and not hasattr(kernel, "matmat")
    ):
        if n is None:
            raise TypeError("n (the number of rows of K) is required when kernel is a columns(idx) callable")
        return kernel, check_int("n", n, minimum=1)
    if isinstance(kernel, np.ndarray):
        if kernel.ndim != 2 or kernel.shape[0] != kernel.shape[1]:
            raise ValueError(f"kernel must be a square matrix, got shape {kernel.shape}")
        return (lambda idx: np.asarray(kernel[:, idx], dtype=np.float64)), kernel.shape[0]
    try:
        op = aslinearoperator(kernel)
    except TypeError:
        raise TypeError(
            "kernel must be a square array, a LinearOperator or a columns(idx) -> K[:, idx] callable; "
            f"got {type(kernel).__name__}"
        ) from None
    if op.shape[0] != op.shape[1]:
        raise ValueError(f"kernel must be square, got shape {op.shape}")
    size = op.shape[0]

    def columns(idx: np.ndarray) -> np.ndarray:
        E = np.zeros((size, idx.size))
        E[idx, np.arange(idx.size)] = 1.0
        return np.asarray(op.matmat(E), dtype=np.float64)

    return columns, size


class NystromPreconditioner(LinearOperator):
    r"""``P^{-1}`` for the Nystrom model of ``K + ridge I`` from ``m`` uniformly sampled centres.

    With centres ``J`` (``|J| = m``), ``K_hat = K_{:,J} K_{J,J}^+ K_{J,:} =
    U Lambda_hat U^T`` (``U`` orthonormal ``n x m'``, ``m' <= m`` after
    dropping eigenvalues below ``NYSTROM_RTOL`` of the largest) and

    * ``complement="nystrom"`` (default): ``P = U (Lambda_hat + ridge) U^T +
      (lambda_hat_min + ridge) (I - U U^T)`` (Frangella, Tropp & Udell 2023),
    * ``complement="ridge"``: ``P = K_hat + ridge I`` (needs ``ridge > 0``);

    ``P^{-1} = U (Lambda_hat + ridge)^{-1} U^T + (I - U U^T) / s`` with ``s`` the
    complement's value (Woodbury in the eigenbasis).

    Parameters
    ----------
    kernel : ndarray (n, n), LinearOperator, or callable
        ``K``; a callable must return the columns ``K[:, idx]`` (``n x len(idx)``)
        for an integer index array (e.g. a tiled cross kernel). An operator is
        asked for the columns by one block product with ``m`` unit vectors.
    m : int
        Number of centres, ``1 <= m <= n``.
    ridge : float >= 0
    rng : Generator, int or None
        Picks the centres (uniformly without replacement).
    n : int, optional
        Required with a callable ``kernel``.
    complement : {"nystrom", "ridge"}

    Attributes
    ----------
    centres : ndarray (m,) of int
    rank : int
        ``m'``.
    eigenvalues : ndarray (m',)
        ``Lambda_hat``, descending.
    complement_value : float
        ``s``.

    Notes
    -----
    Build: ``m`` kernel columns, ``O(n m^2 + m^3)`` flops, ``24 n m`` bytes at
    peak (``8 n m`` kept). Apply to ``k`` vectors: ``O(n m k)``.
    """

    def __init__(
        self,
        kernel: Any,
        m: int,
        ridge: float = 0.0,
        rng: Any = None,
        *,
        n: int | None = None,
        complement: str = "nystrom",
    ) -> None:
        columns, n = _columns_from(kernel, n)
        m = check_int("m", m, minimum=1, maximum=n)
        ridge = check_float("ridge", ridge, minimum=0.0)
        complement = check_choice("complement", complement, ("nystrom", "ridge"))
        if complement == "ridge" and ridge == 0.0:
            raise ValueError(
                "complement='ridge' needs ridge > 0 (P = K_hat + ridge I is singular); "
                "use complement='nystrom'"
            )
        check_memory(
            24.0 * n * m + 16.0 * m * m,
            f"Nystrom preconditioner with m = {m} centres (n = {n})",
            "use fewer centres",
        )
        generator = as_generator(rng)
        centres = np.sort(generator.choice(n, size=m, replace=False))
        C = np.asarray(columns(centres), dtype=np.float64)
        if C.shape != (n, m):
            raise ValueError(f"kernel columns must have shape ({n}, {m}), got {C.shape}")
        Kmm = C[centres]
        Kmm = 0.5 * (Kmm + Kmm.T)
        lam, V = scipy.linalg.eigh(Kmm, check_finite=False)
        keep = lam > NYSTROM_RTOL * max(float(lam[-1]), 0.0)
        if not np.any(keep):
            raise ValueError(
                "the kernel's centre block K_mm is zero; the Nystrom preconditioner is undefined"
            )
        L = C @ (V[:, keep] / np.sqrt(lam[keep]))  # K_hat = L L^T
        del C
        U, s, _ = scipy.linalg.svd(L, full_matrices=False, overwrite_a=True, check_finite=False)
        eig = s * s
        keep = eig > NYSTROM_RTOL * eig[0]
        self.U = U[:, keep]
        self.eigenvalues = eig[keep]
        self.rank = int(self.eigenvalues.size)
        self.centres = centres
        self.ridge = ridge
        self.complement = complement
        self.complement_value = float(self.eigenvalues[-1] + ridge) if complement == "nystrom" else ridge
        super().__init__(dtype=np.dtype(np.float64), shape=(n, n))

    def _matmat(self, V: np.ndarray) -> np.ndarray:
        V = np.asarray(V, dtype=np.float64)
        W = self.U.T @ V
        scale = 1.0 / (self.eigenvalues + self.ridge) - 1.0 / self.complement_value
        return V / self.complement_value + self.U @ (scale[:, None] * W)

    def _matvec(self, v: np.ndarray) -> np.ndarray:
        return self._matmat(np.asarray(v, dtype=np.float64).reshape(-1, 1))[:, 0]

    def _adjoint(self) -> NystromPreconditioner:
        return self

    def for_ridges(self, ridges: Any) -> ColumnPreconditioner:
        """Per-column ``P_j^{-1}`` with ridges ``ridges[j]`` (same centres and ``U``; ``O(n m S)`` per use)."""
        ridges = np.asarray(ridges, dtype=np.float64).reshape(-1)
        if not np.all(np.isfinite(ridges)) or np.any(ridges < 0):
            raise ValueError(f"ridges must be finite and >= 0, got {ridges}")
        if self.complement == "ridge" and np.any(ridges == 0):
            raise ValueError("complement='ridge' needs every ridge > 0")
        comp = (self.eigenvalues[-1] + ridges) if self.complement == "nystrom" else ridges

        def apply(R: np.ndarray, cols: np.ndarray) -> np.ndarray:
            s = comp[cols]
            W = self.U.T @ R
            W *= 1.0 / (self.eigenvalues[:, None] + ridges[cols][None, :]) - 1.0 / s[None, :]
            return R / s + self.U @ W

        return ColumnPreconditioner(self.shape[0], apply)

    def forward(self, V: Any) -> np.ndarray:
        """``P V`` (the model of ``K + ridge I``), shape of ``V``."""
        V = np.asarray(V, dtype=np.float64)
        V2 = V.reshape(V.shape[0], -1)
        W = self.U.T @ V2
        excess = self.eigenvalues + self.ridge - self.complement_value
        out = self.complement_value * V2 + self.U @ (excess[:, None] * W)
        return out.reshape(V.shape)
