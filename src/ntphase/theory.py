"""Theory predictions: spikes, bulk, ``lambda_min(K)``, and test risks (THEORY.md sections 3-6).

Every prediction is a function of the kernel's spectrum on the sphere: the
eigenvalues ``xi_{d,k}`` with multiplicities ``B(d,k)`` for the degrees ``k <= kmax``
kept explicitly, and the *tail* ``T = H(1) - sum_{k<=kmax} B(d,k) xi_{d,k}`` of all
higher degrees (always computed as ``H(1)`` minus the head, never as a tail sum:
for ReLU the tail converges like ``1/k``). The tail enters every formula as the
limit ``xi << kappa`` of its terms: ``sum_{k>kmax} B xi / (xi + kappa) -> T / kappa``
in the degrees of freedom, ``0`` in the learned fractions, and ``T I`` in the
Gaussian-equivalent kernel matrix.

Two layers of functions:

- spectral functions (``kernel_df``, ``solve_kappa``, ``silverstein_edge``,
  ``krr_risk_spectral``, ``rf_risk_spectral``) take the spectrum explicitly
  (``multiplicity``, ``xi``, ``tail``) and are pure float64 math;
- the user-level predictions (``spike_prediction``, ``lambda_min_edge``,
  ``lambda_min_mp_conjecture``, ``asymptotic_risk``, ``krr_risk``, ``prr_risk``,
  ``nt_ridge_risk``, ``theory_summary``) build that spectrum from an activation and
  ``d`` with :func:`ntphase.sphere.sphere_spectrum`.

Degrees whose eigenvalue vanishes (``B(d,k) xi_{d,k} <= XI_ZERO_RTOL * H(1)``; e.g.
ReLU's odd degrees ``>= 3``, tanh's even degrees) are *absent*: the kernel cannot
learn them, so their target energy is always in the error.

References: Montanari & Zhong, Ann. Statist. 50(5) 2022 (spikes, bulk,
``gamma_{>l}``, asymptotic risk); Bordelon-Canatar-Pehlevan 2020, Simon et al. 2021,
Misiakiewicz-Saeed 2024 (KRR deterministic equivalent); Bach 2023,
Defilippis-Loureiro-Misiakiewicz 2024, Atanasov-Zavatone-Veth-Pehlevan 2024
(random-features deterministic equivalent); Silverstein & Bai 1995 (edge).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy.optimize import brentq

from ntphase._validation import check_choice, check_float, check_int
from ntphase.sphere import ZERO_TOL

__all__ = [
    "XI_ZERO_RTOL",
    "KMAX_DIM_FACTOR",
    "KMAX_CAP",
    "default_kmax",
    "num_features",
    "kernel_df",
    "solve_kappa",
    "silverstein_edge",
    "krr_risk_spectral",
    "rf_risk_spectral",
    "spike_prediction",
    "lambda_min_edge",
    "lambda_min_mp_conjecture",
    "asymptotic_risk",
    "krr_risk",
    "prr_risk",
    "nt_ridge_risk",
    "theory_summary",
]

#: A degree is absent when ``B(d,k) xi_{d,k} <= XI_ZERO_RTOL * H(1)``
#: (:meth:`ntphase.sphere.SphereSpectrum.positive`, the rule that also defines the
#: level): the quadrature returns ~1e-17 instead of an exact zero for ReLU's odd
#: degrees. The tail ``T`` is set to 0 below the same threshold.
XI_ZERO_RTOL = ZERO_TOL
#: Default ``kmax`` keeps the degrees until their cumulative dimension reaches
#: ``KMAX_DIM_FACTOR * n`` and then one more: degrees with ``B(d,k)`` up to ~n (and
#: beyond) are explicit, the rest have ``xi << kappa`` and enter through ``T``.
KMAX_DIM_FACTOR = 20
#: Largest default ``kmax`` (small ``d`` grows ``B(d,k)`` slowly; the rest is ``T``).
KMAX_CAP = 20
#: Relative accuracy of the root solves (in log scale).
_RTOL = 4 * np.finfo(float).eps
_LAYERS = ("first", "second", "both")


# --------------------------------------------------------------------------- helpers
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


def num_features(N: int, d: int, layers: str = "first") -> int:
    """Number of NT parameters ``p``: ``N d`` (first layer), ``N`` (second), ``N (d + 1)`` (both)."""
    return {"first": N * d, "second": N, "both": N * (d + 1)}[layers]


def default_kmax(d: int, n: int, degrees: int = 0) -> int:
    """Degrees kept explicitly by default.

    The smallest ``k`` with ``sum_{j<=k} B(d,j) >= KMAX_DIM_FACTOR * n``, plus one, at
    least ``degrees`` (e.g. the largest target degree), at most ``max(KMAX_CAP,
    degrees)``. Cost: ``O(kmax)`` exact integer multiplicities.
    """
    from ntphase.sphere import multiplicity

    total, k = 0, 0
    while k < KMAX_CAP:
        total += multiplicity(d, k)
        if total >= KMAX_DIM_FACTOR * n:
            break
        k += 1
    return int(max(min(k + 1, KMAX_CAP), degrees))


class _Spectrum:
    """Explicit degrees ``0..kmax`` (multiplicity, xi; absent degrees zeroed), tail ``T``, ``H(1)``."""

    def __init__(self, activation: Any, d: int, kmax: int, layers: str) -> None:
        from ntphase.sphere import sphere_spectrum

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


def _spectrum(activation: Any, d: int, kmax: int, layers: str) -> _Spectrum:
    return _Spectrum(activation, d, kmax, layers)


def _check_common(d: Any, layers: str) -> tuple[int, str]:
    return check_int("d", d, minimum=2), check_choice("layers", layers, _LAYERS)


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


# ------------------------------------------------------------------ spectral functions
def kernel_df(kappa: float, multiplicity: np.ndarray, xi: np.ndarray, tail: float) -> float:
    """Degrees of freedom ``df(kappa) = sum_k B_k xi_k / (xi_k + kappa) + T / kappa``.

    The high degrees (trace ``T``, each ``xi << kappa``) contribute ``T / kappa``.
    Cost ``O(kmax)``.
    """
    return float(np.sum(multiplicity * xi / (xi + kappa)) + tail / kappa)


def _kernel_ddf(kappa: float, multiplicity: np.ndarray, xi: np.ndarray, tail: float) -> float:
    """``df'(kappa) = -sum_k B_k xi_k / (xi_k + kappa)^2 - T / kappa^2``."""
    return float(-np.sum(multiplicity * xi / (xi + kappa) ** 2) - tail / kappa**2)


