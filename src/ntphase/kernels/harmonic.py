"""Explicit spherical-harmonic features of degree <= 2, with an implicit product form.

For points on the sphere of radius ``sqrt(d)`` in ``R^d`` the addition theorem
(Atkinson & Han 2012, *Spherical Harmonics and Approximations on the Unit
Sphere*, thm. 2.9) says that an orthonormal basis ``Y_k = (Y_{k,1} ..
Y_{k,B(d,k)})`` of the degree-``k`` harmonics (orthonormal in ``L^2`` of the
uniform measure) satisfies ``Y_k(x) . Y_k(x') = B(d,k) P_k(<x, x'>/d)``, with
``P_k`` the Gegenbauer polynomial normalized to ``P_k(1) = 1``. So for data
``X`` (``n x d``) the matrix ``Y_k`` (``n x B(d,k)``) satisfies

    ``Y_k Y_k^T / B(d,k) = P_k(X X^T / d)``  exactly,

and the degree-``<= l`` part of an inner-product kernel with eigenvalues
``xi_{d,k}`` is ``K_{<=l} = sum_{k<=l} xi_{d,k} Y_k Y_k^T = F D F^T``
(``F = [Y_0 .. Y_l]``, ``D`` the ``xi`` repeated per column).

Closed forms used here (``|x|^2 = d``):

* ``k = 0``: ``Y_0 = 1`` (``B = 1``);
* ``k = 1``: ``Y_1 = X`` (``X X^T / d = t = P_1(t)``, ``B = d``);
* ``k = 2``: the traceless symmetric part ``T(x) = x x^T - I`` satisfies
  ``<T(x), T(x')>_F = (x.x')^2 - d = d (d-1) P_2(t)`` since
  ``P_2(t) = (d t^2 - 1)/(d - 1)``. In an orthonormal basis of the traceless
  symmetric ``d x d`` matrices (``B(d,2) = d(d+1)/2 - 1`` of them: the
  ``(e_a e_b^T + e_b e_a^T)/sqrt(2)``, ``a < b``, and ``diag(h_m)`` for the
  Helmert vectors ``h_m``, ``m = 1..d-1``, orthonormal and orthogonal to ``1``)
  the coordinates of ``T(x)`` are ``sqrt(2) x_a x_b`` and ``h_m . (x o x)``;
  scaled by ``sqrt(B(d,2) / (d (d-1))) = sqrt((d+2)/(2d))`` they give ``Y_2``.

At ``n = 100,000``, ``d = 100`` the degree-2 block has 5,049 columns (4 GB), so
:class:`HarmonicFeatures` never forms it: ``F^T V`` and ``F U`` go through the
``d x d`` matrices ``X^T diag(v) X`` and ``x^T U x`` (BLAS-3 products of cost
``O(n d^2)`` per vector), and ``F^T F`` is accumulated over row blocks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.linalg

from ntphase import conventions
from ntphase._util.validation import check_choice, check_int, check_matrix
from ntphase.activations import get_activation
from ntphase.conventions import LAYERS
from ntphase.kernels._inputs import check_on_sphere
from ntphase.sphere import sphere_spectrum

__all__ = [
    "HARMONIC_MAX_DEGREE",
    "HarmonicFeatures",
    "HarmonicModel",
    "feature_count",
    "harmonic_features",
    "harmonic_model",
    "harmonic_rank",
]

#: Highest degree with closed-form features here.
HARMONIC_MAX_DEGREE = 2


def _check_points(X: Any) -> np.ndarray:
    X = np.asarray(check_matrix("X", X), dtype=np.float64)
    d = X.shape[1]
    if d < 2:
        raise ValueError(f"X must have d >= 2 columns, got shape {X.shape}")
    check_on_sphere(X, "X")
    return X


def _check_degree(degree: Any, name: str = "degree") -> int:
    degree = check_int(name, degree, minimum=0)
    if degree > HARMONIC_MAX_DEGREE:
        raise ValueError(
            f"{name} must be <= {HARMONIC_MAX_DEGREE} (closed-form harmonic features exist for degrees "
            f"0, 1, 2), got {degree}"
        )
    return degree


def feature_count(d: int, degree: int) -> int:
    """Number of columns ``B(d, degree)`` of :func:`harmonic_features` (``1``, ``d``, ``d(d+1)/2 - 1``)."""
    d = check_int("d", d, minimum=2)
    degree = _check_degree(degree)
    return (1, d, d * (d + 1) // 2 - 1)[degree]


def _helmert(d: int) -> np.ndarray:
    """Orthonormal basis of ``{h in R^d : sum h = 0}`` (``d x (d-1)``): Helmert's contrasts."""
    H = np.zeros((d, d - 1))
    for m in range(1, d):
        H[:m, m - 1] = 1.0
        H[m, m - 1] = -float(m)
        H[:, m - 1] /= math.sqrt(m * (m + 1.0))
    return H


