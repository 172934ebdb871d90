"""Data: samplers, harmonic targets with known energies, labels (docs/theory.md, sections 1, 7)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ntphase.data import (
    HarmonicTarget,
    add_noise,
    as_generator,
    random_labels,
    sample_gaussian,
    sample_sphere,
    sample_weights,
)
from ntphase.sphere import gegenbauer, multiplicity

#: Monte Carlo checks allow 5 standard errors (two-sided false alarm ~6e-7 per
#: check under a normal approximation; seeds are fixed, so the tests are deterministic).
Z = 5.0


def test_as_generator():
    g = np.random.default_rng(3)
    assert as_generator(g) is g
    assert as_generator(7).integers(1 << 30) == np.random.default_rng(7).integers(1 << 30)
    assert isinstance(as_generator(None), np.random.Generator)
    assert isinstance(as_generator(np.random.SeedSequence(1)), np.random.Generator)
    with pytest.raises(TypeError, match="rng must be"):
        as_generator("seed")
    with pytest.raises(TypeError, match="rng must be"):
        as_generator(True)
    with pytest.raises(ValueError, match="non-negative"):
        as_generator(-1)


@pytest.mark.parametrize("d", [2, 3, 50])
def test_sample_sphere_norms_and_reproducibility(d):
    X = sample_sphere(500, d, 0)
    assert X.shape == (500, d) and X.dtype == np.float64
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), math.sqrt(d), rtol=1e-14)
    np.testing.assert_array_equal(X, sample_sphere(500, d, 0))
    assert not np.array_equal(X, sample_sphere(500, d, 1))


def test_sample_sphere_is_uniform():
    # Oracle: for uniform x on the sphere, E[x x^T] = I (radius sqrt(d)) and
    # u = x_1/sqrt(d) has E[u^2] = 1/d, E[u^4] = 3/(d(d+2)). 5 standard errors.
    n, d = 100_000, 6
    X = sample_sphere(n, d, 11)
    second = X.T @ X / n
    se = np.sqrt(np.var(X[:, :, None] * X[:, None, :], axis=0) / n)
    assert np.all(np.abs(second - np.eye(d)) <= Z * se)
    u4 = (X[:, 0] / math.sqrt(d)) ** 4
    assert abs(u4.mean() - 3 / (d * (d + 2))) <= Z * u4.std() / math.sqrt(n)


def test_sample_gaussian():
    n, d = 50_000, 4
    X = sample_gaussian(n, d, 2)
    assert X.shape == (n, d)
    # Oracle: N(0, 1) entries: mean 0 (SE 1/sqrt(n)), variance 1 (SE sqrt(2/n)).
    assert np.all(np.abs(X.mean(axis=0)) <= Z / math.sqrt(n))
    assert np.all(np.abs(X.var(axis=0) - 1) <= Z * math.sqrt(2 / n))
    np.testing.assert_array_equal(X, sample_gaussian(n, d, 2))


def test_sample_weights():
    N, d = 20_000, 10
    W = sample_weights(N, d, 4)
    # Oracle: rows N(0, I/d): for a fixed x with ||x||^2 = d, <w, x> ~ N(0, 1).
    x = sample_sphere(1, d, 5)[0]
    z = W @ x
    assert abs(z.mean()) <= Z / math.sqrt(N)
    assert abs(z.var() - 1) <= Z * math.sqrt(2 / N)
    Ws = sample_weights(N, d, 4, distribution="sphere")
    np.testing.assert_allclose(np.linalg.norm(Ws, axis=1), 1.0, rtol=1e-14)
    # unit-sphere rows: E<w, x>^2 = ||x||^2/d = 1 as well
    zs = Ws @ x
    assert abs(np.mean(zs**2) - 1) <= Z * np.std(zs**2) / math.sqrt(N)
    np.testing.assert_array_equal(W, sample_weights(N, d, 4))


def test_harmonic_basis_orthonormal_monte_carlo():
    # Oracle: E[q_j q_k] = delta_jk for x uniform on the sphere (addition theorem).
    # n = 200000 points; each entry within 5 standard errors of its Monte Carlo mean.
    n, d, K = 200_000, 10, 5
    X = sample_sphere(n, d, 123)
    f = HarmonicTarget(d, {k: 1.0 for k in range(K + 1)}, rng=9)
    t = X @ f.direction / math.sqrt(d)
    Q = np.array([math.sqrt(multiplicity(d, k)) * gegenbauer(k, d, t) for k in range(K + 1)])
    for j in range(K + 1):
        for k in range(j, K + 1):
            prod = Q[j] * Q[k]
            se = prod.std() / math.sqrt(n)
            assert abs(prod.mean() - (j == k)) <= Z * se, (j, k, prod.mean(), se)
    # and the target itself: f = sum_k q_k, E f^2 = total energy
    y = f(X)
    np.testing.assert_allclose(y, Q.sum(axis=0), rtol=1e-12, atol=1e-12)
    assert abs(np.mean(y**2) - f.total_energy()) <= Z * np.std(y**2) / math.sqrt(n)


def test_harmonic_target_energies_and_direction():
    f = HarmonicTarget(8, {0: 0.5, 2: -1.0, 3: 2.0}, direction=np.arange(1.0, 9.0))
    assert f.energies() == {0: 0.25, 2: 1.0, 3: 4.0}
    assert f.total_energy() == 5.25
    assert f.energy_above(0) == 5.0 and f.energy_above(2) == 4.0 and f.energy_above(3) == 0.0
    assert np.linalg.norm(f.direction) == pytest.approx(1.0, abs=1e-15)
    # at x = sqrt(d) v: q_k = sqrt(B(d,k)) P_k(1) = sqrt(B(d,k))
    x = math.sqrt(8) * f.direction[None, :]
    ref = 0.5 - math.sqrt(multiplicity(8, 2)) + 2 * math.sqrt(multiplicity(8, 3))
    assert float(f(x)[0]) == pytest.approx(ref, rel=1e-13)
    # random direction: reproducible from rng, unit norm
    a, b = HarmonicTarget(8, {1: 1.0}, rng=3), HarmonicTarget(8, {1: 1.0}, rng=3)
    np.testing.assert_array_equal(a.direction, b.direction)
    # inputs are not mutated
    v = np.ones(8)
    HarmonicTarget(8, {1: 1.0}, direction=v)
    np.testing.assert_array_equal(v, np.ones(8))


def test_labels_and_noise():
    n = 40_000
    y = random_labels(n, 0, scale=2.0)
    assert y.shape == (n,)
    assert abs(y.var() - 4.0) <= Z * 4.0 * math.sqrt(2 / n)
    np.testing.assert_array_equal(y, random_labels(n, 0, scale=2.0))
    base = np.zeros(n)
    z = add_noise(base, 0.5, 1)
    assert np.all(base == 0)  # not mutated
    assert abs(z.var() - 0.25) <= Z * 0.25 * math.sqrt(2 / n)
    np.testing.assert_array_equal(add_noise(base, 0.0, 1), base)


def test_bad_input():
    with pytest.raises(ValueError, match="n must be an integer >= 1"):
        sample_sphere(0, 3, 0)
    with pytest.raises(ValueError, match="d must be an integer >= 2"):
        sample_sphere(5, 1, 0)
    with pytest.raises(ValueError, match="d must be an integer >= 2"):
        sample_gaussian(5, 1, 0)
    with pytest.raises(ValueError, match="N must be an integer >= 1"):
        sample_weights(0, 3, 0)
    with pytest.raises(ValueError, match="distribution must be one of"):
        sample_weights(3, 3, 0, distribution="uniform")
    with pytest.raises(ValueError, match="d must be an integer >= 2"):
        HarmonicTarget(1, {0: 1.0})
    with pytest.raises(ValueError, match="degree k must be an integer >= 0"):
        HarmonicTarget(3, {-1: 1.0})
    with pytest.raises(ValueError, match=r"coefficients\[1\] must be finite"):
        HarmonicTarget(3, {1: np.nan})
    with pytest.raises(TypeError, match="mapping"):
        HarmonicTarget(3, [1.0, 2.0])
    with pytest.raises(ValueError, match="direction must have length 3"):
        HarmonicTarget(3, {1: 1.0}, direction=np.ones(4))
    with pytest.raises(ValueError, match="nonzero"):
        HarmonicTarget(3, {1: 1.0}, direction=np.zeros(3))
    with pytest.raises(ValueError, match="direction must contain only finite"):
        HarmonicTarget(3, {1: 1.0}, direction=[1.0, np.inf, 0.0])
    f = HarmonicTarget(3, {1: 1.0}, rng=0)
    with pytest.raises(ValueError, match="X must have 3 columns"):
        f(np.ones((4, 5)))
    with pytest.raises(ValueError, match="X must be a 2-D array"):
        f(np.ones(3))
    with pytest.raises(ValueError, match="X must contain only finite"):
        f(np.array([[1.0, np.nan, 0.0]]))
    with pytest.raises(ValueError, match="l must be an integer >= 0"):
        f.energy_above(-1)
    with pytest.raises(ValueError, match="n must be an integer >= 1"):
        random_labels(0, 0)
    with pytest.raises(ValueError, match="scale must be >= 0"):
        random_labels(3, 0, scale=-1.0)
    with pytest.raises(ValueError, match="noise must be >= 0"):
        add_noise(np.zeros(3), -0.1, 0)
    with pytest.raises(ValueError, match="y must contain only finite"):
        add_noise(np.array([0.0, np.nan]), 0.1, 0)
    with pytest.raises(ValueError, match="y must be a 1-D array"):
        add_noise(np.zeros((2, 2)), 0.1, 0)