def _root_log(fun, lo: float, hi: float) -> float:
    """Root of a decreasing or increasing ``fun`` bracketed by ``[lo, hi]``, solved in ``log``."""
    t = brentq(lambda s: fun(math.exp(s)), math.log(lo), math.log(hi), xtol=1e-15, rtol=_RTOL, maxiter=500)
    return math.exp(t)


def _solve_df(target: float, multiplicity: np.ndarray, xi: np.ndarray, tail: float, extra: float = 0.0) -> float:
    """``kappa > 0`` with ``df(kappa) + extra / kappa = target``; ``0.0`` if ``df(0+) <= target`` and no extra.

    The left side decreases strictly from ``df(0+)`` (``+inf`` when ``T > 0`` or
    ``extra > 0``, else the number of present directions) to ``0``.
    """
    scale = float(np.sum(multiplicity * xi)) + tail + extra
    if scale <= 0.0:
        return 0.0

    def fun(k: float) -> float:
        return kernel_df(k, multiplicity, xi, tail) + extra / k - target

    hi = 2.0 * scale / max(target, 1e-300)
    while fun(hi) >= 0.0:  # df(k) + extra/k <= scale/k, so this stops at once
        hi *= 2.0
    if tail + extra > 0.0:
        lo = min(hi / 2.0, (tail + extra) / (2.0 * target))
        while fun(lo) <= 0.0:
            lo /= 2.0
    else:
        if float(np.sum(multiplicity[xi > 0])) <= target:
            return 0.0
        lo = hi / 2.0
        while fun(lo) <= 0.0:
            lo /= 2.0
    return _root_log(fun, lo, hi)


