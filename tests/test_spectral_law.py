"""Spectral laws of K and K_N (ntphase.theory.spectral_law): limits, identities, explicit matrices, simulation.

Oracles are named per test: closed forms (Marchenko-Pastur), the trace identity, an
independent solver of the same edge (silverstein_edge), explicit Gaussian-equivalent
random matrices, and simulations of the empirical NT kernel.
"""

import math

import numpy as np
import pytest

import ntphase
from ntphase.theory import lambda_min_edge, spike_prediction
from ntphase.theory.equivalents import silverstein_edge
from ntphase.theory.spectral_law import (
    KernelSpectralLaw,
    NTKernelSpectralLaw,
    filling_degrees,
    lambda_min_nt_edge,
)

# A synthetic spectrum with P = 2496 > n present directions (degree-0-like single direction first).
B = np.array([1.0, 30.0, 465.0, 2000.0])
XI = np.array([0.05, 0.01, 4e-4, 2e-5])
TAIL = 0.03


def _gaussian_equivalent(n, B, xi, tail, rng):
    """Explicit ``sum_k xi_k G_k G_k^T + tail I`` (the model the law describes)."""
    K = tail * np.eye(n)
    for b, x in zip(B, xi):
        G = rng.standard_normal((n, int(b)))
        K += x * (G @ G.T)
    return K


@pytest.mark.parametrize("c", [0.1, 0.5, 0.9, 2.0])
def test_identity_kernel_gives_marchenko_pastur(c):
    # Oracle: K = gamma I makes K_N = gamma Z Z^T/p, Marchenko-Pastur of ratio c = n/p:
    # support gamma (1 -+ sqrt(c))^2, atom 1 - 1/c at 0 when c > 1 (closed form).
    n, gamma = 300, 0.7
    law = NTKernelSpectralLaw.from_spectrum(n, n / c, [], [], gamma)
    assert law.intervals.shape == (1, 2)
    assert law.intervals[0, 0] == pytest.approx(gamma * (1 - math.sqrt(c)) ** 2, abs=1e-8)
    assert law.intervals[0, 1] == pytest.approx(gamma * (1 + math.sqrt(c)) ** 2, abs=1e-8)
    assert law.atom_mass == pytest.approx(max(0.0, 1 - 1 / c), abs=1e-12)
    # ... and the density at an interior point is MP's sqrt((b - x)(x - a)) / (2 pi gamma c x).
    a, b = law.intervals[0]
    x = 0.3 * a + 0.7 * b
    mp = math.sqrt((b - x) * (x - a)) / (2 * math.pi * gamma * c * x)
    assert law.density(x) == pytest.approx(mp, rel=1e-9)


def test_infinite_width_edge_is_the_kernel_edge():
    # Oracle: as p -> infinity, Z Z^T/p -> I and K_N -> K. The gap closes like c = n/p with the
    # first-order coefficient from (2): max_s w(s)(1 - c - c w s) = e - c e (1 + e s*) + O(c^2),
    # e = edge(K), s* = m_K(e) the critical point of w (w'(s*) = 0: found here by brentq).
    from scipy.optimize import brentq

    for act, d, n in (("tanh", 20, 400), ("relu", 30, 600)):
        law = KernelSpectralLaw(act, d, n)
        edge_k = law.edge
        # at N = 1e10 (c ~ 2e-9) the edges agree to 1e-8
        assert lambda_min_nt_edge(act, d, n, 10**10) == pytest.approx(edge_k, abs=1e-8)
        Bk, xk = law.multiplicity, law.xi

        def slope(m, n=n, Bk=Bk, xk=xk):
            a = n * xk * m
            return 1.0 - float(np.sum(Bk * (a / (1 + a)) ** 2)) / n

        s_star = brentq(slope, 1e-8, 1e8, xtol=1e-300, rtol=1e-15)
        for N in (10**7, 10**9):  # second-order term measured ~ 180 c^2 (relu)
            c = n / (N * d)
            first_order = edge_k - c * edge_k * (1 + edge_k * s_star)
            assert lambda_min_nt_edge(act, d, n, N) == pytest.approx(first_order, abs=1e3 * c**2 + 1e-14)


@pytest.mark.parametrize("act,d,n", [("relu", 20, 300), ("tanh", 30, 1000), ("erf", 15, 2000), ("relu", 15, 5000)])
def test_kernel_law_edge_mass_and_trace(act, d, n):
    law = KernelSpectralLaw(act, d, n)
    # Oracle: silverstein_edge solves the same edge equation independently (brentq on z'(m)).
    assert law.edge == pytest.approx(silverstein_edge(n, law.multiplicity, law.xi, law.tail), abs=1e-8)
    # ... and the theory's lambda_min_edge (same default kmax).
    assert law.edge == pytest.approx(lambda_min_edge(act, d, n), abs=1e-8)
    # Oracle: total mass 1 (density + atoms) and the trace identity mean = n^{-1} tr K = H(1).
    assert law.continuous_mass + law.atom_mass == pytest.approx(1.0, abs=1e-6)
    H1 = ntphase.get_activation(act).kernel_function(np.array(1.0), "first")
    assert law.mean() == pytest.approx(float(H1), abs=1e-6)


