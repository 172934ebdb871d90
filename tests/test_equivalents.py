"""Spectral core of the deterministic equivalents (ntphase.theory.equivalents): identities, limits.

Oracles: the defining equations themselves (kappa equation, z'(m) = 0), closed-form
limits (ridge -> inf, p -> inf, p -> n), and an explicit Gaussian-equivalent random
matrix for the Silverstein edge.
"""

import math

import numpy as np
import pytest

from ntphase.theory import equivalents as _equivalents
from ntphase.theory.equivalents import (
    kernel_df,
    krr_risk_spectral,
    rf_norm_spectral,
    rf_risk_spectral,
    silverstein_edge,
    solve_kappa,
)

# A synthetic spectrum: 4 explicit degrees (multiplicity, eigenvalue) and a tail.
B = np.array([1.0, 30.0, 465.0, 4960.0])
XI = np.array([0.05, 0.01, 4e-4, 2e-5])
TAIL = 0.03


def test_kappa_equation_is_satisfied():
    # Oracle: the defining equation df(kappa) + ridge/kappa = n (docs/theory.md, section 6).
    for n in (10, 300, 2000, 20000):
        for ridge in (0.0, 1e-6, 0.1, 10.0):
            kappa = solve_kappa(n, ridge, B, XI, TAIL)
            lhs = kernel_df(kappa, B, XI, TAIL) + ridge / kappa
            assert kappa > 0
            assert lhs == pytest.approx(n, rel=1e-12)


def test_kappa_without_tail_and_too_few_directions_is_zero():
    # Finite rank 5456 <= n with no ridge and no tail: the solution is the limit kappa = 0.
    assert solve_kappa(6000, 0.0, B, XI, 0.0) == 0.0
    # ... and with more directions than samples a positive root exists.
    kappa = solve_kappa(3000, 0.0, B, XI, 0.0)
    assert kernel_df(kappa, B, XI, 0.0) == pytest.approx(3000, rel=1e-12)


def test_krr_huge_ridge_gives_full_energy():
    # Oracle: ridge -> inf makes kappa -> inf, L -> 0, E0 -> 1: error -> sum_k c_k^2.
    energy = np.array([0.1, 0.4, 0.3, 0.2])
    risk = krr_risk_spectral(500, 1e12, B, XI, TAIL, energy, energy_above=0.25, noise=0.5)
    assert risk == pytest.approx(1.25, rel=1e-6)


def test_krr_noise_only_increases_with_noise():
    # With zero target the error is (E0 - 1) noise^2: zero without noise, increasing with it.
    zero = np.zeros(4)
    risks = [krr_risk_spectral(500, 1e-3, B, XI, TAIL, zero, 0.0, tau) for tau in (0.0, 0.25, 0.5, 1.0)]
    assert risks[0] == 0.0
    assert np.all(np.diff(risks) > 0)
    # ... exactly quadratic in tau (E0 does not depend on the noise).
    assert risks[3] == pytest.approx(4 * risks[2], rel=1e-12)


def test_krr_single_degree_target_decreases_with_n():
    # Noiseless single-degree target at fixed ridge: more data never hurts in the
    # deterministic equivalent (Bordelon-Canatar-Pehlevan 2020: the learned fraction
    # L_k rises with n and E0 (1-L)^2 falls).
    energy = np.array([0.0, 0.0, 1.0, 0.0])
    ns = np.array([20, 100, 300, 600, 1500, 4000, 10000])
    risks = [krr_risk_spectral(n, 0.05, B, XI, TAIL, energy) for n in ns]
    assert np.all(np.diff(risks) < 0)
    assert risks[0] > 0.9 and risks[-1] < 0.05


def test_rf_tends_to_krr_as_features_grow():
    # Oracle: p -> inf gives kappa_1 = kappa_2, kappa_2' = 1, df_2 = sum L^2: the KRR formula.
    energy = np.array([0.1, 0.4, 0.3, 0.2])
    for ridge in (0.0, 0.01, 1.0):
        for noise in (0.0, 0.5):
            krr = krr_risk_spectral(700, ridge, B, XI, TAIL, energy, 0.1, noise)
            rf = rf_risk_spectral(700, 1e13, ridge, B, XI, TAIL, energy, 0.1, noise)
            assert rf == pytest.approx(krr, rel=1e-6)