def solve_kappa(n: float, ridge: float, multiplicity: np.ndarray, xi: np.ndarray, tail: float) -> float:
    """Effective regularization of KRR: ``kappa > 0`` solving ``df(kappa) + ridge / kappa = n``.

    ``df`` as in :func:`kernel_df` (THEORY.md section 6). Solved by ``brentq`` in
    ``log kappa`` on a bracket that is guaranteed (``df(k) <= (H(1) + ridge)/k`` above,
    ``(T + ridge)/k`` below). ``ridge = 0`` is fine when ``T > 0`` or there are more
    than ``n`` present directions; otherwise (finite rank ``<= n``, no ridge) the
    solution is the limit ``kappa = 0``, returned as ``0.0``.

    Examples
    --------
    >>> B, xi = np.array([1.0, 10.0]), np.array([0.5, 0.05])
    >>> kappa = solve_kappa(100, 0.0, B, xi, 0.1)
    >>> bool(abs(kernel_df(kappa, B, xi, 0.1) - 100) < 1e-9)
    True
    """
    return _solve_df(float(n), multiplicity, xi, tail, extra=float(ridge))


def silverstein_edge(n: float, multiplicity: np.ndarray, xi: np.ndarray, tail: float) -> float:
    """Lower edge of the Gaussian-equivalent spectrum (THEORY.md section 3).

    Model: ``K = sum_k xi_k G_k G_k^T + T I_n`` with ``G_k`` an ``n x B_k`` matrix of i.i.d.
    N(0,1) entries. With ``m = n^{-1} tr (K - z)^{-1} > 0`` for ``z`` below the
    spectrum, the Silverstein equation inverts to
    ``z(m) = -1/m + T + sum_k B_k xi_k / (1 + n xi_k m)``, and the lower edge is the
    value of ``z`` at its (first) local maximum on ``m > 0``. Since
    ``m^2 z'(m) = 1 - n^{-1} sum_k B_k (a_k/(1+a_k))^2`` with ``a_k = n xi_k m``
    decreases monotonically from 1 to ``1 - P/n`` (``P = sum_k B_k`` over present
    degrees), the critical point is unique and exists iff ``P > n``; it is found by
    ``brentq`` in ``log m``.

    If ``P <= n`` the explicit part has an atom at 0 of mass ``1 - P/n`` (no gap):
    the edge is ``T`` (for ``T > 0``, the Gaussian-equivalent matrix then has about
    ``n - P`` eigenvalues exactly equal to ``T``).

    Examples
    --------
    >>> B, xi = np.array([1.0, 10.0, 300.0]), np.array([0.5, 0.05, 1e-3])
    >>> round(silverstein_edge(100, B, xi, 0.1), 4)  # 300 > 100 dims: a gap above T
    0.1621
    >>> silverstein_edge(400, B, xi, 0.1)  # 311 <= 400 dims: no gap, edge = T
    0.1
    """
    keep = (xi > 0) & (multiplicity > 0)
    B, x = multiplicity[keep], xi[keep]
    P = float(np.sum(B))
    if P <= n:
        return float(tail)

    def slope(m: float) -> float:  # m^2 z'(m), decreasing from 1 to 1 - P/n
        a = n * x * m
        return 1.0 - float(np.sum(B * (a / (1.0 + a)) ** 2)) / n

    lo = hi = 1.0 / (n * float(np.max(x)))
    while slope(hi) >= 0.0:
        hi *= 4.0
    while slope(lo) <= 0.0:
        lo /= 4.0
    m = _root_log(slope, lo, hi)
    a = n * x * m
    return float(tail + (float(np.sum((B / n) * a / (1.0 + a))) - 1.0) / m)


def _learned_bias(per_degree_energy, xi, kappa):
    return per_degree_energy * (kappa / (xi + kappa)) ** 2 if kappa > 0 else per_degree_energy * (xi <= 0)


