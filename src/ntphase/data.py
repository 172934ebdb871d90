"""Data: covariates, first-layer weights, targets with a known degree decomposition.

docs/theory.md, sections 1 and 7. Every sampler takes ``rng``: a
``numpy.random.Generator``, an ``int`` seed, or ``None`` (fresh entropy),
resolved by :func:`as_generator`; nothing uses a global seed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from ntphase._util.memory import check_memory
from ntphase._util.random import as_generator
from ntphase._util.validation import check_choice, check_float, check_int, check_matrix, check_vector
from ntphase.conventions import WEIGHT_DISTRIBUTIONS
from ntphase.sphere import _gegenbauer_table, multiplicity

__all__ = [
    "as_generator",
    "sample_sphere",
    "sample_gaussian",
    "sample_weights",
    "HarmonicTarget",
    "random_labels",
    "add_noise",
    "project_to_sphere",
]


def _check_sample_memory(what: str, name: str, rows: int, cols: int, copies: int) -> None:
    """Memory guard for a float64 ``(rows, cols)`` sample (``copies`` arrays at the peak)."""
    check_memory(
        8.0 * copies * rows * cols,
        f"{what} of shape ({rows}, {cols}) ({name} = {rows})",
        f"use a smaller {name}, or draw the sample in blocks of rows from one Generator",
    )


def _unit_rows(G: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(G, axis=1, keepdims=True)
    return G / norms  # a standard Gaussian row is zero with probability 0


def sample_sphere(n: int, d: int, rng: Any = None) -> np.ndarray:
    """``n`` points uniform on the sphere of radius ``sqrt(d)`` in ``R^d``.

    ``x = sqrt(d) g / ||g||`` with ``g ~ N(0, I_d)``. Returns float64 ``(n, d)``;
    ``<x, x'>/d`` is the cosine. Cost ``O(n d)``.
    """
    n = check_int("n", n, minimum=1)
    d = check_int("d", d, minimum=2)
    _check_sample_memory("sample_sphere", "n", n, d, copies=2)
    G = as_generator(rng).standard_normal((n, d))
    return math.sqrt(d) * _unit_rows(G)


def sample_gaussian(n: int, d: int, rng: Any = None) -> np.ndarray:
    """``n`` i.i.d. ``N(0, I_d)`` covariates, float64 ``(n, d)`` (``E||x||^2 = d``)."""
    n = check_int("n", n, minimum=1)
    d = check_int("d", d, minimum=2)
    _check_sample_memory("sample_gaussian", "n", n, d, copies=1)
    return as_generator(rng).standard_normal((n, d))


def sample_weights(N: int, d: int, rng: Any = None, distribution: str = "gaussian") -> np.ndarray:  # noqa: N803
    """First-layer weights ``W`` of shape ``(N, d)`` (docs/theory.md, section 1).

    ``"gaussian"`` (default): rows ``w_k ~ N(0, I_d/d)``, so ``<w_k, x> ~ N(0, 1)``
    exactly for ``||x||^2 = d``. ``"sphere"``: rows uniform on the unit sphere
    ``S^{d-1}`` (``<w_k, x>`` approximately ``N(0, 1)``).
    """
    N = check_int("N", N, minimum=1)  # noqa: N806
    d = check_int("d", d, minimum=2)
    check_choice("distribution", distribution, WEIGHT_DISTRIBUTIONS)
    _check_sample_memory("sample_weights", "N", N, d, copies=2)
    G = as_generator(rng).standard_normal((N, d))
    if distribution == "gaussian":
        return G / math.sqrt(d)
    return _unit_rows(G)


class HarmonicTarget:
    """Target ``f*(x) = sum_k c_k q_k(x)`` with exactly known degree energies.

    ``q_k(x) = sqrt(B(d,k)) P_k(<v, x>/sqrt(d))`` for a unit vector ``v`` is a
    degree-``k`` spherical harmonic with ``E[q_k(x)^2] = 1`` and
    ``E[q_j q_k] = 0`` for ``j != k`` (``x`` uniform on the sphere of radius
    ``sqrt(d)``; docs/theory.md, section 7). Hence ``||P_k f*||^2 = c_k^2``.

    Parameters
    ----------
    d : int >= 2
    coefficients : mapping {degree k >= 0: c_k}
    direction : array_like (d,), optional
        ``v`` (normalized here; must be finite and nonzero). If None, drawn
        uniformly on the unit sphere from ``rng``.
    rng : Generator, int or None
        Used only when ``direction`` is None.

    Examples
    --------
    >>> f = HarmonicTarget(10, {1: 1.0, 2: 0.5}, rng=0)
    >>> f.total_energy(), f.energy_above(1)
    (1.25, 0.25)
    """

    def __init__(self, d: int, coefficients: Mapping[int, float], direction: Any = None, rng: Any = None):
        self.d = check_int("d", d, minimum=2)
        if not isinstance(coefficients, Mapping):
            raise TypeError(
                f"coefficients must be a mapping degree -> coefficient, got {type(coefficients).__name__}"
            )
        coefs: dict[int, float] = {}
        for k, c in coefficients.items():
            k = check_int("coefficients degree k", k, minimum=0)
            coefs[k] = check_float(f"coefficients[{k}]", c)
        if not coefs:
            raise ValueError("coefficients must map at least one degree k >= 0 to c_k, got {}")
        self.coefficients = dict(sorted(coefs.items()))
        if direction is None:
            v = _unit_rows(as_generator(rng).standard_normal((1, self.d)))[0]
        else:
            v = check_vector("direction", direction, length=self.d).copy()
            norm = float(np.linalg.norm(v))
            if norm == 0.0:
                raise ValueError("direction must be a nonzero vector, got the zero vector")
            v /= norm
        v.setflags(write=False)
        self.direction = v
        self._scales = {k: math.sqrt(multiplicity(self.d, k)) for k in self.coefficients}

    def __repr__(self) -> str:
        return f"HarmonicTarget(d={self.d}, coefficients={self.coefficients})"

    def __call__(self, X: Any) -> np.ndarray:
        """``f*(x_i)`` for the rows of ``X`` ``(n, d)``; returns float64 ``(n,)``. Cost ``O(n (d + kmax))``."""
        X = np.asarray(check_matrix("X", X, ncols=self.d), dtype=np.float64)
        t = X @ self.direction / math.sqrt(self.d)
        out = np.zeros(X.shape[0])
        if not self.coefficients:
            return out
        kmax = max(self.coefficients)
        P = _gegenbauer_table(kmax, self.d, t)
        for k, c in self.coefficients.items():
            if c != 0.0:
                out += (c * self._scales[k]) * P[k]
        return out

    def energies(self) -> dict[int, float]:
        """``{k: c_k^2}`` (energy of the degree-``k`` component)."""
        return {k: c * c for k, c in self.coefficients.items()}

    def energy_above(self, l: int) -> float:  # noqa: E741 - the paper's symbol
        """``||P_{>l} f*||^2 = sum_{k>l} c_k^2``."""
        l = check_int("l", l, minimum=0)  # noqa: E741
        return float(sum(c * c for k, c in self.coefficients.items() if k > l))

    def total_energy(self) -> float:
        """``||f*||^2 = sum_k c_k^2``."""
        return float(sum(c * c for c in self.coefficients.values()))


def random_labels(n: int, rng: Any = None, scale: float = 1.0) -> np.ndarray:
    """Pure-noise labels ``y_i ~ N(0, scale^2)`` i.i.d. (the memorization test), float64 ``(n,)``."""
    n = check_int("n", n, minimum=1)
    scale = check_float("scale", scale, minimum=0.0)
    _check_sample_memory("random_labels", "n", n, 1, copies=2)
    return scale * as_generator(rng).standard_normal(n)


def add_noise(y: Any, noise: float, rng: Any = None) -> np.ndarray:
    """Return ``y + noise * eps`` with ``eps ~ N(0, I)`` (``noise`` = standard deviation ``tau``).

    ``y`` is not modified; a new float64 array is returned.
    """
    y = check_vector("y", y)
    noise = check_float("noise", noise, minimum=0.0)
    if y.shape[0] < 1:
        raise ValueError("y must have at least one entry, got length 0")
    return y + noise * as_generator(rng).standard_normal(y.shape[0])


def project_to_sphere(X: Any) -> np.ndarray:
    """Rows of ``X`` rescaled onto the sphere of radius ``sqrt(d)``: ``x sqrt(d) / ||x||``.

    Returns a new float64 array (``X`` is not modified). Rows already on the
    sphere change only by rounding. Raises ``ValueError`` for a zero row, which
    has no direction. Cost ``O(n d)``.
    """
    X = np.array(check_matrix("X", X), dtype=np.float64, copy=True)
    norms = np.linalg.norm(X, axis=1)
    if np.any(norms == 0.0):
        row = int(np.flatnonzero(norms == 0.0)[0])
        raise ValueError(
            f"X must have no zero rows to be projected onto the sphere of radius sqrt(d); "
            f"row {row} is zero"
        )
    X *= (np.sqrt(X.shape[1]) / norms)[:, None]
    return X
