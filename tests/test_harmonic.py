"""Harmonic features: the addition-theorem identity and the implicit products."""

import numpy as np
import pytest

from ntphase import conventions
from ntphase.data import sample_sphere
from ntphase.kernels.harmonic import (
    HarmonicFeatures,
    feature_count,
    harmonic_features,
)
from ntphase.sphere import gegenbauer, multiplicity


@pytest.mark.parametrize("d", [2, 3, 10, 25])
@pytest.mark.parametrize("degree", [0, 1, 2])
def test_addition_theorem(d, degree):
    # oracle: Y_k Y_k^T / B(d,k) = P_k(X X^T / d) exactly (Gegenbauer by its recurrence)
    X = sample_sphere(60, d, rng=d)
    Y = harmonic_features(X, degree)
    B = multiplicity(d, degree)
    assert Y.shape == (60, B) == (60, feature_count(d, degree))
    np.testing.assert_allclose(Y @ Y.T / B, gegenbauer(degree, d, X @ X.T / d), rtol=0, atol=1e-13)


def test_feature_norm_is_multiplicity():
    # oracle: |Y_k(x)|^2 = B(d,k) P_k(1) = B(d,k) (addition theorem on the diagonal)
    d = 7
    X = sample_sphere(5, d, rng=1)
    np.testing.assert_allclose(np.sum(harmonic_features(X, 2) ** 2, axis=1), multiplicity(d, 2), rtol=1e-13)


@pytest.mark.parametrize("degrees", [(0, 1, 2), (0, 2), (1,), (2,)])
def test_implicit_products_match_dense(degrees, monkeypatch):
    # oracle: explicit feature matrix F and numpy products; a tiny block budget forces many row blocks
    monkeypatch.setattr(conventions, "KERNEL_BLOCK_BYTES", 4096)
    d, n = 6, 53
    X = sample_sphere(n, d, rng=3)
    F = HarmonicFeatures(X, degrees)
    dense = np.hstack([harmonic_features(X, k) for k in degrees])
    np.testing.assert_array_equal(F.todense(), dense)
    rng = np.random.default_rng(0)
    V, U = rng.standard_normal((n, 3)), rng.standard_normal((F.rank, 3))
    np.testing.assert_allclose(F.rmatmat(V), dense.T @ V, rtol=1e-12, atol=1e-11)
    np.testing.assert_allclose(F.matmat(U), dense @ U, rtol=1e-12, atol=1e-11)
    np.testing.assert_allclose(F.rmatmat(V[:, 0]), dense.T @ V[:, 0], rtol=1e-12, atol=1e-11)
    np.testing.assert_allclose(F.gram(), dense.T @ dense, rtol=1e-12, atol=1e-10)


def test_bad_input():
    X = sample_sphere(10, 4, rng=0)
    with pytest.raises(ValueError, match="sphere of radius sqrt"):
        harmonic_features(2 * X, 1)
    with pytest.raises(ValueError, match="degree must be <= 2"):
        harmonic_features(X, 3)
    with pytest.raises(ValueError, match="increasing"):
        HarmonicFeatures(X, (2, 1))
    with pytest.raises(TypeError, match="degree"):
        harmonic_features(X, 1.5)