def krr_risk_spectral(
    n: float,
    ridge: float,
    multiplicity: np.ndarray,
    xi: np.ndarray,
    tail: float,
    degree_energy: np.ndarray,
    energy_above: float = 0.0,
    noise: float = 0.0,
) -> float:
    """KRR deterministic equivalent on an explicit spectrum (THEORY.md section 6).

    ``kappa`` from :func:`solve_kappa`; ``L_k = xi_k / (xi_k + kappa)``;
    ``E0 = n / (n - sum_k B_k L_k^2)`` (the tail's ``L ~ 0``); excess test error
    ``E0 (sum_k (1 - L_k)^2 c_k^2 + E_above + noise^2) - noise^2`` where ``c_k^2`` is the
    target energy of degree ``k`` (spread evenly over its ``B_k`` directions) and
    ``E_above`` the energy above ``kmax`` (``L ~ 0``: fully in the error).
    Returns ``inf`` where ``E0`` diverges (``kappa = 0`` with exactly ``n`` directions).
    """
    kappa = solve_kappa(n, ridge, multiplicity, xi, tail)
    if kappa > 0:
        L = xi / (xi + kappa)
    else:
        L = (xi > 0).astype(np.float64)
    denom = n - float(np.sum(multiplicity * L**2))
    if denom <= 0:
        return math.inf
    bias = float(np.sum((1.0 - L) ** 2 * degree_energy)) + energy_above
    return n / denom * (bias + noise**2) - noise**2


def rf_risk_spectral(
    n: float,
    p: float,
    ridge: float,
    multiplicity: np.ndarray,
    xi: np.ndarray,
    tail: float,
    degree_energy: np.ndarray,
    energy_above: float = 0.0,
    noise: float = 0.0,
) -> float:
    """Random-features deterministic equivalent with ``p`` features (THEORY.md section 6).

    Derivation (Bach 2023; Defilippis-Loureiro-Misiakiewicz 2024; Atanasov et al. 2024):
    conditionally on the features, ridge with ``p`` features of covariance
    ``Sigma_F`` has the linear-ridge equivalent with effective ridge ``kappa_1``,
    ``n = tr Sigma_F (Sigma_F + kappa_1)^{-1} + ridge / kappa_1``; the feature Gram
    satisfies ``kappa_1 (Sigma_F' + kappa_1)^{-1} ~ kappa_2 (Lambda + kappa_2)^{-1}`` with
    ``kappa_1 = kappa_2 (1 - df(kappa_2)/p)``, hence
    ``kappa_1 (n - df(kappa_2)) = ridge``. The bias (best-linear-predictor error plus
    the ridge bias) is ``-kappa_1^2 d/dkappa_1 [(kappa_2/kappa_1) sum v_i^2/(xi_i+kappa_2)]``:

    ``bias = sum_i v_i^2 kappa_2/(xi_i + kappa_2) - kappa_1 kappa_2' sum_i v_i^2 xi_i/(xi_i + kappa_2)^2``,
    ``kappa_2' = d kappa_2/d kappa_1 = 1 / (1 - df(kappa_2)/p - kappa_2 df'(kappa_2)/p)``,

    ``df_2 = df(kappa_2) + kappa_1 df'(kappa_2) kappa_2'`` (= ``tr Sigma_F^2 (Sigma_F+kappa_1)^{-2}``),
    ``E = n / (n - df_2)``, error ``E (bias + noise^2) - noise^2``.

    ``ridge = 0``: ``p > n`` gives ``df(kappa_2) = n``, ``kappa_1 = kappa_2 (1 - n/p)``;
    ``p < n`` gives ``df(kappa_2) = p``, ``kappa_1 = 0``, ``E = n/(n - p)``; ``p = n``
    returns ``inf`` (the interpolation peak). As ``p -> inf``, ``kappa_1 = kappa_2`` and
    the formula is exactly :func:`krr_risk_spectral`.

    The tail ``T`` (high degrees, ``xi << kappa_2``) enters only through ``df`` as
    ``T / kappa`` and contributes nothing to the learned part: for ``p`` features it
    is extra isotropic feature variance, which in the ``n x n`` Gram matrix is a
    Marchenko-Pastur block ``(T/p) Z Z^T`` of rank ``<= p`` (an effective ridge ``T``
    only when ``p >> n``), not ``T I``.
    """
    if ridge == 0.0 and p == n:
        return math.inf
    target = min(float(n), float(p))
    kstar = _solve_df(target, multiplicity, xi, tail)
    floor = np.finfo(float).tiny ** 0.5 * max(float(np.sum(multiplicity * xi)) + tail, 1.0)
    kstar = max(kstar, floor)

    def kappa1(k2: float) -> float:
        return k2 * (1.0 - kernel_df(k2, multiplicity, xi, tail) / p)

    if ridge == 0.0:
        k2 = kstar
        k1 = 0.0 if p < n else max(kappa1(k2), 0.0)
    else:

        def g(k2: float) -> float:  # increasing on (kstar, inf) from -ridge to inf
            return kappa1(k2) * (n - kernel_df(k2, multiplicity, xi, tail)) - ridge

        hi = 2.0 * kstar
        while g(hi) <= 0.0:
            hi *= 2.0
        k2 = _root_log(g, kstar, hi)
        k1 = max(kappa1(k2), 0.0)
    df = kernel_df(k2, multiplicity, xi, tail)
    ddf = _kernel_ddf(k2, multiplicity, xi, tail)
    k2prime = 1.0 / (1.0 - df / p - k2 * ddf / p)
    df2 = df + k1 * ddf * k2prime
    if n - df2 <= 0:
        return math.inf
    bias = (
        float(np.sum(degree_energy * k2 / (xi + k2)))
        - k1 * k2prime * float(np.sum(degree_energy * xi / (xi + k2) ** 2))
        + energy_above
    )
    return n / (n - df2) * (bias + noise**2) - noise**2


