"""Theory predictions from (activation, d, n): identities, limits and closed forms (fast; no NT simulation).

Oracles: the sphere spectrum (spike locations, gamma_{>l}), closed-form limits
(N -> inf, p = n), and exact sums for the asymptotic risk. The spectral core
(ntphase.theory.equivalents) is tested in tests/test_equivalents.py.
"""

import math

import numpy as np
import pytest

from ntphase import theory
from ntphase.theory import (
    asymptotic_risk,
    krr_risk,
    lambda_min_edge,
    lambda_min_mp_conjecture,
    nt_ridge_risk,
    spike_prediction,
    theory_summary,
)
from ntphase.theory import equivalents as _equivalents


def test_spectral_core_is_in_the_theory_api():
    # the deterministic equivalents on an explicit spectrum are part of ntphase.theory's API
    for name in _equivalents.__all__:
        assert name in theory.__all__
        assert getattr(theory, name) is getattr(_equivalents, name)


# ----------------------------------------------------------------- activation level


@pytest.fixture(scope="module")
def sphere():
    import ntphase.sphere

    return ntphase.sphere


@pytest.mark.parametrize("activation,d,n", [("relu", 20, 300), ("relu", 20, 2000), ("tanh", 15, 1000), ("relu", 50, 100)])
def test_spike_counts_sum_to_n(sphere, activation, d, n):
    groups = spike_prediction(activation, d, n)
    assert sum(g["count"] for g in groups) == n
    assert groups[-1]["kind"] == "bulk"
    lev = sphere.level(n, d, activation)
    gamma = sphere.gamma_above(activation, d, lev)
    assert groups[-1]["location"] == pytest.approx(gamma, rel=1e-12)
    spec = sphere.sphere_spectrum(activation, d, lev)
    for g in groups[:-1]:
        k = g["degree"]
        assert g["count"] == sphere.multiplicity(d, k)
        assert g["location"] == pytest.approx(n * spec.xi[k] + gamma, rel=1e-12)
        assert g["spread_low"] <= g["location"] <= g["spread_high"]


def test_spike_prediction_skips_absent_degrees(sphere):
    # tanh has xi_{d,k} = 0 for even k: no degree-0 or degree-2 group.
    groups = spike_prediction("tanh", 10, 3000)
    assert all(g["degree"] % 2 == 1 for g in groups if g["kind"] == "spike")


def test_asymptotic_risk_sums_energy_above_level_and_unlearnable(sphere):
    energies = {0: 0.1, 1: 0.2, 2: 0.3, 3: 0.15, 4: 0.25}
    # Closed form: energy above the level.
    assert asymptotic_risk(energies, 2) == pytest.approx(0.4)
    assert np.allclose(asymptotic_risk(energies, [0, 1, 4]), [0.9, 0.7, 0.0])
    # ReLU cannot learn degree 3 (xi_{d,3} = 0): it stays in the error at level 4.
    assert asymptotic_risk(energies, 4, activation="relu", d=20) == pytest.approx(0.15)


def test_mp_conjecture_closed_form(sphere):
    lev = sphere.level(500, 20, "relu")
    gamma = sphere.gamma_above("relu", 20, lev)
    assert lambda_min_mp_conjecture("relu", 20, 500, 100) == pytest.approx(gamma * (1 - math.sqrt(500 / 2000)) ** 2)
    assert lambda_min_mp_conjecture("relu", 20, 500, 25) == 0.0  # p = n
    assert np.all(lambda_min_mp_conjecture("relu", 20, 500, [5, 20]) == 0.0)


def test_krr_risk_vectorized_and_kappa_on_real_spectrum(sphere):
    energies = {1: 0.5, 2: 0.3, 4: 0.2}
    ridges = np.array([0.0, 0.01, 0.1])
    ns = np.array([[200], [2000]])
    grid = krr_risk("relu", 20, ns, ridges, energies, noise=0.5)
    assert grid.shape == (2, 3)
    for i, n in enumerate(ns[:, 0]):
        for j, lam in enumerate(ridges):
            assert grid[i, j] == krr_risk("relu", 20, int(n), float(lam), energies, noise=0.5)
    assert isinstance(krr_risk("relu", 20, 200, 0.0, energies), float)


def test_nt_ridge_risk_tends_to_krr(sphere):
    energies = {1: 0.5, 2: 0.3, 4: 0.2}
    for ridge in (0.0, 0.05):
        krr = krr_risk("relu", 20, 1000, ridge, energies, noise=0.5)
        nt = nt_ridge_risk("relu", 20, 1000, 10**12, ridge, energies, noise=0.5)
        assert nt == pytest.approx(krr, rel=1e-6)
    # ... and diverges at p = N d = n with ridge 0.
    assert math.isinf(nt_ridge_risk("relu", 20, 1000, 50, 0.0, energies))


def test_relu_edge_is_below_gamma_at_moderate_sizes(sphere):
    # docs/theory.md, section 3: the degree l+1 part spreads the bulk below gamma_{>l}
    # (edge T + [negative part]); the edge is between T (kmax tail) and gamma_{>l}.
    d, n = 20, 2000
    lev = sphere.level(n, d, "relu")
    gamma = sphere.gamma_above("relu", d, lev)
    edge = lambda_min_edge("relu", d, n)
    assert 0 < edge < gamma
    edges = lambda_min_edge("relu", d, [500, 1000, 2000])
    assert edges.shape == (3,)
    assert edges[2] == pytest.approx(edge, rel=1e-12)


def test_theory_summary_contents(sphere):
    s = theory_summary("relu", 20, 2000, 6)
    assert s["level"] == sphere.level(2000, 20, "relu")
    assert s["gamma_above_level"] == pytest.approx(sphere.gamma_above("relu", 20, s["level"]), rel=1e-12)
    # relu mu_0 = 1/2 (closed form), gamma_l (d = inf) = E[sigma'^2] - sum_{j<l} mu_j^2/j!
    assert s["hermite_mu"][0] == pytest.approx(0.5, abs=1e-12)
    head = sum(s["hermite_mu"][j] ** 2 / math.factorial(j) for j in range(s["level"]))
    assert s["gamma_level_d_infinity"] == pytest.approx(0.5 - head, abs=1e-12)
    assert [row["multiplicity"] for row in s["degrees"]] == [sphere.multiplicity(20, k) for k in range(7)]
    assert not s["degrees"][3]["present"] and not s["degrees"][5]["present"]
    assert sum(g["count"] for g in s["spikes"]) == 2000


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: krr_risk("relu", 1, 100, 0.0, {1: 1.0}), "d must be"),
        (lambda: krr_risk("relu", 20, 0, 0.0, {1: 1.0}), "n must be"),
        (lambda: krr_risk("relu", 20, 100, -1.0, {1: 1.0}), "ridge must be"),
        (lambda: krr_risk("relu", 20, 100, 0.0, {1: -1.0}), "energies"),
        (lambda: krr_risk("relu", 20, 100, 0.0, {-1: 1.0}), "energies degree"),
        (lambda: krr_risk("relu", 20, 100, 0.0, {1: 1.0}, noise=-0.1), "noise"),
        (lambda: nt_ridge_risk("relu", 20, 100, 0, 0.0, {1: 1.0}), "N must be"),
        (lambda: spike_prediction("relu", 20, 100, layers="third"), "layers"),
        (lambda: spike_prediction("relu", 20, 100, level=4), "level"),
    ],
)
def test_bad_input_names_the_argument(sphere, call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_energies_must_be_a_mapping():
    with pytest.raises(TypeError, match="energies"):
        theory.asymptotic_risk([0.1, 0.2], 1)