def test_rf_ridge_zero_diverges_at_interpolation_threshold():
    # Oracle: E = n/(n - p) for p < n and n - df_2 -> 0 as p -> n+ (docs/theory.md, section 6).
    energy = np.array([0.1, 0.4, 0.3, 0.2])
    n = 1000
    below = [rf_risk_spectral(n, n * (1 - eps), 0.0, B, XI, TAIL, energy, 0.0, 0.5) for eps in (1e-1, 1e-2, 1e-3)]
    above = [rf_risk_spectral(n, n * (1 + eps), 0.0, B, XI, TAIL, energy, 0.0, 0.5) for eps in (1e-1, 1e-2, 1e-3)]
    krr = krr_risk_spectral(n, 0.0, B, XI, TAIL, energy, 0.0, 0.5)
    assert np.all(np.diff(below) > 0) and np.all(np.diff(above) > 0)
    assert below[-1] > 100 * krr and above[-1] > 100 * krr
    assert math.isinf(rf_risk_spectral(n, n, 0.0, B, XI, TAIL, energy, 0.0, 0.5))
    # Below the threshold with ridge 0: variance factor n/(n-p), kappa_1 = 0.
    p = 400
    kappa2 = solve_kappa(p, 0.0, B, XI, TAIL)  # df(kappa_2) = p
    bias = float(np.sum(energy * kappa2 / (XI + kappa2)))
    expected = n / (n - p) * (bias + 0.25) - 0.25
    assert rf_risk_spectral(n, p, 0.0, B, XI, TAIL, energy, 0.0, 0.5) == pytest.approx(expected, rel=1e-10)


def test_rf_ridge_is_continuous_at_zero():
    # The ridge > 0 branch (root of kappa_1 (n - df) = ridge) must tend to the ridge = 0 limits.
    energy = np.array([0.1, 0.4, 0.3, 0.2])
    for p in (300, 3000):
        r0 = rf_risk_spectral(1000, p, 0.0, B, XI, TAIL, energy, 0.0, 0.5)
        r_small = rf_risk_spectral(1000, p, 1e-10, B, XI, TAIL, energy, 0.0, 0.5)
        assert r_small == pytest.approx(r0, rel=1e-5)


def test_silverstein_edge_is_critical_point_and_max():
    n = 800
    edge = silverstein_edge(n, B, XI, TAIL)

    def z(m):
        return -1 / m + TAIL + np.sum(B * XI / (1 + n * XI * m))

    # Oracle: the edge is the maximum of z(m) over m > 0 (dense log grid, resolution 1e-3).
    grid = np.logspace(-6, 6, 20001)
    zmax = max(z(m) for m in grid)
    assert edge == pytest.approx(zmax, rel=1e-6)
    assert edge >= zmax


def test_silverstein_edge_matches_gaussian_equivalent_matrix():
    # Oracle: lambda_min of explicit K = sum_k xi_k G_k G_k^T + T I with G_k ~ N(0,1)^{n x B_k}.
    # At n = 800 the smallest eigenvalue fluctuates around the edge by O(n^{-2/3}) (Tracy-
    # Widom scale; measured spread ~3% across seeds), so the mean of 3 seeds is compared at 5%.
    n = 800
    mult = np.array([1, 40, 500, 1500])
    xi = np.array([0.1, 0.01, 1e-3, 2e-4])
    tail = 0.05
    rng = np.random.default_rng(12345)
    mins = []
    for _ in range(3):
        K = tail * np.eye(n)
        for b, x in zip(mult, xi):
            G = rng.standard_normal((n, b))
            K += x * (G @ G.T)
        mins.append(np.linalg.eigvalsh(K)[0])
    predicted = silverstein_edge(n, mult.astype(float), xi, tail)
    assert np.mean(mins) == pytest.approx(predicted, rel=0.05)
    # No gap when the explicit part has rank <= n: the edge is T.
    assert silverstein_edge(3000, mult.astype(float), xi, tail) == tail


# ------------------------------------------------------- random-features edge of K_N


def test_random_features_edge_is_marchenko_pastur_for_identity_population():
    # Oracle: closed form. With K = gamma I the model is a Wishart matrix, lower edge
    # gamma (1 - sqrt(n/p))^2 (Marchenko-Pastur); below the threshold the edge is 0.
    gamma, n = 0.08, 400
    p = np.array([300, 400, 401, 800, 1600, 25600])
    got = _equivalents.random_features_edge(np.full(n, gamma), p)
    want = np.where(p > n, gamma * (1 - np.sqrt(n / np.maximum(p, n))) ** 2, 0.0)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-15)


def test_random_features_edge_limits_and_monotonicity():
    # Oracles: as p -> infinity the sample covariance tends to K, so the edge tends to
    # lambda_min(K) from below; the edge increases with p; it never exceeds tau_min.
    rng = np.random.default_rng(4)
    tau = np.sort(rng.uniform(0.05, 3.0, 300))
    p = np.array([450, 900, 3600, 14400, 10**8])
    edge = _equivalents.random_features_edge(tau, p)
    assert np.all(np.diff(edge) > 0)
    assert np.all(edge < tau[0])
    assert edge[-1] == pytest.approx(tau[0], rel=1e-3)