# ------------------------------------------------------------- user-level predictions
def _broadcast_loop(fun, *arrays: np.ndarray):
    shape = np.broadcast_shapes(*(a.shape for a in arrays))
    flat = [np.broadcast_to(a, shape).ravel() for a in arrays]
    out = np.array([fun(*vals) for vals in zip(*flat)], dtype=np.float64).reshape(shape)
    return out[()] if out.ndim == 0 else out


def spike_prediction(activation: Any, d: int, n: int, level: int | None = None, layers: str = "first") -> list[dict]:
    """Predicted spike groups and bulk of the infinite-width kernel matrix ``K`` (THEORY.md section 3).

    ``K ~ sum_{k<=l} xi_{d,k} Y_k Y_k^T + gamma_{>l} I_n``: for each present degree
    ``k <= l`` a group of ``count = B(d,k)`` eigenvalues at
    ``location = n xi_{d,k} + gamma_{>l}``, spread over the Marchenko-Pastur support of
    ratio ``B/n``: ``[n xi (1 - sqrt(B/n))^2 + gamma, n xi (1 + sqrt(B/n))^2 + gamma]``
    (``spread_low``, ``spread_high``); then the bulk, ``count = n - sum counts`` at
    ``location = gamma_{>l}`` (its mean; its width is set by degree ``l+1``, see
    :func:`lambda_min_edge`). ``level`` defaults to :func:`ntphase.sphere.level`.

    Returns a list of dicts with keys ``kind`` ("spike" or "bulk"), ``degree`` (None
    for the bulk), ``count``, ``location``, ``spread_low``, ``spread_high``.
    Cost: one ``sphere_spectrum`` up to degree ``l``.

    Examples
    --------
    >>> [(g["degree"], g["count"]) for g in spike_prediction("relu", 20, 300)]
    [(0, 1), (1, 20), (2, 209), (None, 70)]
    """
    d, layers = _check_common(d, layers)
    n = check_int("n", n, minimum=1)
    if level is None:
        from ntphase.sphere import level as _level

        level = int(_level(n, d, activation, layers=layers))
    level = check_int("level", level, minimum=0)
    spec = _spectrum(activation, d, level, layers)
    gamma = spec.gamma_above(level)
    groups: list[dict] = []
    for k in range(level + 1):
        if not spec.present[k]:
            continue
        B, x = spec.multiplicity[k], spec.xi[k]
        r = math.sqrt(B / n)
        groups.append(
            {
                "kind": "spike",
                "degree": k,
                "count": int(B),
                "location": float(n * x + gamma),
                "spread_low": float(n * x * (1 - r) ** 2 + gamma),
                "spread_high": float(n * x * (1 + r) ** 2 + gamma),
            }
        )
    total = sum(g["count"] for g in groups)
    if total > n:
        raise ValueError(
            f"level must leave room for the bulk: sum of B(d,k) over present k <= {level} is {total} > n = {n}"
        )
    groups.append(
        {"kind": "bulk", "degree": None, "count": n - total, "location": float(gamma),
         "spread_low": float(gamma), "spread_high": float(gamma)}
    )
    return groups