def test_atom_at_tail_when_degrees_do_not_fill_n():
    # Oracle: with P = 496 < n present directions, K = T I + (rank P), so exactly 1 - P/n of the
    # eigenvalues equal T (an atom), the density integrates to P/n, and the mean is still T + sum B xi.
    n = 1000
    law = KernelSpectralLaw.from_spectrum(n, B[:3], XI[:3], TAIL)
    assert law.atoms == [(TAIL, pytest.approx(1 - 496 / n, abs=1e-15))]
    assert law.continuous_mass == pytest.approx(496 / n, abs=1e-6)
    assert law.intervals[0, 0] > TAIL  # a gap above the atom
    assert law.mean() == pytest.approx(TAIL + float(np.sum(B[:3] * XI[:3])), abs=1e-6)
    # the quantile function returns T for the lower 1 - P/n of the ranks
    q = law.quantile([0.1, 0.5, 0.5039, 0.6])
    assert q[0] == q[1] == q[2] == TAIL and q[3] > TAIL


def test_nt_law_mass_mean_and_atom():
    # Oracle: the free multiplicative convolution with MP (mean 1) keeps the mean of K (trace
    # identity E tr K_N = tr K); for p < n the rank is p, an atom 1 - p/n at 0.
    for p in (3000.0, 700.0):
        law = NTKernelSpectralLaw.from_spectrum(1000, p, B, XI, TAIL)
        assert law.atom_mass == pytest.approx(max(0.0, 1 - p / 1000), abs=1e-15)
        assert law.continuous_mass + law.atom_mass == pytest.approx(1.0, abs=1e-6)
        assert law.mean() == pytest.approx(TAIL + float(np.sum(B * XI)), abs=1e-6)
    assert NTKernelSpectralLaw.from_spectrum(1000, 700.0, B, XI, TAIL).lambda_min == 0.0


def test_stieltjes_solves_its_equation_and_matches_the_resolvent():
    law = KernelSpectralLaw.from_spectrum(1500, B, XI, TAIL)
    z = np.array([0.05 + 0.01j, 0.5 + 0.2j, 15 + 1j, 0.1 + 1e-6j])
    m = law.stieltjes(z)
    # Oracle: the defining equation z = -1/m + T + sum_k B_k xi_k / (1 + n xi_k m) (residual).
    rhs = -1 / m + TAIL + np.sum(B * XI / (1 + 1500 * XI * m[:, None]), axis=1)
    assert np.max(np.abs(rhs - z) / np.abs(z)) < 1e-12
    assert np.all(m.imag > 0)  # the Stieltjes branch
    # Oracle: an explicit Gaussian-equivalent matrix, n^{-1} tr (K - z)^{-1} (fixed seed; the
    # fluctuation is O(1/n) away from the real axis, stated tolerance 2%).
    ev = np.linalg.eigvalsh(_gaussian_equivalent(1500, B, XI, TAIL, np.random.default_rng(1)))
    emp = np.mean(1.0 / (ev[:, None] - z[:3]), axis=0)
    assert np.max(np.abs(emp - m[:3]) / np.abs(m[:3])) < 0.02


def test_quantiles_match_an_explicit_gaussian_equivalent_matrix():
    # Oracle: the sorted eigenvalues of one explicit matrix sum_k xi_k G_k G_k^T + T I (n = 1500,
    # seed 0) against the predicted quantiles (i - 1/2)/n. Tolerances: mean absolute
    # difference (Wasserstein-1) below 1% of the spread (std) of the eigenvalues (measured
    # 0.13%), the lowest 1000 (bulk) within 2% relative each (measured 0.4%).
    n = 1500
    ev = np.linalg.eigvalsh(_gaussian_equivalent(n, B, XI, TAIL, np.random.default_rng(0)))
    pred = KernelSpectralLaw.from_spectrum(n, B, XI, TAIL).predicted_eigenvalues()
    assert np.mean(np.abs(ev - pred)) < 0.01 * np.std(ev)
    assert np.max(np.abs(ev[:1000] - pred[:1000]) / pred[:1000]) < 0.02


def test_nt_quantiles_match_an_explicit_sample_covariance():
    # Oracle: K^{1/2} (Z Z^T/p) K^{1/2} built explicitly from the explicit K above (n = 1000,
    # p = 2000, seed 2) against the NT law's predicted quantiles: Wasserstein-1 below 1.5% of
    # the spread, the lowest eigenvalue within 5% of the lower edge.
    n, p = 1000, 2000
    rng = np.random.default_rng(2)
    L = np.linalg.cholesky(_gaussian_equivalent(n, B, XI, TAIL, rng))
    Z = rng.standard_normal((n, p))
    A = L @ Z
    ev = np.linalg.eigvalsh(A @ A.T / p)
    law = NTKernelSpectralLaw.from_spectrum(n, p, B, XI, TAIL)
    pred = law.predicted_eigenvalues()
    assert np.mean(np.abs(ev - pred)) < 0.015 * np.std(ev)
    assert ev[0] == pytest.approx(law.lower_edge, rel=0.05)


