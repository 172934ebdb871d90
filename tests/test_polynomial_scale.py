"""Primal polynomial ridge on implicit harmonic features vs the dense dual form."""

import numpy as np
import pytest

import ntphase
from ntphase import conventions
from ntphase.data import sample_sphere
from ntphase.learning.paths import polynomial_primal_fit, polynomial_ridge_path


@pytest.mark.parametrize("activation", ["relu", "tanh"])
@pytest.mark.parametrize("ridge", [0.0, 1e-2])
@pytest.mark.parametrize("level", [1, 2])
def test_matches_dense_polynomial_ridge(activation, ridge, level, monkeypatch):
    # oracle: ntphase.PolynomialRidge with solver="dense", the dual n x n solve with the truncated kernel
    monkeypatch.setattr(conventions, "KERNEL_BLOCK_BYTES", 8 * 1024)  # many row blocks
    X, Xt = sample_sphere(300, 7, rng=0), sample_sphere(40, 7, rng=1)
    y = np.random.default_rng(2).standard_normal(300)
    fit = polynomial_primal_fit(X, y, activation, ridge, level)
    dense = ntphase.PolynomialRidge(activation, ridge, level, solver="dense").fit(X, y)
    np.testing.assert_allclose(fit.predict(Xt), dense.predict(Xt), rtol=1e-9, atol=1e-10)
    assert fit.gamma == pytest.approx(dense.gamma_)


def test_path_matches_dense_path():
    # oracle: the dense dual path (one eigh of K_{<=l}); same train error, norm, dof, predictions
    X, Xt = sample_sphere(250, 6, rng=3), sample_sphere(30, 6, rng=4)
    y = np.random.default_rng(5).standard_normal(250)
    lam = [0.0, 1e-3, 1e-1]
    dense = polynomial_ridge_path(X, y, "relu", lam, level=2, X_test=Xt, solver="dense")
    primal = polynomial_ridge_path(X, y, "relu", lam, level=2, X_test=Xt, solver="primal")
    assert primal.space == "primal"
    np.testing.assert_allclose(primal.predictions_test, dense.predictions_test, rtol=1e-8, atol=1e-10)
    for field in ("train_error", "norm", "dof", "gcv"):
        np.testing.assert_allclose(getattr(primal, field), getattr(dense, field), rtol=1e-7)
    # the path at one ridge equals the single fit
    single = polynomial_primal_fit(X, y, "relu", lam[1], 2)
    np.testing.assert_allclose(single.predict(Xt), primal.predictions_test[1], rtol=1e-9, atol=1e-12)


def test_bad_input():
    X = sample_sphere(200, 5, rng=4)
    with pytest.raises(ValueError, match="y must"):
        polynomial_primal_fit(X, np.ones(10), "relu")
    with pytest.raises(ValueError, match="level must be <= 2"):
        polynomial_primal_fit(X, np.ones(200), "relu", level=3)
