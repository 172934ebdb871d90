"""The estimators' choice point: matrix-free fits against dense fits, auto's choice, warnings."""

import numpy as np
import pytest

from ntphase.data import sample_sphere, sample_weights
from ntphase.learning import (
    KernelRidgeNT,
    NTRidge,
    PolynomialRidge,
    kernel_ridge_path,
    nt_ridge_path,
)
from ntphase.learning import _matrix_free as mf
from ntphase.linalg import ConvergenceWarning

N_TRAIN, D = 800, 20


@pytest.fixture(scope="module")
def data():
    X, Xt = sample_sphere(N_TRAIN, D, rng=0), sample_sphere(60, D, rng=1)
    y = X[:, 0] * X[:, 1] / 2 + X[:, 2] + 0.3 * np.random.default_rng(2).standard_normal(N_TRAIN)
    return X, y, Xt


def _rel(a, b):
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


@pytest.mark.parametrize("preconditioner", ["harmonic", "nystrom", "none"])
def test_krr_cg_matches_dense(data, preconditioner):
    # oracle: the dense Cholesky fit (solver="dense") of the same model
    X, y, Xt = data
    dense = KernelRidgeNT("relu", ridge=1e-3, solver="dense").fit(X, y)
    cg = KernelRidgeNT("relu", ridge=1e-3, solver="cg", preconditioner=preconditioner).fit(X, y)
    assert dense.solver_ == "dense" and dense.n_iter_ is None and dense.residual_ is None
    assert cg.solver_ == ("cg" if preconditioner == "none" else f"cg+{preconditioner}")
    assert cg.residual_ <= 1e-8 and cg.n_iter_ >= 1
    assert _rel(cg.predict(Xt), dense.predict(Xt)) < 1e-6


def test_harmonic_needs_fewer_iterations(data):
    # oracle: unpreconditioned CG on the same system (the theory's model must help)
    X, y, _ = data
    plain = KernelRidgeNT("relu", ridge=0.0, solver="cg", preconditioner="none").fit(X, y)
    harmonic = KernelRidgeNT("relu", ridge=0.0, solver="cg", preconditioner="harmonic").fit(X, y)
    assert harmonic.n_iter_ * 3 <= plain.n_iter_


def test_nt_ridge_cg_matches_dense(data):
    # oracle: the dense dual Cholesky fit with the same weights (p = N d = 2000 >= n)
    X, y, Xt = data
    kw = dict(width=100, ridge=1e-2, random_state=3)
    dense = NTRidge("relu", solver="dense", **kw).fit(X, y)
    cg = NTRidge("relu", solver="cg", **kw).fit(X, y)
    assert dense.solver_ == "dual" and cg.solver_ == "cg+harmonic"
    assert _rel(cg.predict(Xt), dense.predict(Xt)) < 1e-6
    # off the sphere: the auto preconditioner is Nystrom (the harmonic model needs the sphere)
    Xg = 1.3 * X
    off = NTRidge("relu", solver="cg", **kw).fit(Xg, y)
    assert off.solver_ == "cg+nystrom"
    assert _rel(off.predict(1.3 * Xt), NTRidge("relu", solver="dense", **kw).fit(Xg, y).predict(1.3 * Xt)) < 1e-6
    with pytest.raises(ValueError, match="preconditioner='harmonic' needs rows on the sphere"):
        NTRidge("relu", solver="cg", preconditioner="harmonic", **kw).fit(Xg, y)


def test_polynomial_primal_matches_dense(data):
    # oracle: the dual n x n solve with the truncated kernel
    X, y, Xt = data
    dense = PolynomialRidge("relu", ridge=1e-3, level=2, solver="dense").fit(X, y)
    primal = PolynomialRidge("relu", ridge=1e-3, level=2, solver="primal").fit(X, y)
    auto = PolynomialRidge("relu", ridge=1e-3, level=2).fit(X, y)
    assert (dense.solver_, primal.solver_, auto.solver_) == ("dense", "primal", "primal")  # r = 231 < n
    assert _rel(primal.predict(Xt), dense.predict(Xt)) < 1e-9


