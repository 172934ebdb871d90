"""Theory predictions: spikes, bulk, ``lambda_min(K)``, and test risks (THEORY.md sections 3-6).

Every prediction is a function of the kernel's spectrum on the sphere: the
eigenvalues ``xi_{d,k}`` with multiplicities ``B(d,k)`` for the degrees ``k <= kmax``
kept explicitly, and the *tail* ``T = H(1) - sum_{k<=kmax} B(d,k) xi_{d,k}`` of all
higher degrees (always computed as ``H(1)`` minus the head, never as a tail sum:
for ReLU the tail converges like ``1/k``). The tail enters every formula as the
limit ``xi << kappa`` of its terms: ``sum_{k>kmax} B xi / (xi + kappa) -> T / kappa``
in the degrees of freedom, ``0`` in the learned fractions, and ``T I`` in the
Gaussian-equivalent kernel matrix.

This module holds the user-level predictions (``spike_prediction``,
``lambda_min_edge``, ``lambda_min_mp_conjecture``, ``asymptotic_risk``, ``krr_risk``,
``prr_risk``, ``nt_ridge_risk``, ``theory_summary``), which take ``(activation, d, n,
...)`` and build that spectrum with :func:`ntphase.sphere.sphere_spectrum`. The
spectral core they evaluate (``kernel_df``, ``solve_kappa``, ``silverstein_edge``,
``krr_risk_spectral``, ``rf_risk_spectral``: pure float64 math on an explicit
``multiplicity, xi, tail``) lives in :mod:`ntphase._equivalents` and is re-exported here.

Degrees whose eigenvalue vanishes (``B(d,k) xi_{d,k} <= XI_ZERO_RTOL * H(1)``; e.g.
ReLU's odd degrees ``>= 3``, tanh's even degrees) are *absent*: the kernel cannot
learn them, so their target energy is always in the error.

References: Montanari & Zhong, Ann. Statist. 50(5) 2022 (spikes, bulk,
``gamma_{>l}``, asymptotic risk); those of the deterministic equivalents are in
:mod:`ntphase._equivalents`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from ntphase._equivalents import (
    kernel_df,
    krr_risk_spectral,
    random_features_edge,
    rf_risk_spectral,
    silverstein_edge,
    solve_kappa,
)
from ntphase._validation import check_choice, check_float, check_int
from ntphase.sphere import ZERO_TOL

__all__ = [
    "XI_ZERO_RTOL", "KMAX_DIM_FACTOR", "KMAX_CAP", "default_kmax", "num_features",
    # spectral core, re-exported from ntphase._equivalents
    "kernel_df", "solve_kappa", "silverstein_edge", "krr_risk_spectral", "rf_risk_spectral", "random_features_edge",
    # user-level predictions
    "spike_prediction", "lambda_min_edge", "lambda_min_mp_conjecture", "lambda_min_rf_edge", "asymptotic_risk",
    "krr_risk", "prr_risk", "nt_ridge_risk", "theory_summary",
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
    spec = _Spectrum(activation, d, level, layers)
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
    spec = _Spectrum(activation, d, max(kmaxes.values()), layers)
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


def lambda_min_rf_edge(kernel_eigenvalues: Any, N: Any, d: int, layers: str = "first"):
    """Random-features prediction of ``lambda_min(K_N)`` from the spectrum of ``K`` (beyond the paper).

    ``K_N`` is treated as a sample covariance of ``p = N d`` features with population
    kernel ``K`` (THEORY.md sections 4 and 6): the prediction is the lower edge of
    ``K^{1/2} (Z Z^T/p) K^{1/2}`` (:func:`ntphase._equivalents.random_features_edge`),
    0 for ``p <= n``. ``kernel_eigenvalues`` are those of the infinite-width ``K`` on the
    same data (or of a Gaussian-equivalent sample): the prediction is semi-empirical.
    With ``K = gamma I`` it is the MP conjecture ``gamma (1 - sqrt(n/p))^2``. Vectorized over ``N``.
    """
    d, layers = _check_common(d, layers)
    N_arr = _as_int_array("N", N, minimum=1)
    p = np.vectorize(lambda NN: num_features(int(NN), d, layers), otypes=[float])(N_arr)
    return random_features_edge(kernel_eigenvalues, p)


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
        spec = _Spectrum(activation, d, max(int(np.max(lev)), max(en, default=0)), layers)
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
    spec = _Spectrum(activation, d, max(kmaxes.values()), layers)

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
    specs = {l: _Spectrum(activation, d, l, layers) for l in set(levels.values())}

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
    from ntphase.sphere import check_degree

    lmax = check_degree("lmax", lmax)
    act = get_activation(activation)
    lev = int(_level(n, d, act, layers=layers))
    spec = _Spectrum(act, d, max(lmax, lev), layers)
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