def lambda_min_edge(activation: Any, d: int, n: Any, kmax: int | None = None, layers: str = "first"):
    """Gaussian-equivalent prediction of ``lambda_min(K)`` (:func:`silverstein_edge`).

    Degrees ``0..kmax`` explicit (default :func:`default_kmax` for each ``n``),
    the rest as ``T I``. Vectorized over ``n`` (scalar in, float out). If the kept
    degrees have total dimension ``<= n`` the prediction is ``T`` (no gap; see
    :func:`silverstein_edge`). This happens at very small ``d`` where the default
    ``KMAX_CAP`` degrees hold fewer than ``n`` dimensions (``d = 2``: ``B(2,k) = 2``); pass
    a larger ``kmax`` there. Measured accuracy (tests/test_theory_vs_simulation.py): within
    ~1-10% of ``lambda_min(K)`` (always above it) for ``d >= 15`` with the spike groups
    well below ``n``; 24-100% too high at ``d = 10`` or when ``n`` nearly fills a degree.
    Cost: ``O(kmax)`` per ``n`` plus one spectrum.
    """
    d, layers = _check_common(d, layers)
    n_arr = _as_int_array("n", n, minimum=1)
    kmaxes = _kmaxes(d, n_arr, kmax, 0)
    spec = _spectrum(activation, d, max(kmaxes.values()), layers)
    return _broadcast_loop(lambda m: silverstein_edge(m, *spec.head(kmaxes[int(m)])), n_arr)


def lambda_min_mp_conjecture(activation: Any, d: int, n: Any, N: Any, layers: str = "first"):
    """Naive Marchenko-Pastur conjecture ``gamma_{>l} (1 - sqrt(n / p))^2`` for ``p = N d > n``, else 0.

    A *conjecture* (THEORY.md section 4), rough at moderate sizes; ``l`` = level(n, d).
    Vectorized over ``n`` and ``N``.
    """
    from ntphase.sphere import gamma_above, level

    d, layers = _check_common(d, layers)
    n_arr = _as_int_array("n", n, minimum=1)
    N_arr = _as_int_array("N", N, minimum=1)

    def one(nn: float, NN: float) -> float:
        p = num_features(int(NN), d, layers)
        if p <= nn:
            return 0.0
        gam = gamma_above(activation, d, int(level(int(nn), d, activation, layers=layers)), layers=layers)
        return float(gam * (1.0 - math.sqrt(nn / p)) ** 2)

    return _broadcast_loop(one, n_arr, N_arr)


def asymptotic_risk(energies: Mapping, level: Any, activation: Any = None, d: int | None = None, layers: str = "first"):
    """Asymptotic risk ``||P_{>l} f*||^2`` of NT/KRR/PRR ridge (THEORY.md section 5).

    Sum of the target energies ``c_k^2`` over degrees ``k > l``; when ``activation``
    and ``d`` are given, also over degrees ``k <= l`` that the kernel cannot learn
    (``xi_{d,k} = 0``, e.g. ReLU's odd ``k >= 3``): those are always in the error.
    Vectorized over ``level``.
    """
    en = _energies(energies)
    lev = _as_int_array("level", level, minimum=0)
    absent: set[int] = set()
    if activation is not None or d is not None:
        if activation is None or d is None:
            raise ValueError("asymptotic_risk needs both activation and d (or neither)")
        d, layers = _check_common(d, layers)
        spec = _spectrum(activation, d, max(int(np.max(lev)), max(en, default=0)), layers)
        absent = {k for k in range(spec.kmax + 1) if not spec.present[k]}

    def one(l: float) -> float:
        return float(sum(c2 for k, c2 in en.items() if k > l or k in absent))

    return _broadcast_loop(one, lev)


def _kmaxes(d: int, n_arr: np.ndarray, kmax: Any, degrees: int) -> dict[int, int]:
    """``kmax`` per distinct ``n``: the given one, or :func:`default_kmax` (so that a vectorized
    call returns exactly what the scalar calls return)."""
    if kmax is not None:
        kmax = check_int("kmax", kmax, minimum=0)
        return {int(m): kmax for m in np.unique(n_arr)}
    return {int(m): default_kmax(d, int(m), degrees=degrees) for m in np.unique(n_arr)}


