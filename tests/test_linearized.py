"""Linearized (NT-model) theory of lazy training (docs/theory.md, section 8): loss curve,
floor, predictions and rates of gradient descent on the kernel, against explicit
iterations and closed forms.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from ntphase import training
from ntphase.data import random_labels, sample_sphere
from ntphase.kernels import nt_features
from ntphase.training import linearized as lin
from ntphase.training import symmetric_initialization

DIM = 10


def test_training_exports_the_linearized_names():
    # the training subpackage's API includes the linearized theory (same objects)
    for name in lin.__all__:
        assert getattr(training, name) is getattr(lin, name), name
        assert name in training.__all__, name


def test_linearized_curve_matches_explicit_iteration():
    # Oracle: iterate r <- (I - eta K) r from r0 = -y and record ||r||^2 / n (naive O(n^2) per step);
    # the spectral formula must agree to rounding (1e-10 relative). The gradient-flow version is
    # checked against scipy's expm: r(s) = expm(-s K)(-y) at time s = eta t.
    import scipy.linalg

    rng = np.random.default_rng(7)
    A = rng.standard_normal((30, 12))
    K = A @ A.T / 12  # rank 12 < 30: a nonzero floor
    y = rng.standard_normal(30)
    eta = 1.0 / np.linalg.eigvalsh(K)[-1]
    r, expected = -y.copy(), []
    for _ in range(201):
        expected.append(r @ r / 30)
        r = r - eta * (K @ r)
    np.testing.assert_allclose(lin.linearized_loss_curve(K, y, eta, 200), expected, rtol=1e-10)
    t = np.array([0, 7, 50])
    cont = [np.sum((scipy.linalg.expm(-eta * s * K) @ y) ** 2) / 30 for s in t]
    np.testing.assert_allclose(lin.linearized_loss_curve(K, y, eta, t, continuous=True), cont, rtol=1e-10)
    # floor oracle: least-squares residual of y on the column space of A (range of K)
    resid = y - A @ np.linalg.lstsq(A, y, rcond=None)[0]
    assert lin.linearized_loss_floor(K, y) == pytest.approx(resid @ resid / 30, rel=1e-10)
    assert lin.linearized_loss_curve(K, y, eta, [10**6])[0] == pytest.approx(resid @ resid / 30, rel=1e-10)


def test_linearized_predictions_match_feature_space_gd():
    # Oracle: gradient descent on the NT coefficients a (explicit features from nt_features),
    # a <- a - eta Phi^T (Phi a - y), predictions Phi a_t and Phi_test a_t (naive, O(n p) per step).
    # p = 3 * 10 = 30 < n = 50, so K is singular and the null-space handling is exercised.
    # Agreement to rounding (1e-9 relative); t -> infinity gives the min-norm interpolator.
    from ntphase.linalg.ridge import min_norm_interpolator

    rng = np.random.default_rng(26)  # the draws of test_training._data(n=50, n_test=20, seed=26)
    X, y, X_test = sample_sphere(50, DIM, rng), random_labels(50, rng), sample_sphere(20, DIM, rng)
    W = symmetric_initialization(6, DIM, rng=27)[0][:3]
    Phi, Phi_test = nt_features(X, W, "tanh"), nt_features(X_test, W, "tanh")
    K, K_cross = Phi @ Phi.T, Phi_test @ Phi.T
    eta = 1.0 / np.linalg.eigvalsh(K)[-1]
    a, train, test = np.zeros(Phi.shape[1]), [], []
    for _ in range(61):
        train.append(Phi @ a)
        test.append(Phi_test @ a)
        a = a - eta * Phi.T @ (Phi @ a - y)
    steps = np.array([0, 1, 7, 60])
    scale = np.linalg.norm(test[-1])
    np.testing.assert_allclose(lin.linearized_predictions(K, y, eta, steps, K_cross=K_cross),
                               np.array(test)[steps], rtol=0, atol=1e-9 * scale)
    np.testing.assert_allclose(lin.linearized_predictions(K, y, eta, 60), train[-1], rtol=0,
                               atol=1e-9 * np.linalg.norm(train[-1]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ridge warns that K is singular: expected here
        limit = K_cross @ min_norm_interpolator(K, y)
    np.testing.assert_allclose(lin.linearized_predictions(K, y, eta, 10**7, K_cross=K_cross), limit,
                               rtol=0, atol=1e-8 * np.linalg.norm(limit))


def test_predicted_and_fitted_rates_closed_forms():
    # Oracle: K = diag(1, 2, 4), eta = 0.25: max |1 - eta lambda| = 0.75 (lambda_min), rate -2 log 0.75.
    K = np.diag([1.0, 2.0, 4.0])
    assert lin.predicted_rate(K, 0.25) == pytest.approx(-2 * math.log(0.75), rel=1e-14)
    # eta = 0.45 > 2/(lmin+lmax) = 0.4: the top eigenvalue limits, |1 - 1.8| = 0.8
    assert lin.predicted_rate(K, 0.45) == pytest.approx(-2 * math.log(0.8), rel=1e-14)
    assert lin.predicted_rate(np.diag([0.0, 1.0]), 0.5) == 0.0
    assert lin.predicted_rate(np.diag([0.0, 1.0]), 0.5, exclude_null=True) == pytest.approx(-2 * math.log(0.5))
    # fit_linear_rate on an exact exponential 3 exp(-0.01 t) (plus an early transient) returns 0.01
    t = np.arange(3000)
    losses = 3 * np.exp(-0.01 * t) + 5 * np.exp(-0.5 * t)
    assert lin.fit_linear_rate(losses, window=(1e-3, 1e-8)) == pytest.approx(0.01, rel=1e-6)
    with pytest.raises(ValueError, match="window"):
        lin.fit_linear_rate(np.ones(10), window=(1e-3, 1e-8))


def test_predicted_rate_accepts_eigenvalues():
    # Oracle: the matrix path (eigh of diag) on the same spectrum. An eigenvalue below
    # n eps max|lambda| (here 1e-20 next to 4) counts as zero in both paths: rate 0, and with
    # exclude_null the rate of the remaining lambda_min = 1 is -2 log(1 - 0.25) (closed form).
    eigs = np.array([4.0, 1e-20, 1.0])
    assert lin.predicted_rate(eigs, 0.25) == lin.predicted_rate(np.diag(eigs), 0.25) == 0.0
    assert lin.predicted_rate(eigs, 0.25, exclude_null=True) == pytest.approx(-2 * math.log(0.75), rel=1e-14)
    assert lin.predicted_rate(np.diag(eigs), 0.25, exclude_null=True) == pytest.approx(-2 * math.log(0.75), rel=1e-14)


def test_list_of_lists_kernel_accepted():
    # Oracle: the same kernel as an ndarray; list input must give identical numbers.
    rng = np.random.default_rng(3)
    A = rng.standard_normal((6, 3))
    K = A @ A.T
    y = rng.standard_normal(6)
    curve = lin.linearized_loss_curve(K, y, 0.1, [0, 5, 10])
    assert np.array_equal(lin.linearized_loss_curve(K.tolist(), y.tolist(), 0.1, [0, 5, 10]), curve)
    assert lin.linearized_loss_floor(K.tolist(), y) == lin.linearized_loss_floor(K, y)
