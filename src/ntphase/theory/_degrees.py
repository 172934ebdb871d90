"""The kernel's spectrum as theory uses it: explicit degrees plus a tail, and shared argument checks.

Every prediction is a function of the kernel's spectrum on the sphere: the
eigenvalues ``xi_{d,k}`` with multiplicities ``B(d,k)`` for the degrees ``k <= kmax``
kept explicitly, and the *tail* ``T = H(1) - sum_{k<=kmax} B(d,k) xi_{d,k}`` of all
higher degrees (always computed as ``H(1)`` minus the head, never as a tail sum:
for ReLU the tail converges like ``1/k``). The tail enters every formula as the
limit ``xi << kappa`` of its terms: ``sum_{k>kmax} B xi / (xi + kappa) -> T / kappa``
in the degrees of freedom, ``0`` in the learned fractions, and ``T I`` in the
Gaussian-equivalent kernel matrix.

Degrees whose eigenvalue vanishes (``B(d,k) xi_{d,k} <= XI_ZERO_RTOL * H(1)``, see
:mod:`ntphase.conventions`; e.g. ReLU's odd degrees ``>= 3``, tanh's even degrees)
are *absent*: the kernel cannot learn them, so their target energy is always in the error.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ntphase._util.validation import check_choice, check_float, check_int
from ntphase.conventions import LAYERS, XI_ZERO_RTOL
from ntphase.sphere import multiplicity, sphere_spectrum

#: Default ``kmax`` keeps the degrees until their cumulative dimension reaches
#: ``KMAX_DIM_FACTOR * n`` and then one more: degrees with ``B(d,k)`` up to ~n (and
#: beyond) are explicit, the rest have ``xi << kappa`` and enter through ``T``.
KMAX_DIM_FACTOR = 20
#: Largest default ``kmax`` (small ``d`` grows ``B(d,k)`` slowly; the rest is ``T``).
KMAX_CAP = 20

def _as_int_array(name: str, value: Any, minimum: int) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise TypeError(f"{name} must be an integer or an array of integers, got {value!r}")
    if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
        raise ValueError(f"{name} must contain integers, got {value!r}")
    if np.any(arr < minimum):
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return arr.astype(np.float64)


def _as_ridge_array(value: Any) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64) if not isinstance(value, bool) else None
    if arr is None:
        raise TypeError(f"ridge must be a real number or array, got {value!r}")
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ValueError(f"ridge must be finite and >= 0, got {value!r}")
    return arr


def _energies(energies: Any) -> dict[int, float]:
    if not isinstance(energies, Mapping):
        raise TypeError(f"energies must be a mapping degree -> c_k^2, got {type(energies).__name__}")
    out: dict[int, float] = {}
    for k, c2 in energies.items():
        k = check_int("energies degree", k, minimum=0)
        out[k] = out.get(k, 0.0) + check_float(f"energies[{k}]", c2, minimum=0.0)
    return out


def default_kmax(d: int, n: int, degrees: int = 0) -> int:
    """Degrees kept explicitly by default.

    The smallest ``k`` with ``sum_{j<=k} B(d,j) >= KMAX_DIM_FACTOR * n``, plus one, at
    least ``degrees`` (e.g. the largest target degree), at most ``max(KMAX_CAP,
    degrees)``. Cost: ``O(kmax)`` exact integer multiplicities.
    """
    total, k = 0, 0
    while k < KMAX_CAP:
        total += multiplicity(d, k)
        if total >= KMAX_DIM_FACTOR * n:
            break
        k += 1
    return int(max(min(k + 1, KMAX_CAP), degrees))


class _DegreeTable:
    """Explicit degrees ``0..kmax`` (multiplicity, xi; absent degrees zeroed), tail ``T``, ``H(1)``."""

    def __init__(self, activation: Any, d: int, kmax: int, layers: str) -> None:
        spec = sphere_spectrum(activation, d, kmax, layers=layers)
        self.d = d
        self.kmax = kmax
        self.H1 = float(spec.H1)
        self.multiplicity = np.asarray(spec.multiplicity, dtype=np.float64)
        self.xi_raw = np.asarray(spec.xi, dtype=np.float64)
        self.present = np.asarray(spec.positive(), dtype=bool)
        self.xi = np.where(self.present, self.xi_raw, 0.0)

    def head(self, kmax: int) -> tuple[np.ndarray, np.ndarray, float]:
        """``(B, xi, T)`` keeping degrees ``0..kmax`` explicit, ``T = H(1) - sum_{k<=kmax} B xi``."""
        B, xi = self.multiplicity[: kmax + 1], self.xi[: kmax + 1]
        tail = self.H1 - float(np.sum(B * xi))
        return B, xi, (tail if tail > XI_ZERO_RTOL * abs(self.H1) else 0.0)

    def gamma_above(self, level: int) -> float:
        """``H(1) - sum_{k<=level} B xi`` (head subtracted from ``H(1)``, never a tail sum)."""
        return self.H1 - float(np.sum((self.multiplicity * self.xi)[: level + 1]))


def _check_common(d: Any, layers: str) -> tuple[int, str]:
    return check_int("d", d, minimum=2), check_choice("layers", layers, LAYERS)


def _degree_energies(energies: dict[int, float], kmax: int) -> tuple[np.ndarray, float]:
    """Energy ``c_k^2`` per explicit degree ``0..kmax`` and the energy above ``kmax``."""
    per_degree = np.zeros(kmax + 1)
    above = 0.0
    for k, c2 in energies.items():
        if k <= kmax:
            per_degree[k] += c2
        else:
            above += c2
    return per_degree, above


def _broadcast_loop(fun, *arrays: np.ndarray):
    shape = np.broadcast_shapes(*(a.shape for a in arrays))
    flat = [np.broadcast_to(a, shape).ravel() for a in arrays]
    out = np.array([fun(*vals) for vals in zip(*flat)], dtype=np.float64).reshape(shape)
    return out[()] if out.ndim == 0 else out


def _kmaxes(d: int, n_arr: np.ndarray, kmax: Any, degrees: int) -> dict[int, int]:
    """``kmax`` per distinct ``n``: the given one, or :func:`default_kmax` (so that a vectorized
    call returns exactly what the scalar calls return)."""
    if kmax is not None:
        kmax = check_int("kmax", kmax, minimum=0)
        return {int(m): kmax for m in np.unique(n_arr)}
    return {int(m): default_kmax(d, int(m), degrees=degrees) for m in np.unique(n_arr)}
