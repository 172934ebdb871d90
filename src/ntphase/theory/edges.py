"""Predictions of the smallest eigenvalue of ``K`` and ``K_N``: the Gaussian-equivalent edge,
the Marchenko-Pastur conjecture and the random-features edge."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ntphase.conventions import nt_feature_count
from ntphase.sphere import gamma_above, level
from ntphase.theory._degrees import _as_int_array, _broadcast_loop, _check_common, _DegreeTable, _kmaxes
from ntphase.theory.equivalents import random_features_edge, silverstein_edge

__all__ = ["lambda_min_edge", "lambda_min_mp_conjecture", "lambda_min_rf_edge"]


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
    spec = _DegreeTable(activation, d, max(kmaxes.values()), layers)
    return _broadcast_loop(lambda m: silverstein_edge(m, *spec.head(kmaxes[int(m)])), n_arr)


def lambda_min_mp_conjecture(activation: Any, d: int, n: Any, N: Any, layers: str = "first"):
    """Naive Marchenko-Pastur conjecture ``gamma_{>l} (1 - sqrt(n / p))^2`` for ``p = N d > n``, else 0.

    A *conjecture* (docs/theory.md, section 4), rough at moderate sizes; ``l`` = level(n, d).
    Vectorized over ``n`` and ``N``.
    """
    d, layers = _check_common(d, layers)
    n_arr = _as_int_array("n", n, minimum=1)
    N_arr = _as_int_array("N", N, minimum=1)

    def one(nn: float, NN: float) -> float:
        p = nt_feature_count(int(NN), d, layers)
        if p <= nn:
            return 0.0
        gam = gamma_above(activation, d, int(level(int(nn), d, activation, layers=layers)), layers=layers)
        return float(gam * (1.0 - math.sqrt(nn / p)) ** 2)

    return _broadcast_loop(one, n_arr, N_arr)


def lambda_min_rf_edge(kernel_eigenvalues: Any, N: Any, d: int, layers: str = "first"):
    """Random-features prediction of ``lambda_min(K_N)`` from the spectrum of ``K`` (beyond the paper).

    ``K_N`` is treated as a sample covariance of ``p = N d`` features with population
    kernel ``K`` (docs/theory.md, sections 4 and 6): the prediction is the lower edge of
    ``K^{1/2} (Z Z^T/p) K^{1/2}`` (:func:`ntphase.theory.equivalents.random_features_edge`),
    0 for ``p <= n``. ``kernel_eigenvalues`` are those of the infinite-width ``K`` on the
    same data (or of a Gaussian-equivalent sample): the prediction is semi-empirical.
    With ``K = gamma I`` it is the MP conjecture ``gamma (1 - sqrt(n/p))^2``. Vectorized over ``N``.
    """
    d, layers = _check_common(d, layers)
    N_arr = _as_int_array("N", N, minimum=1)
    p = np.vectorize(lambda NN: nt_feature_count(int(NN), d, layers), otypes=[float])(N_arr)
    return random_features_edge(kernel_eigenvalues, p)
