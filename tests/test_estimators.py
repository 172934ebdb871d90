"""NT / kernel / polynomial ridge: functional core, scikit-learn estimators, memorization.

Oracles: dense ``np.linalg.solve`` on kernels built by ``ntphase.kernels`` (the
estimators must add nothing but the solve), scikit-learn's own estimator
checks, and the rank argument for interpolation (``rank K_N <= N d``).
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from ntphase import data, kernels, sphere
from ntphase.conventions import nt_feature_count
from ntphase.data import project_to_sphere
from ntphase.learning import (
    KernelRidgeNT,
    NTRidge,
    PolynomialRidge,
    kernel_ridge_path,
    nt_ridge_path,
    polynomial_ridge_path,
)

SEED = 7031


def _rel(a, b):
    return np.max(np.abs(np.asarray(a) - np.asarray(b))) / np.max(np.abs(b))


def _sphere_data(n, d, seed, n_test=15):
    rng = np.random.default_rng(seed)
    X = data.sample_sphere(n, d, rng)
    X_test = data.sample_sphere(n_test, d, rng)
    y = rng.standard_normal(n)
    return X, y, X_test


# --------------------------------------------------------------------------- scikit-learn checks


def _expected_failures(estimator):
    # check_estimators_dtypes rounds random data to integers, which creates all-zero
    # rows; a zero row has no direction, so it cannot be put on the sphere and the
    # sphere-only models refuse it (ValueError naming the row). Integer and float32
    # input without zero rows is tested in
    # test_sphere_models_refuse_off_sphere_data_unless_normalized.
    if isinstance(estimator, (KernelRidgeNT, PolynomialRidge)):
        return {"check_estimators_dtypes": "integer test data has zero rows, which have no direction on the sphere"}
    return {}


# Small instances keep the checks fast. The sphere-only models are checked with
# normalize=True: sklearn's random data is not on the sphere, and with the
# projection the model is genuinely defined for every nonzero input.
# The ridge = 0 instances fit sklearn's small random data sets whose (Phi^T Phi or K)
# is numerically singular (fewer features than samples, repeated or integer rows): the
# minimum-norm pseudo-inverse solution is the intended result and the LinAlgWarning
# saying so is expected here (and tested in test_ridge.py), so it is filtered for this
# test only.
@pytest.mark.filterwarnings("ignore:.*numerically singular:scipy.linalg.LinAlgWarning")
@parametrize_with_checks(
    [
        NTRidge(width=8, random_state=0),
        NTRidge(activation="tanh", width=40, ridge=0.1, layers="both", random_state=1),
        KernelRidgeNT(normalize=True),
        PolynomialRidge(ridge=0.01, normalize=True),
    ],
    expected_failed_checks=_expected_failures,
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


# --------------------------------------------------------------------------- estimators vs the core


@pytest.mark.parametrize(
    "activation,width,layers,ridge",
    [
        ("relu", 30, "first", 0.1),  # p = 180 >= n = 120: dual route
        ("tanh", 10, "first", 0.05),  # p = 60 < n: primal route
        ("relu", 12, "both", 0.2),  # p = 84 < n: primal route, both layers
        ("tanh", 200, "second", 0.1),  # p = 200 >= n: dual route, random features
    ],
)
def test_nt_ridge_matches_dense_solve(activation, width, layers, ridge):
    # Oracle: the dual formula K_N(X_test, X) (K_N + lambda I)^{-1} y with
    # np.linalg.solve, for the same W (same seed through data.as_generator), in
    # both routes (so the primal route is also checked against the dual).
    # Tolerance 1e-9 relative: cond(K_N + lambda I) <= e_max/lambda ~ 40/0.05, times
    # n * eps, is ~ 1e-11.
    n, d = 120, 6
    X, y, X_test = _sphere_data(n, d, SEED)
    model = NTRidge(activation, width=width, ridge=ridge, layers=layers, random_state=SEED).fit(X, y)
    W = data.sample_weights(width, d, data.as_generator(SEED))
    assert np.array_equal(model.weights_, W)
    K = kernels.nt_kernel(X, W, activation, layers=layers)
    K_test = kernels.nt_kernel(X_test, W, activation, X2=X, layers=layers)
    alpha = np.linalg.solve(K + ridge * np.eye(n), y)
    assert _rel(model.predict(X_test), K_test @ alpha) < 1e-9
    p = nt_feature_count(width, d, layers)
    assert model.solver_ == ("primal" if p < n else "dual")
    assert hasattr(model, "coef_") == (p < n) and hasattr(model, "dual_coef_") == (p >= n)
    # the functional core over a path, at the same ridge
    path = nt_ridge_path(X, y, W, activation, [ridge, 1.0], X_test, layers=layers)
    assert path.space == model.solver_
    assert _rel(path.predictions_test[0], K_test @ alpha) < 1e-9
    assert path.train_error[0] == pytest.approx(np.mean((y - K @ alpha) ** 2), rel=1e-9)


def test_kernel_ridge_matches_dense_solve():
    # Oracle: np.linalg.solve on infinite_kernel; tolerance as above.
    n, d = 100, 5
    X, y, X_test = _sphere_data(n, d, SEED + 1)
    K = kernels.infinite_kernel(X, "relu")
    K_test = kernels.infinite_kernel(X_test, "relu", X2=X)
    for ridge in (0.0, 0.1):
        model = KernelRidgeNT("relu", ridge=ridge).fit(X, y)
        alpha = np.linalg.solve(K + ridge * np.eye(n), y)
        assert _rel(model.predict(X_test), K_test @ alpha) < 1e-9
    path = kernel_ridge_path(X, y, "relu", [0.0, 0.1], X_test)
    assert _rel(path.predictions_test[1], model.predict(X_test)) < 1e-9
    assert path.train_error[0] < 1e-20  # K invertible (lambda_min >= ~gamma): interpolation
    # normalize=True changes nothing for sphere data: the projection is the identity
    # up to rounding (~1e-16), but relu's h(t) = (pi - arccos t)/(2 pi) has a square-
    # root singularity at t = 1, so a rounding change delta of <x,x>/d moves the
    # diagonal of K by ~ sqrt(2 delta)/(2 pi) ~ 2e-9 (measured 4e-9 across 200
    # sphere points); amplified by cond(K + 0.1 I) ~ 100, tolerance 1e-6.
    projected = KernelRidgeNT("relu", ridge=0.1, normalize=True).fit(X, y)
    assert _rel(projected.predict(X_test), model.predict(X_test)) < 1e-6


def test_polynomial_ridge_matches_dense_solve_with_self_induced_ridge():
    # Oracle: np.linalg.solve(K_{<=l} + (lambda + gamma_{>l}) I, y) with the
    # truncated kernel and gamma_above computed by ntphase.sphere; level None
    # resolves to sphere.level(n, d, activation).
    n, d = 90, 6
    X, y, X_test = _sphere_data(n, d, SEED + 2)
    lam = 0.02
    model = PolynomialRidge("relu", ridge=lam).fit(X, y)
    level = sphere.level(n, d, "relu")
    gamma = sphere.gamma_above("relu", d, level)
    assert model.level_ == level and model.gamma_ == pytest.approx(gamma, rel=1e-15)
    assert model.effective_ridge_ == pytest.approx(lam + gamma, rel=1e-15)
    K = kernels.truncated_kernel(X, "relu", level)
    K_test = kernels.truncated_kernel(X_test, "relu", level, X2=X)
    alpha = np.linalg.solve(K + (lam + gamma) * np.eye(n), y)
    assert _rel(model.predict(X_test), K_test @ alpha) < 1e-9
    path = polynomial_ridge_path(X, y, "relu", [lam, 0.5], X_test=X_test)
    assert np.array_equal(path.lambdas, [lam, 0.5])  # the user ridges are reported
    assert _rel(path.predictions_test[0], K_test @ alpha) < 1e-9
    # an explicit level is used as given
    assert PolynomialRidge("relu", level=1).fit(X, y).level_ == 1


def test_nt_ridge_tends_to_kernel_ridge_with_width():
    # Two views of one definition: K_N -> K entrywise at the Monte-Carlo rate
    # N^{-1/2}, so the NT ridge predictions approach KRR's. 16x the width should
    # shrink the gap ~4x; asserted: at least 2x (seeded; the ratio of two
    # Monte-Carlo errors fluctuates by tens of percent at these sizes).
    n, d = 60, 5
    X, y, X_test = _sphere_data(n, d, SEED + 3)
    krr = KernelRidgeNT("relu", ridge=0.1).fit(X, y).predict(X_test)
    gaps = [
        np.linalg.norm(NTRidge("relu", width=N, ridge=0.1, random_state=SEED).fit(X, y).predict(X_test) - krr)
        for N in (250, 4000)
    ]
    assert gaps[1] < 0.5 * gaps[0]


# --------------------------------------------------------------------------- memorization


@pytest.mark.parametrize("n,d", [(120, 8), (200, 10)])
def test_interpolation_threshold_tanh_random_labels(n, d):
    # Random labels y ~ N(0,1), tanh (sigma' > 0 everywhere, so K_N has full rank
    # min(n, N d) for generic data):
    # - N d >= 2n: K_N is invertible, the min-norm fit interpolates; training error
    #   < 1e-10 ||y||^2/n (rounding: cond(K_N) * eps ~ 1e-13).
    # - N d <= n/2: the fit is a least-squares projection on p = N d features; the
    #   residual fraction is ~ 1 - p/n >= 1/2 (chi^2 argument); asserted > 0.1.
    rng = np.random.default_rng(SEED + n)
    X = data.sample_sphere(n, d, rng)
    y = data.random_labels(n, rng)
    scale = np.mean(y**2)
    wide = -(-2 * n // d)  # N d >= 2 n
    narrow = n // (2 * d)  # N d <= n / 2
    for N, interpolates in ((wide, True), (narrow, False)):
        W = data.sample_weights(N, d, rng)
        path = nt_ridge_path(X, y, W, "tanh", [0.0])
        if interpolates:
            assert path.space == "dual"
            assert path.train_error[0] < 1e-10 * scale
        else:
            assert path.space == "primal" and N * d <= n / 2
            assert path.train_error[0] > 0.1 * scale
            # and the residual fraction is near its expectation 1 - p/n (sd ~ sqrt(2/n))
            assert path.train_error[0] / scale == pytest.approx(1 - N * d / n, abs=5 * np.sqrt(2 / n))
    model = NTRidge("tanh", width=wide, random_state=SEED).fit(X, y)
    assert model.score(X, y) > 1 - 1e-10


# --------------------------------------------------------------------------- bad input


def test_bad_settings_raise_at_fit():
    X, y, _ = _sphere_data(20, 4, SEED + 4)
    cases = [
        (NTRidge(width=0), ValueError, "width must be an integer >= 1"),
        (NTRidge(width=2.5), TypeError, "width must be an integer"),
        (NTRidge(ridge=-1.0), ValueError, "ridge must be >= 0"),
        (NTRidge(layers="third"), ValueError, "layers must be one of"),
        (NTRidge(weights="uniform"), ValueError, "weights must be one of"),
        (KernelRidgeNT(activation="no_such_activation"), ValueError, "no_such_activation"),
        (KernelRidgeNT(normalize="yes"), TypeError, "normalize must be a bool"),
        (PolynomialRidge(level=-1), ValueError, "level must be an integer >= 0"),
    ]
    for model, error, message in cases:
        with pytest.raises(error, match=message):
            model.fit(X, y)


def test_sphere_models_refuse_off_sphere_data_unless_normalized():
    rng = np.random.default_rng(SEED + 5)
    X = rng.standard_normal((30, 4))
    y = rng.standard_normal(30)
    with pytest.raises(ValueError, match="sphere"):
        KernelRidgeNT().fit(X, y)
    with pytest.raises(ValueError, match="sphere"):
        PolynomialRidge().fit(X, y)
    model = KernelRidgeNT(ridge=0.1, normalize=True).fit(X, y)
    # normalized model == plain model on the projected data (scale-invariant);
    # tolerance 1e-6 for relu's sqrt(rounding) sensitivity at t = 1 (see above)
    plain = KernelRidgeNT(ridge=0.1).fit(project_to_sphere(X), y)
    assert _rel(model.predict(2.5 * X), plain.predict(project_to_sphere(X))) < 1e-6
    # integer and float32 input (without zero rows) are accepted, computed in float64
    X_int = np.rint(3 * X).astype(np.int64)
    X_int[np.all(X_int == 0, axis=1)] = 1
    pred = KernelRidgeNT(ridge=0.1, normalize=True).fit(X_int, y).predict(X_int)
    assert pred.dtype == np.float64 and np.all(np.isfinite(pred))
    # float32 rounding (~6e-8 relative) of off-diagonal cosines moves K smoothly; the
    # re-projection keeps the diagonal at t = 1 to rounding; tolerance 1e-3 is loose.
    pred32 = model.predict(X.astype(np.float32))
    assert pred32.dtype == np.float64 and _rel(pred32, model.predict(X)) < 1e-3
    with pytest.raises(ValueError, match="row 1 is zero"):
        project_to_sphere(np.array([[1.0, 0.0], [0.0, 0.0]]))
    with pytest.raises(ValueError, match="1 feature"):
        NTRidge().fit(X[:, :1], y)


def test_polynomial_ridge_path_checks_lambdas_like_ridge_path():
    # Oracle: ridge_path's own check (one rule for every path): a non-numeric ridge is a
    # TypeError naming lambdas, a negative one a ValueError naming lambdas.
    from ntphase.data import sample_sphere

    X = sample_sphere(20, 5, np.random.default_rng(0))
    y = np.ones(20)
    with pytest.raises(TypeError, match="lambdas"):
        polynomial_ridge_path(X, y, "relu", "big")
    with pytest.raises(ValueError, match="lambdas must all be >= 0"):
        polynomial_ridge_path(X, y, "relu", [-1.0])