def _risk_setup(activation, d, n, ridge, energies, noise, kmax, layers):
    """Validate, build one spectrum, and return ``parts(n) -> (B, xi, T, c_k^2, E_above)``."""
    d, layers = _check_common(d, layers)
    n_arr = _as_int_array("n", n, minimum=1)
    ridge_arr = _as_ridge_array(ridge)
    en = _energies(energies)
    noise = check_float("noise", noise, minimum=0.0)
    kmaxes = _kmaxes(d, n_arr, kmax, max(en, default=0))
    spec = _spectrum(activation, d, max(kmaxes.values()), layers)

    def parts(m: float):
        k = kmaxes[int(m)]
        return (*spec.head(k), *_degree_energies(en, k))

    return d, layers, n_arr, ridge_arr, noise, parts


def krr_risk(activation: Any, d: int, n: Any, ridge: Any, energies: Mapping, noise: float = 0.0,
             kmax: int | None = None, layers: str = "first"):
    """KRR deterministic equivalent of the test error (excess over noise), THEORY.md section 6.

    Kernel ``K`` (infinite width) with eigenvalues ``xi_{d,k}`` of multiplicity ``B(d,k)``
    for ``k <= kmax`` and the tail ``T``; ridge ``lambda`` as in ``(K + lambda I)``:
    ``kappa`` solves ``sum_k B xi/(xi + kappa) + T/kappa + lambda/kappa = n``;
    ``L_k = xi_k/(xi_k + kappa)``; ``E0 = n/(n - sum_k B_k L_k^2)``; error
    ``E0 (sum_k (1-L_k)^2 c_k^2 + E_{>kmax} + noise^2) - noise^2``
    (:func:`krr_risk_spectral`). ``energies``: mapping degree -> ``c_k^2``.
    Vectorized over ``n`` and ``ridge`` (broadcast). Cost ``O(kmax)`` per point.

    Examples
    --------
    >>> r = krr_risk("relu", 20, [300, 3000], 0.0, {1: 0.5, 2: 0.5})
    >>> bool(r[0] > r[1] > 0)  # more samples learn degree 2
    True
    """
    d, layers, n_arr, ridge_arr, noise, parts = _risk_setup(activation, d, n, ridge, energies, noise, kmax, layers)
    return _broadcast_loop(lambda nn, lam: krr_risk_spectral(nn, lam, *parts(nn), noise), n_arr, ridge_arr)


def prr_risk(activation: Any, d: int, n: Any, ridge: Any, energies: Mapping, noise: float = 0.0,
             level: int | None = None, layers: str = "first"):
    """Deterministic equivalent of polynomial ridge regression PRR(``lambda + gamma_{>l}``).

    Kernel ``K_{<=l}`` (degrees ``<= l`` only, no tail) with ridge
    ``lambda + gamma_{>l}`` (Montanari-Zhong's self-induced ridge, THEORY.md section 5);
    target energies above ``l`` are fully in the error. ``level`` defaults to
    ``level(n, d)`` per ``n``. Vectorized over ``n`` and ``ridge``.
    """
    from ntphase.sphere import level as _level

    d, layers = _check_common(d, layers)
    n_arr = _as_int_array("n", n, minimum=1)
    ridge_arr = _as_ridge_array(ridge)
    en = _energies(energies)
    noise = check_float("noise", noise, minimum=0.0)
    levels = {int(m): (int(_level(int(m), d, activation, layers=layers)) if level is None
                       else check_int("level", level, minimum=0)) for m in np.unique(n_arr)}
    specs = {l: _spectrum(activation, d, l, layers) for l in set(levels.values())}

    def one(nn: float, lam: float) -> float:
        l = levels[int(nn)]
        spec = specs[l]
        e, above = _degree_energies(en, l)
        B, xi, _ = spec.head(l)
        return krr_risk_spectral(nn, lam + spec.gamma_above(l), B, xi, 0.0, e, above, noise)

    return _broadcast_loop(one, n_arr, ridge_arr)


