"""Test-risk predictions of NT, kernel and polynomial ridge regression (docs/theory.md, sections 5-6).

``asymptotic_risk`` (the degrees a ridge fit cannot reach), the KRR deterministic
equivalent ``krr_risk``, polynomial ridge with the self-induced ridge ``prr_risk``,
and NT ridge at width ``N`` as random features ``nt_ridge_risk``. Each takes
``(activation, d, n, ...)``, builds the kernel's spectrum as explicit degrees plus
a tail (:mod:`ntphase.theory._degrees`), and evaluates the spectral formulas of
:mod:`ntphase.theory.equivalents`. Degrees with ``xi_{d,k} = 0`` are absent: their
target energy is always in the error.

References: Montanari & Zhong, Ann. Statist. 50(5) 2022 (``gamma_{>l}``, asymptotic
risk); those of the deterministic equivalents are in :mod:`ntphase.theory.equivalents`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ntphase._util.validation import check_float, check_int
from ntphase.conventions import nt_feature_count
from ntphase.sphere import level as sphere_level
from ntphase.theory._degrees import (
    _as_int_array,
    _as_ridge_array,
    _broadcast_loop,
    _check_common,
    _degree_energies,
    _DegreeTable,
    _energies,
    _kmaxes,
)
from ntphase.theory.equivalents import krr_risk_spectral, rf_norm_spectral, rf_risk_spectral

__all__ = ["asymptotic_risk", "krr_risk", "nt_ridge_norm", "nt_ridge_risk", "prr_risk"]


def asymptotic_risk(energies: Mapping, level: Any, activation: Any = None, d: int | None = None, layers: str = "first"):
    """Asymptotic risk ``||P_{>l} f*||^2`` of NT/KRR/PRR ridge (docs/theory.md, section 5).

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
        spec = _DegreeTable(activation, d, max(int(np.max(lev)), max(en, default=0)), layers)
        absent = {k for k in range(spec.kmax + 1) if not spec.present[k]}

    def one(l: float) -> float:
        return float(sum(c2 for k, c2 in en.items() if k > l or k in absent))

    return _broadcast_loop(one, lev)


def _risk_setup(activation, d, n, ridge, energies, noise, kmax, layers):
    """Validate, build one spectrum, and return ``parts(n) -> (B, xi, T, c_k^2, E_above)``."""
    d, layers = _check_common(d, layers)
    n_arr = _as_int_array("n", n, minimum=1)
    ridge_arr = _as_ridge_array(ridge)
    en = _energies(energies)
    noise = check_float("noise", noise, minimum=0.0)
    kmaxes = _kmaxes(d, n_arr, kmax, max(en, default=0))
    spec = _DegreeTable(activation, d, max(kmaxes.values()), layers)

    def parts(m: float) -> tuple[np.ndarray, np.ndarray, float, np.ndarray, float]:
        k = kmaxes[int(m)]
        return (*spec.head(k), *_degree_energies(en, k))

    return d, layers, n_arr, ridge_arr, noise, parts


