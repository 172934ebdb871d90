"""Primal polynomial ridge on implicit features vs the dense dual form."""

import numpy as np
import pytest

import ntphase
from ntphase._staging_linalg import harmonics
from ntphase._staging_linalg.polynomial import polynomial_ridge_fit
from ntphase.data import sample_sphere


@pytest.mark.parametrize("activation", ["relu", "tanh"])
@pytest.mark.parametrize("ridge", [0.0, 1e-2])
@pytest.mark.parametrize("level", [1, 2])
def test_matches_dense_polynomial_ridge(activation, ridge, level, monkeypatch):
    # oracle: ntphase.PolynomialRidge, the dual n x n solve with the truncated kernel
    monkeypatch.setattr(harmonics, "BLOCK_BYTES", 8 * 1024)  # many row blocks
    X, Xt = sample_sphere(300, 7, rng=0), sample_sphere(40, 7, rng=1)
    y = np.random.default_rng(2).standard_normal(300)
    fit = polynomial_ridge_fit(X, y, activation, ridge, level)
    dense = ntphase.PolynomialRidge(activation, ridge, level).fit(X, y)
    np.testing.assert_allclose(fit.predict(Xt), dense.predict(Xt), rtol=1e-9, atol=1e-10)
    assert fit.gamma == pytest.approx(dense.gamma_)


def test_several_targets_and_bad_input():
    # oracle: one target at a time
    X = sample_sphere(200, 5, rng=4)
    Y = np.random.default_rng(5).standard_normal((200, 2))
    fit = polynomial_ridge_fit(X, Y, "relu", 1e-3, 2)
    for j in range(2):
        single = polynomial_ridge_fit(X, Y[:, j], "relu", 1e-3, 2)
        np.testing.assert_allclose(fit.predict(X)[:, j], single.predict(X), rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="y must have shape"):
        polynomial_ridge_fit(X, Y[:10], "relu")
    with pytest.raises(ValueError, match="d = 5"):
        fit.predict(sample_sphere(3, 6, rng=0))
