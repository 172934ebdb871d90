"""Monte-Carlo test error and its split form (``ntphase.learning.evaluation``).

Oracles: closed-form moments of Gaussians and the orthogonality of spherical
harmonics of different degrees.
"""

from __future__ import annotations

import numpy as np
import pytest

from ntphase import data
from ntphase.learning import evaluation

RNG_SEED = 20220901


def test_test_error_standard_error_matches_spread_over_test_sets():
    # Statistical oracle with closed-form moments: y_true = g ~ N(0,1), y_pred = 0,
    # squared error g^2 has mean 1 and variance 2, so the true standard error of a
    # mean over m points is sqrt(2/m). R = 400 independent test sets of m = 500:
    # - the spread (std) of the R means vs sqrt(2/m): the sample std of 400 nearly
    #   normal means has relative sd 1/sqrt(2*399) = 3.5%; tolerance 15% (> 4 sd);
    # - the average reported SE vs sqrt(2/m): each SE has relative sd
    #   ~ sqrt((kurt(g^2) - 1)/(4m)) = sqrt(14/2000) = 8.4%, averaged over 400 sets
    #   0.42%, bias ~ -(14)/(8m) = -0.35%; tolerance 3% (> 6 sd).
    # - the grand mean vs 1 within 4 standard errors sqrt(2/(R m)).
    rng = np.random.default_rng(RNG_SEED + 8)
    R, m = 400, 500
    means, ses = np.empty(R), np.empty(R)
    for r in range(R):
        g = rng.standard_normal(m)
        means[r], ses[r] = evaluation.test_error(np.zeros(m), g)
    true_se = np.sqrt(2.0 / m)
    assert np.std(means, ddof=1) == pytest.approx(true_se, rel=0.15)
    assert np.mean(ses) == pytest.approx(true_se, rel=0.03)
    assert abs(np.mean(means) - 1.0) < 4 * np.sqrt(2.0 / (R * m))
    # vectorized over a path: rows are independent evaluations
    g = rng.standard_normal(m)
    pred = np.vstack([np.zeros(m), 0.5 * g])
    mean, se = evaluation.test_error(pred, g)
    assert mean.shape == (2,) and mean[1] == pytest.approx(0.25 * np.mean(g**2), rel=1e-14)
    assert se[1] == pytest.approx(0.25 * np.std(g**2, ddof=1) / np.sqrt(m), rel=1e-12)


def test_split_test_error_adds_exact_energies():
    # Target f* = c1 q1 + c2 q2 + c3 q3 on the sphere; the "fit" is c1 q1 + c2/2 q2
    # (no degree-3 part). Exact risk (orthonormal harmonics, docs/theory.md, section 7):
    # (c2/2)^2 + c3^2. split_test_error must estimate only (c2/2)^2 by Monte Carlo
    # and add c3^2 exactly: checked within 4 of its standard errors, and its SE
    # must be smaller than the plain test_error SE (which also carries q3's spread).
    d, m = 10, 4000
    rng = np.random.default_rng(RNG_SEED + 9)
    v = rng.standard_normal(d)
    v /= np.linalg.norm(v)
    c = {1: 0.8, 2: 0.6, 3: 0.5}
    target = data.HarmonicTarget(d, c, direction=v)
    fit = data.HarmonicTarget(d, {1: c[1], 2: c[2] / 2}, direction=v)
    X = data.sample_sphere(m, d, rng)
    y_pred = fit(X)
    exact = (c[2] / 2) ** 2 + c[3] ** 2
    mean, se = evaluation.split_test_error(y_pred, target, X, exact_degrees=[3, 5])
    assert abs(mean - exact) < 4 * se
    plain_mean, plain_se = evaluation.test_error(y_pred, target(X))
    assert se < plain_se
    # everything exact: a perfect fit of the rest gives exactly the exact energies
    # (rounding only: |f_rest - y_pred| ~ 1e-16, squared ~ 1e-32)
    perfect = data.HarmonicTarget(d, {1: c[1], 2: c[2]}, direction=v)(X)
    mean_all, se_all = evaluation.split_test_error(perfect, target, X, exact_degrees=[3])
    assert mean_all == pytest.approx(c[3] ** 2, abs=1e-25) and se_all < 1e-25
    with pytest.raises(TypeError, match="HarmonicTarget"):
        evaluation.split_test_error(y_pred, {1: 1.0}, X, [3])