def test_random_features_edge_matches_an_explicit_sample_covariance():
    # Oracle: an explicit K^{1/2} (Z Z^T / p) K^{1/2} with Gaussian Z (n = 600, two
    # population levels); its smallest eigenvalue sits within a few percent of the
    # limiting edge (finite-n Tracy-Widom fluctuations ~ n^{-2/3} of the edge scale).
    rng = np.random.default_rng(5)
    n, p = 600, 2400
    tau = np.r_[np.full(200, 2.0), np.full(400, 0.1)]
    Z = rng.standard_normal((n, p))
    S = (np.sqrt(tau)[:, None] * Z) @ (np.sqrt(tau)[:, None] * Z).T / p
    measured = np.linalg.eigvalsh(S)[0]
    assert _equivalents.random_features_edge(tau, p) == pytest.approx(measured, rel=0.05)


def test_random_features_edge_rejects_bad_input():
    with pytest.raises(ValueError, match="eigenvalues"):
        _equivalents.random_features_edge(np.array([1.0, 0.0]), 10)
    with pytest.raises(ValueError, match="num_features"):
        _equivalents.random_features_edge(np.ones(3), 0)


def _linear_rf_norms(n, p, ridge, B, xi, energy, tau, seeds, rng):
    """Squared norms ||a_hat||^2 of ridge on p linear random features of Gaussian data (explicit matrices).

    Data x ~ N(0, diag(xi_k repeated B_k times)), features Phi = X F with F a D x p matrix of
    N(0, 1/p) entries (so E_F Phi Phi^T = X X^T, the kernel with population spectrum xi),
    target x^T beta with degree energies ``energy``, label noise tau.
    """
    lam = np.repeat(xi, B.astype(int))
    deg = np.repeat(np.arange(len(B)), B.astype(int))
    out = []
    for _ in range(seeds):
        beta = np.zeros(lam.size)
        for k in range(len(B)):
            g = rng.standard_normal(int(B[k]))
            beta[deg == k] = g / np.linalg.norm(g) * math.sqrt(energy[k] / xi[k])
        X = rng.standard_normal((n, lam.size)) * np.sqrt(lam)
        y = X @ beta + tau * rng.standard_normal(n)
        Phi = X @ rng.standard_normal((lam.size, p)) / math.sqrt(p)
        if ridge == 0.0:
            a = np.linalg.lstsq(Phi, y, rcond=None)[0]  # min-norm least squares (both sides of p = n)
        else:
            a = Phi.T @ np.linalg.solve(Phi @ Phi.T + ridge * np.eye(n), y)
        out.append(float(a @ a))
    return np.array(out)


@pytest.mark.parametrize("p,ridge", [(120, 0.0), (200, 0.05), (450, 0.0), (450, 0.05), (2000, 0.0)])
def test_rf_norm_matches_linear_gaussian_random_features(p, ridge):
    # Oracle: explicit simulation of the linear Gaussian random-features model, for which the
    # random-features equivalent is the exact large-size limit. n = 300, D = 1021 directions;
    # 12 seeds: measured seed-to-seed sd 5-15% of the mean (s.e. <= 4.5%), so 12% is a
    # 2.7-s.e. band; the measured errors at these sizes are -1% to +6%.
    Bs, xis, energy, tau = np.array([1.0, 20.0, 200.0, 800.0]), np.array([0.5, 0.05, 2e-3, 2e-4]), \
        np.array([0.0, 0.6, 0.4, 0.0]), 0.3
    norms = _linear_rf_norms(300, p, ridge, Bs, xis, energy, tau, 12, np.random.default_rng(p + int(100 * ridge)))
    pred = rf_norm_spectral(300, p, ridge, Bs, xis, 0.0, energy, 0.0, tau)
    assert pred == pytest.approx(norms.mean(), rel=0.12)


def test_rf_norm_peak_and_continuity_at_zero_ridge():
    # The min-norm interpolator's norm diverges at p = n (the denominator kappa_1 -> 0) and
    # is the lambda -> 0 limit of the ridge norm on both sides (continuity, the oracle for
    # the 0/0 extrapolation used below the threshold).
    energy = np.array([0.0, 0.5, 0.3, 0.0])
    assert math.isinf(rf_norm_spectral(300, 300.0, 0.0, B, XI, TAIL, energy, 0.1, 0.3))
    for p in (150.0, 290.0, 310.0, 900.0):
        zero = rf_norm_spectral(300, p, 0.0, B, XI, TAIL, energy, 0.1, 0.3)
        small = rf_norm_spectral(300, p, 1e-9, B, XI, TAIL, energy, 0.1, 0.3)
        assert 0 < zero < math.inf
        assert small == pytest.approx(zero, rel=1e-5)
    near = [rf_norm_spectral(300, p, 0.0, B, XI, TAIL, energy, 0.1, 0.3) for p in (240.0, 290.0, 310.0, 360.0)]
    assert near[1] > near[0] and near[2] > near[3]  # grows towards the peak from both sides