class _Degree2:
    """Layout and constants of the degree-2 coordinates (shared by the explicit and implicit forms)."""

    def __init__(self, d: int) -> None:
        self.d = d
        self.helmert = _helmert(d)
        self.upper = np.triu_indices(d, 1)
        self.scale = math.sqrt((d + 2.0) / (2.0 * d))
        self.size = d * (d + 1) // 2 - 1

    def explicit(self, X: np.ndarray) -> np.ndarray:
        """Rows ``Y_2(x)`` for the rows of ``X`` (``rows x B(d,2)``)."""
        a, b = self.upper
        out = np.empty((X.shape[0], self.size))
        np.matmul(X * X, self.helmert, out=out[:, : self.d - 1])
        np.multiply(X[:, a], X[:, b], out=out[:, self.d - 1 :])
        out[:, self.d - 1 :] *= math.sqrt(2.0)
        out *= self.scale
        return out

    def coefficients(self, M: np.ndarray) -> np.ndarray:
        """Coordinates of symmetric ``M[:, :, j]`` (``d x d x m``) in the basis, times the scale."""
        a, b = self.upper
        diag = np.einsum("aaj->aj", M)
        out = np.empty((self.size, M.shape[2]))
        out[: self.d - 1] = self.helmert.T @ diag
        out[self.d - 1 :] = math.sqrt(2.0) * M[a, b, :]
        out *= self.scale
        return out

    def matrices(self, U: np.ndarray) -> np.ndarray:
        """Symmetric traceless ``d x d x m`` matrices with coordinates ``U`` (``B(d,2) x m``), times the scale."""
        a, b = self.upper
        m = U.shape[1]
        S = np.zeros((self.d, self.d, m))
        S[np.arange(self.d), np.arange(self.d), :] = self.helmert @ U[: self.d - 1]
        off = U[self.d - 1 :] / math.sqrt(2.0)
        S[a, b, :] = off
        S[b, a, :] = off
        S *= self.scale
        return S


def harmonic_features(X: Any, degree: int) -> np.ndarray:
    r"""Explicit degree-``k`` spherical-harmonic features ``Y_k`` of points on the sphere.

    ``Y_k Y_k^T / B(d,k) = P_k(X X^T / d)`` exactly (addition theorem; module
    docstring), ``P_k`` the Gegenbauer polynomial with ``P_k(1) = 1``
    (:func:`ntphase.sphere.gegenbauer`).

    Parameters
    ----------
    X : array_like, shape (n, d)
        Rows on the sphere of radius ``sqrt(d)`` (relative tolerance ``conventions.RADIUS_RTOL``).
    degree : {0, 1, 2}

    Returns
    -------
    ndarray, float64, shape (n, B(d, degree))
        Degree 0: ones; degree 1: ``X``; degree 2: ``sqrt((d+2)/(2d))`` times the
        coordinates of ``x x^T - I`` in an orthonormal basis of traceless
        symmetric matrices (Helmert diagonal directions first, then the pairs
        ``a < b`` in ``numpy.triu_indices`` order).

    Notes
    -----
    Cost and memory ``O(n B(d,k))``: 4 GB at ``n = 100,000``, ``d = 100``,
    ``k = 2``; use :class:`HarmonicFeatures` for products without the matrix.

    Examples
    --------
    >>> import numpy as np
    >>> from ntphase.data import sample_sphere
    >>> from ntphase.sphere import gegenbauer
    >>> X = sample_sphere(5, 4, rng=0)
    >>> Y = harmonic_features(X, 2)
    >>> bool(np.allclose(Y @ Y.T / Y.shape[1], gegenbauer(2, 4, X @ X.T / 4)))
    True
    """
    X = _check_points(X)
    degree = _check_degree(degree)
    if degree == 0:
        return np.ones((X.shape[0], 1))
    if degree == 1:
        return X.copy()
    return _Degree2(X.shape[1]).explicit(X)