def krr_risk(activation: Any, d: int, n: Any, ridge: Any, energies: Mapping, noise: float = 0.0,
             kmax: int | None = None, layers: str = "first"):
    """KRR deterministic equivalent of the test error (excess over noise), docs/theory.md, section 6.

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

    def one(nn: float, lam: float) -> float:
        B, xi, tail, per_degree, above = parts(nn)
        return krr_risk_spectral(nn, lam, B, xi, tail, per_degree, above, noise)

    return _broadcast_loop(one, n_arr, ridge_arr)


def prr_risk(activation: Any, d: int, n: Any, ridge: Any, energies: Mapping, noise: float = 0.0,
             level: int | None = None, layers: str = "first"):
    """Deterministic equivalent of polynomial ridge regression PRR(``lambda + gamma_{>l}``).

    Kernel ``K_{<=l}`` (degrees ``<= l`` only, no tail) with ridge
    ``lambda + gamma_{>l}`` (Montanari-Zhong's self-induced ridge, docs/theory.md, section 5);
    target energies above ``l`` are fully in the error. ``level`` defaults to
    ``level(n, d)`` per ``n``. Vectorized over ``n`` and ``ridge``.
    """
    d, layers = _check_common(d, layers)
    n_arr = _as_int_array("n", n, minimum=1)
    ridge_arr = _as_ridge_array(ridge)
    en = _energies(energies)
    noise = check_float("noise", noise, minimum=0.0)
    levels = {int(m): (int(sphere_level(int(m), d, activation, layers=layers)) if level is None
                       else check_int("level", level, minimum=0)) for m in np.unique(n_arr)}
    specs = {l: _DegreeTable(activation, d, l, layers) for l in set(levels.values())}

    def one(nn: float, lam: float) -> float:
        l = levels[int(nn)]
        spec = specs[l]
        e, above = _degree_energies(en, l)
        B, xi, _ = spec.head(l)
        return krr_risk_spectral(nn, lam + spec.gamma_above(l), B, xi, 0.0, e, above, noise)

    return _broadcast_loop(one, n_arr, ridge_arr)


def _random_features_quantity(spectral: Any, activation: Any, d: int, n: Any, N: Any, ridge: Any,
                              energies: Mapping, noise: float, kmax: int | None, layers: str):
    """``spectral(n, p, ridge, B, xi, tail, per_degree, above, noise)`` with ``p = N d`` features,
    broadcast over ``n``, ``N`` and ``ridge`` (the NT ridge risk and norm equivalents)."""
    d, layers, n_arr, ridge_arr, noise, parts = _risk_setup(activation, d, n, ridge, energies, noise, kmax, layers)
    N_arr = _as_int_array("N", N, minimum=1)

    def one(nn: float, NN: float, lam: float) -> float:  # noqa: N803
        B, xi, tail, per_degree, above = parts(nn)
        return spectral(nn, nt_feature_count(int(NN), d, layers), lam, B, xi, tail, per_degree, above, noise)

    return _broadcast_loop(one, n_arr, N_arr, ridge_arr)


def nt_ridge_risk(activation: Any, d: int, n: Any, N: Any, ridge: Any, energies: Mapping, noise: float = 0.0,
                  kmax: int | None = None, layers: str = "first"):
    """Random-features deterministic equivalent of NT ridge at width ``N`` (docs/theory.md, section 6).

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
    return _random_features_quantity(rf_risk_spectral, activation, d, n, N, ridge, energies, noise, kmax, layers)


def nt_ridge_norm(activation: Any, d: int, n: Any, N: Any, ridge: Any, energies: Mapping, noise: float = 0.0,
                  kmax: int | None = None, layers: str = "first"):
    """Random-features deterministic equivalent of the squared norm of NT ridge at width ``N``.

    ``||a_hat||^2 = alpha^T K_N alpha`` with ``alpha = (K_N + lambda I)^{-1} y`` (the
    squared Euclidean norm of the fitted first-layer coefficients, ``K_N = Phi Phi^T``),
    for labels ``y = f*(x) + tau eps`` with degree energies ``c_k^2``; the formula and its
    derivation are :func:`~ntphase.theory.equivalents.rf_norm_spectral` (``p = N d``
    features, beyond the paper). Diverges (``inf``) at ``p = n`` for ``lambda = 0``, the
    interpolation peak of the norm (docs/theory.md, section 5). Vectorized over ``n``,
    ``N`` and ``ridge`` (broadcast). Accuracy: ``tests/test_equivalents.py`` (a linear
    Gaussian random-features model, and NT simulations).

    Examples
    --------
    >>> r = nt_ridge_norm("relu", 20, 400, [10, 20, 40], 0.0, {1: 1.0, 2: 0.36}, noise=0.3)
    >>> bool(np.isinf(r[1]) and r[0] < r[2])  # Nd/n = 0.5, 1 (peak), 2
    True
    """
    return _random_features_quantity(rf_norm_spectral, activation, d, n, N, ridge, energies, noise, kmax, layers)
