"""Preconditioners for kernel ridge systems ``(K + lambda I) x = b``: Woodbury and Nystrom.

Both are symmetric positive definite ``LinearOperator`` objects that apply
``P^{-1}`` (what :func:`ntphase.linalg.cg.block_cg` takes as ``M``) through the
Woodbury identity ``(F D F^T + c I)^{-1} = (1/c) (I - F (c D^{-1} + F^T F)^{-1} F^T)``.

* :class:`WoodburyPreconditioner`: ``P = F D F^T + c I`` for given features
  ``F`` (``n x r``, a matrix or any object with ``matmat``/``rmatmat``/``gram``,
  e.g. implicit features that are never formed), positive column weights ``D``
  and ``c > 0``. The harmonic preconditioner of the infinite-width kernel on the
  sphere (``F`` the spherical harmonics of degree ``<= l``, ``D`` the
  ``xi_{d,k}``, ``c = gamma_{>l} + lambda``) is assembled from it by
  :func:`ntphase.learning.preconditioning.harmonic_preconditioner`.
* :class:`NystromPreconditioner`: for kernels without known structure; ``m``
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

from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.linalg
from scipy.sparse.linalg import LinearOperator, aslinearoperator

from ntphase._util.memory import check_memory
from ntphase._util.random import as_generator
from ntphase._util.validation import check_choice, check_float, check_int

__all__ = [
    "NYSTROM_RTOL",
    "ColumnPreconditioner",
    "NystromPreconditioner",
    "WoodburyPreconditioner",
    "woodbury_bytes",
]

#: Eigenvalues of ``K_mm`` (and of the Nystrom approximation) below this times
#: the largest one are treated as zero (pseudo-inverse): they carry rounding
#: of order ``m eps`` amplified by the squaring in ``L^T L``.
NYSTROM_RTOL = 1e-10
#: :meth:`WoodburyPreconditioner.for_ridges` factors each distinct shift (Cholesky, ``r^3/3``)
#: up to this many, and uses one eigen-decomposition (about ``10 r^3`` with vectors) beyond.
FACTOR_SHIFTS_MAX = 8


def woodbury_bytes(n: int, r: int) -> float:
    """Peak bytes of a :class:`WoodburyPreconditioner` with ``r`` implicit features: the ``r x r``
    Gram and its Cholesky factor (``16 r^2``), plus ``O(n)`` (the features' own row blocks excluded)."""
    return 16.0 * float(r) * r + 8.0 * n


class _DenseFeatures:
    """An explicit ``n x r`` matrix behind the feature protocol (``rank``, ``matmat``, ``rmatmat``, ``gram``)."""

    def __init__(self, F: np.ndarray) -> None:
        self.F = F
        self.rank = F.shape[1]

    def matmat(self, U: np.ndarray) -> np.ndarray:
        return self.F @ U

    def rmatmat(self, V: np.ndarray) -> np.ndarray:
        return self.F.T @ V

    def gram(self) -> np.ndarray:
        return self.F.T @ self.F


class WoodburyPreconditioner(LinearOperator):
    r"""``P^{-1}`` for ``P = F D F^T + c I`` by the Woodbury identity.

        ``P^{-1} v = (v - F C^{-1} F^T v) / c``,  ``C = c D^{-1} + F^T F``,

    with ``C`` Cholesky-factorized once. Nothing here knows where ``F`` comes
    from (kernels, spheres, activations): it is any ``n x r`` matrix given as an
    array or as an object with ``rank``, ``matmat(U)`` (``F U``), ``rmatmat(V)``
    (``F^T V``) and ``gram()`` (``F^T F``), e.g.
    :class:`ntphase.kernels.harmonic.HarmonicFeatures`, which never forms ``F``.

    Parameters
    ----------
    features : ndarray (n, r) or feature object, or None
        ``F``; ``None`` (or ``r = 0``) gives ``P = c I``.
    column_eigenvalues : array (r,)
        ``D`` (the diagonal), every entry ``> 0``.
    shift : float > 0
        ``c``.
    n : int, optional
        Rows; required when ``features`` is None.
    ridge : float, default 0
        The part of ``shift`` that is the system's ridge ``lambda`` (``0 <= ridge <= shift``;
        the rest, ``base = shift - ridge``, is the model's own, e.g. ``gamma_{>l}``):
        :meth:`for_ridges` shifts ``base + lambda_j``.

    Attributes
    ----------
    features, column_eigenvalues, shift, ridge, base, rank

    Notes
    -----
    Build: ``F^T F`` (``O(n r^2)`` or the feature object's cost) and one
    Cholesky ``O(r^3 / 3)``; memory :func:`woodbury_bytes` (``16 r^2`` bytes).
    Apply to ``m`` vectors: one ``F^T``, one ``F`` product and ``O(r^2 m)``.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> F = rng.standard_normal((30, 4)); D = np.array([4.0, 3.0, 2.0, 1.0])
    >>> P = WoodburyPreconditioner(F, D, 0.5)
    >>> bool(np.allclose(P @ np.eye(30), np.linalg.inv(F @ np.diag(D) @ F.T + 0.5 * np.eye(30))))
    True
    """

    def __init__(
        self, features: Any, column_eigenvalues: Any, shift: float, n: int | None = None, ridge: float = 0.0
    ) -> None:
        if isinstance(features, np.ndarray) or isinstance(features, list):
            F = np.asarray(features, dtype=np.float64)
            if F.ndim != 2:
                raise ValueError(f"features must be an (n, r) matrix, got shape {F.shape}")
            features = _DenseFeatures(F) if F.shape[1] else None
            n = F.shape[0] if n is None else n
        elif features is not None:
            for attr in ("rank", "matmat", "rmatmat", "gram"):
                if not hasattr(features, attr):
                    raise TypeError(
                        "features must be an (n, r) array or an object with rank, matmat, rmatmat and gram; "
                        f"{type(features).__name__} has no {attr!r}"
                    )
            if n is None:
                n = int(features.n)
        if n is None:
            raise TypeError("n is required when features is None")
        n = check_int("n", n, minimum=1)
        self.shift = check_float("shift", shift, minimum=0.0, allow_equal=False)
        self.ridge = check_float("ridge", ridge, minimum=0.0)
        if self.ridge > self.shift:
            raise ValueError(f"ridge must be <= shift = {self.shift:g} (part of it), got {self.ridge}")
        self.base = self.shift - self.ridge
        D = np.asarray(column_eigenvalues, dtype=np.float64).reshape(-1)
        r = 0 if features is None else int(features.rank)
        if D.shape != (r,):
            raise ValueError(f"column_eigenvalues must have one entry per feature column ({r}), got shape {D.shape}")
        if not np.all(np.isfinite(D)) or np.any(D <= 0):
            raise ValueError(f"column_eigenvalues must be finite and > 0, got min {D.min() if D.size else None}")
        self.features = features if r else None
        self.rank = r
        self.column_eigenvalues = D
        self.column_eigenvalues.setflags(write=False)
        self._gram: np.ndarray | None = None
        self._eig: tuple[np.ndarray, np.ndarray] | None = None
        if self.features is not None:
            check_memory(woodbury_bytes(n, r), f"Woodbury factor with r = {r} features",
                         "use fewer features (a lower degree) or a Nystrom preconditioner")
            self._gram = np.asarray(self.features.gram(), dtype=np.float64)
            self._factor = self._cholesky(self.shift)
        super().__init__(dtype=np.dtype(np.float64), shape=(n, n))

    def for_ridges(self, ridges: Any) -> ColumnPreconditioner:
        r"""Per-column preconditioners with shifts ``c_j = base + ridges[j]`` (for ridge paths).

        Each ``C_j = c_j D^{-1} + F^T F`` is needed. With few distinct shifts
        (``<= FACTOR_SHIFTS_MAX``) each gets its own Cholesky factor (``O(r^3/3)``
        each, the one of ``shift`` reused); with more, one eigen-decomposition
        ``D^{1/2} F^T F D^{1/2} = V Theta V^T`` (``O(r^3)`` with a constant near 10,
        cached) gives every ``C_j^{-1} = D^{1/2} V (Theta + c_j)^{-1} V^T D^{1/2}``.
        Applying all columns costs one ``F^T`` and one ``F`` product and ``O(r^2 S)``.
        ``base = shift - ridge`` is the model's own part of the shift (e.g. ``gamma_{>l}``).
        """
        ridges = np.asarray(ridges, dtype=np.float64).reshape(-1)
        if not np.all(np.isfinite(ridges)) or np.any(ridges < 0):
            raise ValueError(f"ridges must be finite and >= 0, got {ridges}")
        shifts = self.base + ridges
        if np.any(shifts <= 0):
            raise ValueError(f"base + ridge must be > 0 for every column; base = {self.base:.3g}")
        n = self.shape[0]
        if self.features is None:
            return ColumnPreconditioner(n, lambda R, cols: R / shifts[cols])
        features = self.features
        distinct, group = np.unique(shifts, return_inverse=True)
        if distinct.size <= FACTOR_SHIFTS_MAX:
            factors = [self._factor if c == self.shift else self._cholesky(float(c)) for c in distinct]

            def apply_factored(R: np.ndarray, cols: np.ndarray) -> np.ndarray:
                c = shifts[cols]
                W = features.rmatmat(R)
                for g in np.unique(group[cols]):
                    j = group[cols] == g
                    W[:, j] = scipy.linalg.cho_solve(factors[g], W[:, j], check_finite=False)
                return (R - features.matmat(W)) / c

            return ColumnPreconditioner(n, apply_factored)
        theta, DV = self.eigenbasis()

        def apply(R: np.ndarray, cols: np.ndarray) -> np.ndarray:
            c = shifts[cols]
            W = DV.T @ features.rmatmat(R)
            W /= theta[:, None] + c[None, :]
            return (R - features.matmat(DV @ W)) / c

        return ColumnPreconditioner(n, apply)

    def _cholesky(self, shift: float) -> Any:
        """Cholesky factor of ``C = shift D^{-1} + F^T F``."""
        assert self._gram is not None
        C = self._gram.copy()
        C[np.diag_indices(self.rank)] += shift / self.column_eigenvalues
        return scipy.linalg.cho_factor(C, lower=False, overwrite_a=True, check_finite=False)

    def eigenbasis(self) -> tuple[np.ndarray, np.ndarray]:
        """``(Theta, D^{1/2} V)`` with ``D^{1/2} F^T F D^{1/2} = V Theta V^T`` (cached, ``O(r^3)``)."""
        if self._gram is None:
            return np.zeros(0), np.zeros((0, 0))
        if self._eig is None:
            root = np.sqrt(self.column_eigenvalues)
            theta, V = scipy.linalg.eigh(root[:, None] * self._gram * root[None, :], check_finite=False)
            self._eig = (theta, root[:, None] * V)
        return self._eig

    def solve_core(self, W: np.ndarray) -> np.ndarray:
        """``C^{-1} W`` with ``C = c D^{-1} + F^T F`` (``r x m``): the primal ridge system on ``F``."""
        return scipy.linalg.cho_solve(self._factor, W, check_finite=False)

    def _matmat(self, V: np.ndarray) -> np.ndarray:
        V = np.asarray(V, dtype=np.float64)
        if self.features is None:
            return V / self.shift
        Z = self.solve_core(self.features.rmatmat(V))
        return (V - self.features.matmat(Z)) / self.shift

    def _matvec(self, v: np.ndarray) -> np.ndarray:
        return self._matmat(np.asarray(v, dtype=np.float64).reshape(-1, 1))[:, 0]

    def _adjoint(self) -> WoodburyPreconditioner:
        return self

    def forward(self, V: Any) -> np.ndarray:
        """``P V = F D F^T V + c V`` (the model itself), shape of ``V``."""
        V = np.asarray(V, dtype=np.float64)
        if self.features is None:
            return self.shift * V
        V2 = V.reshape(V.shape[0], -1)
        low = self.features.matmat(self.column_eigenvalues[:, None] * self.features.rmatmat(V2))
        return (low + self.shift * V2).reshape(V.shape)


class ColumnPreconditioner:
    """A preconditioner that differs per right-hand side (one ridge per column).

    ``apply_columns(R, cols)`` returns ``P_{cols[j]}^{-1} R[:, j]`` for every
    ``j``; :func:`ntphase.linalg.cg.block_cg` calls it with the
    indices of its active columns.
    """

    def __init__(self, n: int, apply: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> None:
        self.shape = (n, n)
        self._apply = apply

    def apply_columns(self, R: np.ndarray, cols: np.ndarray) -> np.ndarray:
        return self._apply(np.asarray(R, dtype=np.float64), np.asarray(cols))


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