class HarmonicFeatures:
    r"""The feature matrix ``F = [Y_k for k in degrees]`` of points on the sphere, implicitly.

    Products with ``F`` and ``F^T`` without forming it (module docstring):
    degree 2 via ``F_2^T v = coords(X^T diag(v) X)`` and
    ``(F_2 u)_i = x_i^T U x_i``, ``U`` the traceless symmetric matrix with
    coordinates ``u``.

    Parameters
    ----------
    X : array_like, shape (n, d)
        Rows on the sphere of radius ``sqrt(d)``. Referenced, not copied, when float64.
    degrees : sequence of int
        Distinct degrees in ``{0, 1, 2}``, in increasing order (e.g. ``(0, 1, 2)``,
        or ``(0, 2)`` when ``xi_{d,1} = 0``).

    Attributes
    ----------
    n, d : int
    degrees : tuple of int
    sizes : tuple of int
        ``B(d,k)`` per degree.
    rank : int
        ``r = sum B(d,k)``, the number of columns.

    Notes
    -----
    Costs per block of ``m`` vectors: ``O(n d^2 m)`` for :meth:`matmat` and
    :meth:`rmatmat` with degree 2 (``O(n d m)`` without), temporaries of about
    ``conventions.KERNEL_BLOCK_BYTES``. :meth:`gram` costs ``O(n r^2)`` flops and ``8 r^2`` bytes.
    """

    def __init__(self, X: Any, degrees: Any = (0, 1, 2)) -> None:
        self._X = _check_points(X)
        degrees = tuple(_check_degree(k, "degrees") for k in degrees)
        if not degrees or list(degrees) != sorted(set(degrees)):
            raise ValueError(f"degrees must be distinct, increasing and non-empty, got {degrees!r}")
        self.n, self.d = self._X.shape
        self.degrees = degrees
        self.sizes = tuple(feature_count(self.d, k) for k in degrees)
        self.rank = int(sum(self.sizes))
        self._offsets = np.concatenate([[0], np.cumsum(self.sizes)]).astype(int)
        self._deg2 = _Degree2(self.d)  # O(d^2) setup, used only with degree 2

    @property
    def X(self) -> np.ndarray:
        """The points (read-only view)."""
        view = self._X.view()
        view.setflags(write=False)
        return view

    def degree_slices(self) -> dict[int, slice]:
        """Column range of each degree."""
        return {
            k: slice(int(self._offsets[i]), int(self._offsets[i + 1])) for i, k in enumerate(self.degrees)
        }

    def _rows_budget(self, per_row: float) -> int:
        return int(max(1, min(self.n, conventions.KERNEL_BLOCK_BYTES // max(per_row, 1.0))))

    def rows(self, start: int, stop: int) -> np.ndarray:
        """Explicit rows ``F[start:stop]`` (``(stop - start) x r``)."""
        Xb = self._X[start:stop]
        out = np.empty((Xb.shape[0], self.rank))
        for k, sl in self.degree_slices().items():
            if k == 0:
                out[:, sl] = 1.0
            elif k == 1:
                out[:, sl] = Xb
            else:
                out[:, sl] = self._deg2.explicit(Xb)
        return out

    def todense(self) -> np.ndarray:
        """``F`` as an ``n x r`` array (``8 n r`` bytes)."""
        return self.rows(0, self.n)

    def rmatmat(self, V: Any) -> np.ndarray:
        """``F^T V`` for ``V`` of shape ``(n, m)`` (or ``(n,)``): shape ``(r, m)`` (or ``(r,)``)."""
        V = np.asarray(V, dtype=np.float64)
        vector = V.ndim == 1
        V = V.reshape(self.n, -1)
        m = V.shape[1]
        out = np.empty((self.rank, m))
        for k, sl in self.degree_slices().items():
            if k == 0:
                out[sl] = V.sum(axis=0)
            elif k == 1:
                out[sl] = self._X.T @ V
            else:
                out[sl] = self._deg2.coefficients(self._weighted_grams(V))
        return out[:, 0] if vector else out

    def _weighted_grams(self, V: np.ndarray) -> np.ndarray:
        """``M[:, :, j] = X^T diag(V[:, j]) X`` (``d x d x m``), accumulated over row blocks."""
        d, m = self.d, V.shape[1]
        M = np.zeros((d, d * m))
        rows = self._rows_budget(8.0 * d * m)
        for i in range(0, self.n, rows):
            Xb = self._X[i : i + rows]
            weighted = (Xb[:, :, None] * V[i : i + rows, None, :]).reshape(Xb.shape[0], d * m)
            M += Xb.T @ weighted
        return M.reshape(d, d, m)

    def matmat(self, U: Any) -> np.ndarray:
        """``F U`` for ``U`` of shape ``(r, m)`` (or ``(r,)``): shape ``(n, m)`` (or ``(n,)``)."""
        U = np.asarray(U, dtype=np.float64)
        vector = U.ndim == 1
        U = U.reshape(self.rank, -1)
        m = U.shape[1]
        out = np.zeros((self.n, m))
        for k, sl in self.degree_slices().items():
            if k == 0:
                out += U[sl]
            elif k == 1:
                out += self._X @ U[sl]
            else:
                S = self._deg2.matrices(U[sl]).reshape(self.d, self.d * m)
                rows = self._rows_budget(8.0 * self.d * m)
                for i in range(0, self.n, rows):
                    Xb = self._X[i : i + rows]
                    XS = (Xb @ S).reshape(Xb.shape[0], self.d, m)
                    out[i : i + rows] += np.einsum("iaj,ia->ij", XS, Xb)
        return out[:, 0] if vector else out

    def gram(self) -> np.ndarray:
        """``F^T F`` (``r x r``), accumulated over row blocks of explicit features.

        Cost ``n r^2`` flops (symmetric rank-k updates), memory ``8 r^2`` plus
        one row block of about ``conventions.KERNEL_BLOCK_BYTES``.
        """
        r = self.rank
        G = np.zeros((r, r), order="F")
        rows = self._rows_budget(8.0 * r)
        for i in range(0, self.n, rows):
            Fb = self.rows(i, min(i + rows, self.n))
            # upper triangle of G += Fb^T Fb (BLAS syrk: half the flops of a GEMM);
            # Fb.T is Fortran-ordered, so no copy is made
            G = scipy.linalg.blas.dsyrk(1.0, Fb.T, beta=1.0, c=G, trans=0, lower=0, overwrite_c=1)
        upper = np.triu(G)
        return upper + np.triu(upper, 1).T


@dataclass(frozen=True, eq=False)
class HarmonicModel:
    """The degree-``<= l`` part of an inner-product kernel on the sphere as explicit features.

    ``K_{<=l} = F D F^T`` with ``F`` = :class:`HarmonicFeatures` of the kept degrees and
    ``D`` = ``xi_{d,k}`` repeated ``B(d,k)`` times; ``K - K_{<=l}`` has diagonal
    ``gamma = gamma_{>l}`` (docs/theory.md, section 3).

    Attributes
    ----------
    features : HarmonicFeatures or None
        ``None`` when no degree ``<= l`` is present.
    column_eigenvalues : ndarray (r,)
    gamma : float
        ``gamma_{>l} = H(1) - sum_{k<=l} B(d,k) xi_{d,k}``.
    level : int
    degrees : tuple of int
        Kept degrees (``xi_{d,k} > 0``).
    rank : int
        ``r = sum_k B(d,k)`` over the kept degrees.
    """

    features: HarmonicFeatures | None
    column_eigenvalues: np.ndarray
    gamma: float
    level: int
    degrees: tuple[int, ...]
    rank: int


def harmonic_rank(activation: Any, d: int, level: int, layers: str = "first") -> int:
    """``r = sum_{k <= level, xi_{d,k} > 0} B(d,k)`` without touching data (``O(level)`` quadratures)."""
    level = _check_degree(level, "level")
    positive = sphere_spectrum(get_activation(activation), d, level, layers).positive()
    return sum(feature_count(d, k) for k in range(level + 1) if positive[k])


def harmonic_model(X: Any, activation: Any, level: int, layers: str = "first") -> HarmonicModel:
    r"""The kernel's degree-``<= level`` part on the points ``X`` as implicit harmonic features.

    Parameters
    ----------
    X : array_like, shape (n, d)
        Rows on the sphere of radius ``sqrt(d)``.
    activation : str or Activation
    level : int in {0, 1, 2}
    layers : {"first", "second", "both"}

    Returns
    -------
    HarmonicModel
        ``F``, ``D``, ``gamma_{>l}`` with ``F D F^T = truncated_kernel(X, activation, level)``.

    Notes
    -----
    Cost ``O(n d)`` (features are implicit) plus the spectrum (``level + 1``
    coefficients, cached).

    Examples
    --------
    >>> import numpy as np
    >>> from ntphase.data import sample_sphere
    >>> from ntphase.kernels import truncated_kernel
    >>> X = sample_sphere(40, 6, rng=0)
    >>> m = harmonic_model(X, "relu", 2)
    >>> F = m.features.todense()
    >>> bool(np.allclose(F * m.column_eigenvalues @ F.T, truncated_kernel(X, "relu", 2)))
    True
    """
    X = _check_points(X)
    level = _check_degree(level, "level")
    layers = check_choice("layers", layers, LAYERS)
    d = X.shape[1]
    spectrum = sphere_spectrum(get_activation(activation), d, level, layers)
    degrees = tuple(int(k) for k in np.flatnonzero(spectrum.positive()[: level + 1]))
    features = HarmonicFeatures(X, degrees) if degrees else None
    D = (
        np.concatenate([np.full(feature_count(d, k), spectrum.xi[k]) for k in degrees])
        if degrees
        else np.zeros(0)
    )
    return HarmonicModel(
        features, D, float(spectrum.gamma_above(level)), level, degrees, 0 if features is None else features.rank
    )