def nt_ridge_risk(activation: Any, d: int, n: Any, N: Any, ridge: Any, energies: Mapping, noise: float = 0.0,
                  kmax: int | None = None, layers: str = "first"):
    """Random-features deterministic equivalent of NT ridge at width ``N`` (THEORY.md section 6).

    NT ridge viewed as random features with ``p = N d`` features (``layers="first"``;
    ``N`` for "second", ``N (d+1)`` for "both") whose population kernel is ``K``; see
    :func:`rf_risk_spectral` for the equations, the ``lambda = 0`` limits (a peak,
    ``inf``, at ``p = n``) and the treatment of the high-degree tail. This is a
    heuristic for NT (the ``d`` features of one neuron share ``w``); its accuracy is
    measured in ``tests/test_theory_vs_simulation.py``. Vectorized over ``n``, ``N``
    and ``ridge`` (broadcast). Tends to :func:`krr_risk` as ``N -> inf``.

    Examples
    --------
    >>> r = nt_ridge_risk("relu", 20, 1000, [10, 50, 100], 0.0, {1: 0.5, 2: 0.5}, noise=0.5)
    >>> bool(np.isinf(r[1]) and r[2] < r[0])  # peak at N d = n = 1000
    True
    """
    d, layers, n_arr, ridge_arr, noise, parts = _risk_setup(activation, d, n, ridge, energies, noise, kmax, layers)
    N_arr = _as_int_array("N", N, minimum=1)
    return _broadcast_loop(
        lambda nn, NN, lam: rf_risk_spectral(nn, num_features(int(NN), d, layers), lam, *parts(nn), noise),
        n_arr, N_arr, ridge_arr,
    )


def theory_summary(activation: Any, d: int, n: int, lmax: int, layers: str = "first") -> dict:
    """Everything ``ntphase theory`` prints, as a JSON-serializable dict.

    Keys: ``activation, d, n, layers, level, H1, second_moment, hermite_mu`` (``mu_0..mu_8``
    of ``sigma'``), ``gamma_level_d_infinity`` (``gamma_l``), ``degrees`` (list of
    ``{degree, multiplicity, xi, multiplicity_times_xi, present}`` for ``k <= lmax``),
    ``gamma_above_level`` (finite-d ``gamma_{>l}``), ``spikes`` (see
    :func:`spike_prediction`), ``lambda_min_edge`` (Gaussian-equivalent edge),
    ``kmax_edge`` (degrees it keeps).
    """
    from ntphase.activations import get_activation
    from ntphase.sphere import level as _level
    from ntphase.sphere import multiplicity

    d, layers = _check_common(d, layers)
    n = check_int("n", n, minimum=1)
    lmax = check_int("lmax", lmax, minimum=0)
    act = get_activation(activation)
    lev = int(_level(n, d, act, layers=layers))
    spec = _spectrum(act, d, max(lmax, lev), layers)
    if layers == "first":
        gamma_inf = float(act.gamma(lev))
    else:
        series = np.asarray(act.power_series(lev, layers=layers), dtype=np.float64)
        gamma_inf = float(act.kernel_function(np.float64(1.0), layers=layers) - np.sum(series[: lev + 1]))
    kmax_edge = default_kmax(d, n)
    return {
        "activation": act.name,
        "d": d,
        "n": n,
        "layers": layers,
        "level": lev,
        "H1": spec.H1,
        "second_moment": float(act.second_moment()),
        "hermite_mu": [float(v) for v in act.hermite_coefficients(8)],
        "gamma_level_d_infinity": gamma_inf,
        "degrees": [
            {
                "degree": k,
                "multiplicity": multiplicity(d, k),
                "xi": float(spec.xi_raw[k]),
                "multiplicity_times_xi": float(spec.multiplicity[k] * spec.xi_raw[k]),
                "present": bool(spec.present[k]),
            }
            for k in range(lmax + 1)
        ],
        "gamma_above_level": spec.gamma_above(lev),
        "spikes": spike_prediction(act, d, n, level=lev, layers=layers),
        "lambda_min_edge": float(lambda_min_edge(act, d, n, kmax=kmax_edge, layers=layers)),
        "kmax_edge": kmax_edge,
    }
