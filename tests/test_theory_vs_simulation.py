"""Theory predictions against seeded simulations (docs/theory.md, sections 3-6).

Tolerances are the issue's (bulk 2%, edge 15%, KRR 10%, NT ridge 15%); each test
states why its statistical error is well inside the tolerance (standard error of
the mean over seeds, Monte-Carlo error, Tracy-Widom scale). Where a prediction
fails in a regime it does not cover, the case is xfail(strict=False) with the
measured numbers in the reason; nothing is loosened.

Test error of kernel fits is computed *exactly* over the sphere (no Monte Carlo;
docs/theory.md, section 7's heavy-tail pitfall): for ``f_hat = sum_i alpha_i kappa(<x, x_i>/d)``
with ``kappa`` of eigenvalues ``xi_k`` (Funk-Hecke)
``E_x f_hat f* = sum_i alpha_i sum_k c_k xi_k q_k(x_i)`` and
``E_x f_hat^2 = alpha^T M alpha``, ``M_ij = sum_k B(d,k) xi_k^2 P_k(<x_i, x_j>/d)``,
truncated at ``EXACT_KMAX`` (the neglected part is below ``xi_{d,EXACT_KMAX+1} alpha^T K alpha``,
< 1e-4 of the risk here). One test checks this evaluator against Monte Carlo.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

from ntphase.data import HarmonicTarget, sample_sphere, sample_weights
from ntphase.kernels import infinite_kernel
from ntphase.learning import kernel_ridge_path, nt_ridge_path, polynomial_ridge_path, split_test_error
from ntphase.sphere import gamma_above, level, multiplicity, sphere_spectrum
from ntphase.theory import (
    krr_risk,
    lambda_min_edge,
    nt_ridge_risk,
    prr_risk,
    rf_risk_spectral,
    spike_prediction,
)

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::scipy.linalg.LinAlgWarning")]

EXACT_KMAX = 10
#: Target used throughout: energy in degrees 0..4 (ReLU cannot learn degree 3).
COEFS_RELU = {0: 0.3, 1: 0.5, 2: 0.6, 3: 0.3, 4: 0.4}
#: tanh kernels have only odd degrees: degree 2 is unlearnable, 1, 3, 5 are not.
COEFS_TANH = {1: 0.5, 2: 0.3, 3: 0.6, 5: 0.4}


def _energies(coefs):
    return {k: c * c for k, c in coefs.items()}


# ------------------------------------------------------------------ exact test error
def _gegenbauer_all(kmax, d, t):
    """P_0..P_kmax at t by the three-term recurrence (docs/theory.md, section 3), one pass."""
    out = [np.ones_like(t), t.copy()]
    for j in range(1, kmax):
        out.append(((2 * j + d - 2) * t * out[j] - j * out[j - 1]) / (j + d - 2))
    return out[: kmax + 1]


def exact_error(coef, X, target, xi):
    """Population error E_x (f*(x) - f_hat(x))^2 for dual coefficients ``coef`` (L, n)."""
    n, d = X.shape
    kmax = len(xi) - 1
    P = _gegenbauer_all(kmax, d, np.clip(X @ X.T / d, -1.0, 1.0))
    M = sum(xi[k] ** 2 * multiplicity(d, k) * P[k] for k in range(kmax + 1) if xi[k] != 0.0)
    Pv = _gegenbauer_all(kmax, d, X @ target.direction / np.sqrt(d))
    u = sum(c * xi[k] * np.sqrt(multiplicity(d, k)) * Pv[k] for k, c in target.coefficients.items())
    total = target.total_energy()
    return total - 2 * coef @ u + np.einsum("li,ij,lj->l", coef, M, coef)


def _xi(activation, d, level_max=None):
    spec = sphere_spectrum(activation, d, EXACT_KMAX)
    xi = np.where(spec.positive(), spec.xi, 0.0)
    if level_max is not None:
        xi = np.where(np.arange(EXACT_KMAX + 1) <= level_max, xi, 0.0)
    return xi


# --------------------------------------------------------------- spectrum of K
@functools.cache
def _eigs(activation, d, n, seed=1):
    X = sample_sphere(n, d, np.random.default_rng(seed))
    return np.linalg.eigvalsh(infinite_kernel(X, activation))


# Sizes where n sits between harmonic dimensions with the spike groups using at most
# ~80% of n (level, spike count in parentheses): relu d=20 n=1000 (2, 230), relu d=30
# n=1200 (2, 495), relu d=15 n=1000 (2, 135), tanh d=20 n=1000 (1, 20), tanh d=25
# n=1500 (1, 25), tanh d=30 n=800 (1, 30).
GOOD = [("relu", 20, 1000), ("relu", 30, 1200), ("relu", 15, 1000),
        ("tanh", 20, 1000), ("tanh", 25, 1500), ("tanh", 30, 800)]


def _xfail(reason):
    return pytest.mark.xfail(strict=False, reason=reason)


@pytest.mark.parametrize(
    "activation,d,n",
    GOOD + [
        ("relu", 10, 1500),  # measured bulk mean / gamma = 0.981 (seed 1)
        pytest.param("tanh", 15, 1000, marks=_xfail(
            "spike groups fill 680 of n = 1000 (degree 3 has B = 665, MP ratio 0.67): its lower "
            "spread overlaps the bulk; measured bulk mean / gamma_{>3} = 0.965 (seed 1)")),
    ],
)
def test_bulk_mean_is_gamma(activation, d, n):
    # Prediction (docs/theory.md, section 3): all eigenvalues but the sum_{k<=l} B(d,k) largest
    # (the spike groups) have mean gamma_{>l}. By the trace identity tr K = n H(1) this is
    # exact up to the mass of the spike eigenvectors outside the degree-<=l space, an
    # O(sqrt(B/n)) x (degree l+1 share) effect; 2% is the tolerance.
    eigs = _eigs(activation, d, n)
    groups = spike_prediction(activation, d, n)
    bulk = groups[-1]
    bulk_mean = eigs[: bulk["count"]].mean()
    assert bulk_mean == pytest.approx(bulk["location"], rel=0.02)
    assert bulk["location"] == pytest.approx(gamma_above(activation, d, level(n, d, activation)), rel=1e-12)


@pytest.mark.parametrize(
    "activation,d,n",
    GOOD + [
        pytest.param("relu", 10, 1500, marks=_xfail(
            "small d: Gaussian equivalence of the harmonics is poor; measured lambda_min(K) = 0.0303 "
            "vs edge 0.0412 (+36%)")),
        pytest.param("tanh", 15, 1000, marks=_xfail(
            "spike groups fill 680 of 1000: measured lambda_min(K) = 0.0130 vs edge 0.0161 (+24%)")),
        pytest.param("tanh", 10, 2000, marks=_xfail(
            "n = 2000 nearly fills degrees <= 5 (2002 dims): measured lambda_min(K) = 0.00160 vs "
            "edge 0.00324 (+102%)")),
    ],
)
def test_gaussian_equivalent_edge_predicts_lambda_min(activation, d, n):
    # Gaussian-equivalent lower edge (Silverstein equation, docs/theory.md, section 3) vs the
    # smallest eigenvalue of K on one seeded sample. lambda_min fluctuates around its
    # limit on the Tracy-Widom scale n^{-2/3}: measured seed-to-seed spread <= 2% at these
    # sizes (seeds 1, 2), well inside the 15%.
    lam_min = _eigs(activation, d, n)[0]
    edge = lambda_min_edge(activation, d, n)
    assert edge == pytest.approx(lam_min, rel=0.15)


# ------------------------------------------------------------------------ KRR
KRR_CASES = [("relu", 20, 1000, COEFS_RELU), ("tanh", 15, 800, COEFS_TANH)]
RIDGES = [0.0, 0.02]
SEEDS_KRR = (0, 1, 2)


@functools.cache
def _krr_sim(activation, d, n):
    """Exact test errors, shape (seeds, noise in (0, 0.5), ridges)."""
    coefs = COEFS_RELU if activation == "relu" else COEFS_TANH
    xi = _xi(activation, d)
    out = np.empty((len(SEEDS_KRR), 2, len(RIDGES)))
    for s, seed in enumerate(SEEDS_KRR):
        rng = np.random.default_rng(seed)
        X = sample_sphere(n, d, rng)
        target = HarmonicTarget(d, coefs, rng=rng)
        eps = rng.standard_normal(n)
        for j, noise in enumerate((0.0, 0.5)):
            path = kernel_ridge_path(X, target(X) + noise * eps, activation, RIDGES)
            out[s, j] = exact_error(path.coef, X, target, xi)
    return out


@pytest.mark.parametrize("activation,d,n,coefs", KRR_CASES)
def test_krr_matches_deterministic_equivalent(activation, d, n, coefs):
    # Measured seed-to-seed spread of the exact test error: <= 8% of the risk, so the
    # mean of 3 seeds has a standard error <= 5% (asserted below), and the 10%
    # tolerance is >= 2 standard errors plus the O(1/sqrt(n)) deterministic-equivalent error.
    sim = _krr_sim(activation, d, n)
    for j, noise in enumerate((0.0, 0.5)):
        for i, ridge in enumerate(RIDGES):
            values = sim[:, j, i]
            predicted = float(krr_risk(activation, d, n, ridge, _energies(coefs), noise=noise))
            se = values.std(ddof=1) / np.sqrt(len(values))
            assert se < 0.05 * predicted
            assert values.mean() == pytest.approx(predicted, rel=0.10), (noise, ridge, values)


def test_exact_error_agrees_with_monte_carlo():
    # The exact evaluator against Monte Carlo on 4000 fresh points (ReLU degree 3 added
    # exactly, ntphase.learning.split_test_error); agreement within 4 Monte-Carlo standard errors.
    d, n = 20, 600
    rng = np.random.default_rng(7)
    X, X_test = sample_sphere(n, d, rng), sample_sphere(4000, d, rng)
    target = HarmonicTarget(d, COEFS_RELU, rng=rng)
    path = kernel_ridge_path(X, target(X) + 0.5 * rng.standard_normal(n), "relu", RIDGES, X_test=X_test)
    exact = exact_error(path.coef, X, target, _xi("relu", d))
    mc, se = split_test_error(path.predictions_test, target, X_test, [3])
    assert np.all(np.abs(exact - mc) <= 4 * se), (exact, mc, se)


# -------------------------------------------------------------- NT ridge (finite N)
NT_D, NT_N, NT_NOISE, NT_TEST = 20, 800, 0.5, 2000
#: widths: p/n = N d/n = 0.25, 0.5 (below the threshold) and 2, 4, 16 (above) -> seeds.
NT_WIDTHS = {10: 24, 20: 24, 80: 16, 160: 10, 640: 6}


@functools.cache
def _nt_sim(width):
    """Per seed: NT test error, its Monte-Carlo standard error, and (above the threshold) the
    exact KRR error on the same data and the NT - KRR excess.

    ReLU NT features sigma'(<w,x>) x have no odd-degree >= 3 component (the step has
    degrees 0 and odd, times x: degree 1 and even), so degree 3 is added exactly
    (docs/theory.md, section 7). Above the threshold the NT error is estimated with KRR as a
    control variate: exact KRR error + mean over test points of
    ``(f - f_NT)^2 - (f - f_KRR)^2`` (unbiased; the heavy-tailed unlearned degree-4
    residual, common to both, cancels). Below it, plain Monte Carlo.
    """
    seeds = NT_WIDTHS[width]
    above = width * NT_D > NT_N
    err, se, krr, excess = (np.full((seeds, len(RIDGES)), np.nan) for _ in range(4))
    xi = _xi("relu", NT_D)
    for seed in range(seeds):
        rng = np.random.default_rng(1000 + seed)
        X, X_test = sample_sphere(NT_N, NT_D, rng), sample_sphere(NT_TEST, NT_D, rng)
        target = HarmonicTarget(NT_D, COEFS_RELU, rng=rng)
        W = sample_weights(width, NT_D, rng)
        y = target(X) + NT_NOISE * rng.standard_normal(NT_N)
        nt_pred = nt_ridge_path(X, y, W, "relu", RIDGES, X_test=X_test).predictions_test
        if not above:
            err[seed], se[seed] = split_test_error(nt_pred, target, X_test, [3])
            continue
        kpath = kernel_ridge_path(X, y, "relu", RIDGES, X_test=X_test)
        krr[seed] = exact_error(kpath.coef, X, target, xi)
        rest = HarmonicTarget(NT_D, {k: c for k, c in COEFS_RELU.items() if k != 3}, direction=target.direction)
        f = rest(X_test)
        diff = (f - nt_pred) ** 2 - (f - kpath.predictions_test) ** 2
        excess[seed] = diff.mean(axis=1)
        se[seed] = diff.std(axis=1, ddof=1) / np.sqrt(NT_TEST)
        err[seed] = krr[seed] + excess[seed]
    return err, se, krr, excess


def _mean_and_se(values, mc_se):
    """Mean over seeds and its standard error (seed-to-seed spread + Monte-Carlo error)."""
    return values.mean(), np.sqrt(values.var(ddof=1) / len(values) + np.mean(mc_se**2) / len(values))


@pytest.mark.parametrize("width", sorted(NT_WIDTHS))
def test_nt_ridge_matches_random_features_equivalent(width):
    # Away from the Nd = n peak. The seed-to-seed spread of the NT test error is large
    # and genuine (data and W, not Monte Carlo): 13-16% of the risk at p/n = 0.25, 0.5,
    # ~19% at p/n = 2, ~13% at 4, ~8% at 16 (measured), hence 24, 24, 16, 10, 6 seeds; the
    # KRR control variate makes the Monte-Carlo part negligible above the threshold. The
    # standard error of the mean is < 5% of the risk (asserted), so the 15% is
    # > 3 standard errors.
    err, se, _, _ = _nt_sim(width)
    for i, ridge in enumerate(RIDGES):
        predicted = float(nt_ridge_risk("relu", NT_D, NT_N, width, ridge, _energies(COEFS_RELU), noise=NT_NOISE))
        mean, total_se = _mean_and_se(err[:, i], se[:, i])
        print(f"NT ridge p/n = {width * NT_D / NT_N:g}, ridge {ridge}: simulated {mean:.4f} +- {total_se:.4f}, "
              f"RF equivalent {predicted:.4f}")
        assert total_se < 0.05 * predicted
        assert mean == pytest.approx(predicted, rel=0.15), (width, ridge, mean, predicted)


def test_nt_ridge_approaches_krr_as_width_grows():
    # Above the threshold the NT risk decreases toward KRR as p/n = 2, 4, 16 (theory:
    # nt_ridge_risk -> krr_risk, exactly as p -> inf in test_theory.py). Paired on the same
    # data, the excess NT - KRR must fall with the width and match the predicted excess
    # nt_ridge_risk - krr_risk within 3 of its standard errors plus 5% of the KRR risk (the
    # finite-n error of the two deterministic equivalents).
    energies = _energies(COEFS_RELU)
    for i, ridge in enumerate(RIDGES):
        predicted_krr = float(krr_risk("relu", NT_D, NT_N, ridge, energies, noise=NT_NOISE))
        measured = []
        for width in (80, 160, 640):
            _, se, _, excess = _nt_sim(width)
            mean, excess_se = _mean_and_se(excess[:, i], se[:, i])
            predicted = float(nt_ridge_risk("relu", NT_D, NT_N, width, ridge, energies, noise=NT_NOISE)) - predicted_krr
            print(f"NT - KRR excess p/n = {width * NT_D / NT_N:g}, ridge {ridge}: measured {mean:.4f} +- "
                  f"{excess_se:.4f}, predicted {predicted:.4f}")
            assert abs(mean - predicted) <= 3 * excess_se + 0.05 * predicted_krr, (width, ridge, mean, predicted)
            measured.append(mean)
        assert measured[0] > measured[1] > measured[2] > 0


def test_linear_random_features_match_rf_equivalent():
    # The random-features equivalent is derived for p Gaussian random projections of
    # Gaussian covariates (Bach 2023): there it is asymptotically exact. Oracle: direct
    # simulation of that model (M = 1000 covariates in 3 eigenvalue groups, n = 400),
    # 4 seeds; seed-to-seed spread <= 6% of the risk, so 10% is > 3 standard errors.
    mult = np.array([20, 100, 880])
    xi = np.array([0.02, 0.002, 0.0002])
    energy = np.array([0.5, 0.3, 0.2])
    n, noise = 400, 0.5
    scale = np.repeat(xi, mult)
    bounds = np.cumsum(np.r_[0, mult])
    rng = np.random.default_rng(2024)
    for p in (200, 600, 1600):
        for ridge in (0.0, 0.02):
            errs = []
            for _ in range(4):
                beta = rng.standard_normal(mult.sum())
                for g in range(3):  # exact energy per group
                    sl = slice(bounds[g], bounds[g + 1])
                    beta[sl] *= np.sqrt(energy[g] / np.sum(scale[sl] * beta[sl] ** 2))
                G = rng.standard_normal((n, mult.sum())) * np.sqrt(scale)
                y = G @ beta + noise * rng.standard_normal(n)
                proj = rng.standard_normal((mult.sum(), p)) / np.sqrt(p)  # E[proj proj^T] = I
                Z = G @ proj  # n x p features; population kernel G G^T
                if ridge > 0:
                    theta = np.linalg.solve(Z.T @ Z + ridge * np.eye(p), Z.T @ y)
                else:  # minimum-norm least squares (lambda -> 0+)
                    theta = np.linalg.lstsq(Z, y, rcond=None)[0]
                errs.append(np.sum(scale * (beta - proj @ theta) ** 2))
            predicted = rf_risk_spectral(n, p, ridge, mult.astype(float), xi, 0.0, energy, 0.0, noise)
            assert np.mean(errs) == pytest.approx(predicted, rel=0.10), (p, ridge, np.mean(errs), predicted)


# ------------------------------------------------------------------ PRR vs KRR
def test_prr_with_self_induced_ridge_tracks_krr():
    # Montanari-Zhong: R_KRR(lambda) ~ R_PRR(lambda + gamma_{>l}) when n sits well between the
    # harmonic dimensions. Relu, d = 20, n = 2000: level 2 (230 dims), degree 3 absent, next
    # degree 4 with B(20,4) = 8645 = 4.3 n. Measured on the same data (exact test errors,
    # 2 seeds, noise 0.5). What the deterministic equivalents imply here: a gap
    # prr_risk - krr_risk of ~4% of the risk (degree 4 is partly learned by KRR, never by PRR).
    # Asserted: (a) the gap is small relative to the risk (< 10%, the KRR tolerance);
    # (b) it agrees with the predicted gap within 5% of the risk (measured seed-to-seed
    # spread of the gap: ~0.5% of the risk).
    activation, d, n, noise = "relu", 20, 2000, 0.5
    lev = level(n, d, activation)
    assert lev == 2
    energies = _energies(COEFS_RELU)
    xi_full, xi_trunc = _xi(activation, d), _xi(activation, d, level_max=lev)
    gaps, risks = [], []
    for seed in (0, 1):
        rng = np.random.default_rng(seed)
        X = sample_sphere(n, d, rng)
        target = HarmonicTarget(d, COEFS_RELU, rng=rng)
        y = target(X) + noise * rng.standard_normal(n)
        krr = exact_error(kernel_ridge_path(X, y, activation, RIDGES).coef, X, target, xi_full)
        # dual coefficients (the exact error is written in the dual): solver="dense"
        prr = exact_error(polynomial_ridge_path(X, y, activation, RIDGES, level=lev, solver="dense").coef, X, target,
                          xi_trunc)
        gaps.append(prr - krr)
        risks.append(krr)
    gap, risk = np.mean(gaps, axis=0), np.mean(risks, axis=0)
    predicted_gap = prr_risk(activation, d, n, RIDGES, energies, noise=noise) - krr_risk(
        activation, d, n, RIDGES, energies, noise=noise)
    print(f"PRR - KRR gap at relu d=20 n=2000 (ridges {RIDGES}): measured {gap}, predicted "
          f"{predicted_gap}, KRR risk {risk}")
    assert np.all(np.abs(gap) < 0.10 * risk)
    assert np.all(np.abs(gap - predicted_gap) < 0.05 * risk)


# ------------------------------------------- lambda_min(K_N) across the threshold


@pytest.mark.parametrize("activation", ["relu", "tanh"])
@pytest.mark.parametrize("ratio", [2.0, 8.0])
def test_random_features_edge_predicts_lambda_min_of_KN(activation, ratio):
    # Prediction: theory.lambda_min_rf_edge from the eigenvalues of K on the same data
    # and p = N d (docs/theory.md, section 4's open goal, random-features view of section 6).
    # Oracle: lambda_min(K_N) averaged over 3 weight draws (d = 20, n = 400, seed 11).
    # Tolerance 10%: measured errors were +1.4% to +5.3% here (vs the mean of 3 or of 12
    # draws); one draw's spread (sd/mean) is 1.6-3.9%, so the 3-draw mean's is <= 2.3%
    # and 10% leaves > 2 of those beyond the largest measured bias (the edge is a
    # limit: it sits slightly above the finite-n minimum).
    from ntphase.kernels import nt_kernel
    from ntphase.theory import lambda_min_rf_edge

    n, d = 400, 20
    N = int(round(ratio * n / d))
    rng = np.random.default_rng(11)
    X = sample_sphere(n, d, rng)
    tau = np.linalg.eigvalsh(infinite_kernel(X, activation))
    measured = np.mean([np.linalg.eigvalsh(nt_kernel(X, sample_weights(N, d, rng), activation))[0]
                        for _ in range(3)])
    assert lambda_min_rf_edge(tau, N, d) == pytest.approx(measured, rel=0.10)