def test_auto_choice(data, monkeypatch):
    # tiny problems solve densely; when the dense kernel does not fit (mocked memory) auto goes matrix-free
    X, y, _ = data
    assert KernelRidgeNT("relu", ridge=1e-3).fit(X, y).solver_ == "dense"
    assert NTRidge("relu", width=100, ridge=1e-3, random_state=0).fit(X, y).solver_ == "dual"
    assert mf.choose_solver(20_000, 100, "relu") == "cg"  # cost model: n^3/3 dominates
    monkeypatch.setattr(mf, "fits", lambda nbytes: False)
    assert KernelRidgeNT("relu", ridge=1e-3).fit(X, y).solver_ == "cg+harmonic"
    assert NTRidge("relu", width=100, ridge=1e-3, random_state=0).fit(X, y).solver_ == "cg+harmonic"


def test_non_convergence_warns(data):
    X, y, _ = data
    with pytest.warns(ConvergenceWarning, match=r"largest relative residual .* 2 iterations"):
        model = KernelRidgeNT("relu", ridge=0.0, solver="cg", preconditioner="none", maxiter=2).fit(X, y)
    assert model.n_iter_ == 2 and model.residual_ > 1e-8


def test_interpolation_at_ridge_zero(data):
    # oracle: an interpolator reproduces its training labels (K invertible for relu on the sphere)
    X, y, _ = data
    model = KernelRidgeNT("relu", ridge=0.0, solver="cg").fit(X, y)
    assert np.max(np.abs(model.predict(X) - y)) <= 1e-6 * np.max(np.abs(y))


@pytest.mark.parametrize("preconditioner", ["harmonic", "none"])
def test_paths_cg_match_dense(data, preconditioner):
    # oracle: the dense eigh paths; multi-shift CG (none) and batched PCG (harmonic)
    X, y, Xt = data
    lam = [1e-3, 1e-2, 1.0]
    dense = kernel_ridge_path(X, y, "relu", lam, Xt, solver="dense")
    cg = kernel_ridge_path(X, y, "relu", lam, Xt, solver="cg", preconditioner=preconditioner)
    np.testing.assert_allclose(cg.predictions_test, dense.predictions_test, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(cg.train_error, dense.train_error, rtol=1e-6)
    np.testing.assert_allclose(cg.norm, dense.norm, rtol=1e-6)
    W = sample_weights(100, D, rng=4)
    nt_dense = nt_ridge_path(X, y, W, "relu", lam, Xt, solver="dense")
    nt_cg = nt_ridge_path(X, y, W, "relu", lam, Xt, solver="cg", preconditioner=preconditioner)
    np.testing.assert_allclose(nt_cg.predictions_test, nt_dense.predictions_test, rtol=1e-6, atol=1e-7)
    # what solved each path is recorded: the direct paths say so, the CG ones give per-ridge counts
    assert dense.solver == nt_dense.solver == "direct" and dense.n_iter is None and dense.residual is None
    expected = "multishift-cg" if preconditioner == "none" else "cg+harmonic"
    for path in (cg, nt_cg):
        assert path.solver == expected and path.n_iter.shape == path.residual.shape == (len(lam),)
        assert (path.n_iter >= 1).all() and (path.residual <= 1e-8).all()


def test_bad_settings(data):
    X, y, _ = data
    with pytest.raises(ValueError, match="solver must be one of"):
        KernelRidgeNT(solver="lu").fit(X, y)
    with pytest.raises(ValueError, match="preconditioner must be one of"):
        NTRidge(preconditioner="ilu").fit(X, y)
    with pytest.raises(ValueError, match="rtol must be > 0"):
        KernelRidgeNT(solver="cg", rtol=0.0).fit(X, y)
    with pytest.raises(ValueError, match="solver must be one of"):
        PolynomialRidge(solver="cg").fit(X, y)