def test_cdf_and_quantile_are_inverse():
    # Oracle: cdf(quantile(q)) = q on the continuous part (identity).
    law = NTKernelSpectralLaw("erf", 20, 500, 50)
    q = np.linspace(0.01, 0.99, 23)
    assert np.max(np.abs(law.cdf(law.quantile(q)) - q)) < 1e-8


# lambda_min(K_N) against simulation: (activation, d, n, Nd/n)
SIM_CASES = [
    ("relu", 20, 400, 2.0), ("relu", 30, 600, 4.0), ("relu", 15, 300, 1.5),
    ("tanh", 20, 400, 1.5), ("tanh", 15, 300, 2.0), ("tanh", 30, 600, 4.0),
    ("erf", 30, 600, 2.0), ("erf", 20, 800, 4.0), ("erf", 15, 450, 1.5),
]


def test_lambda_min_nt_edge_against_simulation():
    # Oracle: simulated lambda_min(K_N) (dense, mean of 3 seeds) of the empirical NT kernel.
    # Tolerance: every case within 20%, median within 8% (measured +2.4% to +14.4%, median 4.5%;
    # the edge sits above the finite-n lambda_min by its O(n^(-2/3)) fluctuation).
    errors = []
    for act, d, n, ratio in SIM_CASES:
        N = round(ratio * n / d)
        sims = []
        for seed in range(3):
            rng = np.random.default_rng(seed)
            X, W = ntphase.sample_sphere(n, d, rng), ntphase.sample_weights(N, d, rng)
            sims.append(ntphase.lambda_min(ntphase.nt_kernel(X, W, act), method="dense"))
        sim = float(np.mean(sims))
        errors.append(lambda_min_nt_edge(act, d, n, N) / sim - 1)
    errors = np.abs(errors)
    assert np.all(errors < 0.20), errors
    assert np.median(errors) < 0.08, errors


def test_lambda_min_nt_edge_zero_below_threshold_and_vectorized():
    # Oracle: rank K_N <= p = N d, so lambda_min = 0 for N d <= n; the edge grows with N.
    e = lambda_min_nt_edge("tanh", 20, 400, [10, 20, 21, 40, 80])
    assert e[0] == e[1] == 0.0
    assert np.all(np.diff(e[1:]) > 0)
    assert lambda_min_nt_edge("tanh", 20, [400, 800], 80).shape == (2,)


def test_filling_degrees_issue_example():
    # Oracle: B(30,3) = 4930 (closed form (2k+d-2)/k C(k+d-3,k-1)) is within 0.9 of n = 5000,
    # and tanh has xi_{d,3} > 0; B(30,2) = 464 and B(30,4) = 40455 are far from n.
    assert filling_degrees("tanh", 30, 5000) == [{"degree": 3, "multiplicity": 4930, "fraction": 0.986}]
    assert filling_degrees("tanh", 30, 2000) == []
    # relu's xi_{d,3} = 0: an absent degree never "fills" n.
    assert filling_degrees("relu", 30, 5000) == []
    # a degree above n by less than 1/threshold counts too: B(20,3) = 1520, n = 1400
    assert [g["degree"] for g in filling_degrees("erf", 20, 1400)] == [3]
    with pytest.raises(ValueError, match="threshold"):
        filling_degrees("tanh", 30, 5000, threshold=1.5)


def test_spike_prediction_single_eigenvalue_and_bulk_width():
    groups = spike_prediction("relu", 30, 2000)
    zero = next(g for g in groups if g["degree"] == 0)
    # a group of one eigenvalue has no spread
    assert zero["count"] == 1 and zero["spread_low"] == zero["spread_high"] == zero["location"]
    bulk = groups[-1]
    # Oracle: the bulk's lower end is the law's lower edge (predicted lambda_min(K)) up to the
    # quantile at 1/(2n); it has a real width (issue example: 0.073-0.098 at d=30, n=2000).
    assert bulk["spread_low"] == pytest.approx(lambda_min_edge("relu", 30, 2000), rel=0.02)
    assert bulk["spread_high"] - bulk["spread_low"] > 0.1 * bulk["location"]
    assert sum(g["count"] for g in groups) == 2000


def test_bad_inputs():
    with pytest.raises(ValueError, match="p = N d"):
        NTKernelSpectralLaw.from_spectrum(300, 300.0, B, XI, TAIL)
    with pytest.raises(ValueError, match="q must"):
        KernelSpectralLaw.from_spectrum(300, B, XI, TAIL).quantile(1.5)
    with pytest.raises(ValueError, match="multiplicity and xi"):
        KernelSpectralLaw.from_spectrum(300, B, XI[:2], TAIL)
    with pytest.raises(ValueError, match="N must"):
        lambda_min_nt_edge("relu", 20, 300, 0)
