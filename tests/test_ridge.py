"""Ridge solvers, paths and minimum-norm interpolation (test error: test_evaluation.py).

Oracles: NumPy's dense solver (``np.linalg.solve``), pseudo-inverse
(``np.linalg.pinv``) and least squares, the hat-matrix formulas for dof and GCV,
and scikit-learn's independent ``KernelRidge``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy.linalg import LinAlgWarning
from sklearn.kernel_ridge import KernelRidge

from ntphase.learning import evaluation
from ntphase.linalg import ridge

RNG_SEED = 20220901


def _psd(rng, n, rank=None, scale=1.0):
    """Random PSD matrix A A^T / cols (full rank unless ``rank`` < n)."""
    cols = 2 * n if rank is None else rank
    A = rng.standard_normal((n, cols))
    return scale * (A @ A.T) / cols, A / np.sqrt(cols)


def _rel(a, b):
    return np.max(np.abs(np.asarray(a) - np.asarray(b))) / np.max(np.abs(b))


# --------------------------------------------------------------------------- the path


def test_path_equals_separate_solves():
    # Oracle: np.linalg.solve((K + lambda I), y) for each lambda separately.
    # Tolerance 1e-10 relative: both are backward stable, the forward error is
    # <= cond(K + lambda I) * n * eps ~ (e_max / e_min ~ 40) * 60 * 2e-16 ~ 5e-13.
    rng = np.random.default_rng(RNG_SEED)
    n = 60
    K, _ = _psd(rng, n)
    y = rng.standard_normal(n)
    K_test = rng.standard_normal((9, n))
    lambdas = np.array([1e-3, 0.05, 1.0, 30.0, 0.2])  # unsorted on purpose
    path = ridge.ridge_path(K, y, lambdas, K_test)
    assert path.space == "dual"
    assert np.array_equal(path.lambdas, lambdas)
    for i, lam in enumerate(lambdas):
        alpha = np.linalg.solve(K + lam * np.eye(n), y)
        assert _rel(path.coef[i], alpha) < 1e-10
        assert _rel(path.predictions_test[i], K_test @ alpha) < 1e-10
        # train error and norm: the direct definitions
        assert path.train_error[i] == pytest.approx(np.mean((y - K @ alpha) ** 2), rel=1e-10)
        assert path.norm[i] == pytest.approx(alpha @ K @ alpha, rel=1e-10)
        sol = path.at(lam)
        assert sol.ridge == lam and np.array_equal(sol.coef, path.coef[i])
    assert _rel(path.predict(K_test), path.predictions_test) < 1e-14


def test_dof_and_gcv_match_the_hat_matrix():
    # Oracle: hat matrix A = K (K + lambda I)^{-1} formed densely; dof = tr A,
    # GCV = n ||(I - A) y||^2 / tr(I - A)^2. Tolerance 1e-9: the trace of a dense
    # product carries ~ n * cond * eps ~ 1e-12 error.
    rng = np.random.default_rng(RNG_SEED + 1)
    n = 50
    K, _ = _psd(rng, n)
    y = rng.standard_normal(n)
    lambdas = np.array([1e-2, 0.3, 5.0])
    path = ridge.ridge_path(K, y, lambdas)
    for i, lam in enumerate(lambdas):
        A = np.linalg.solve(K + lam * np.eye(n), K).T  # K (K + lam I)^{-1}, symmetric
        resid = y - A @ y
        assert path.dof[i] == pytest.approx(np.trace(A), rel=1e-9)
        gcv = n * (resid @ resid) / np.trace(np.eye(n) - A) ** 2
        assert path.gcv[i] == pytest.approx(gcv, rel=1e-9)
    # dof decreases with lambda and lies in (0, n)
    assert np.all(np.diff(path.dof) < 0) and np.all((path.dof > 0) & (path.dof < n))


def test_gcv_at_zero_ridge_is_the_small_ridge_limit():
    # At lambda = 0 with K invertible, RSS = 0 and n - dof = 0; the path reports the
    # lambda -> 0+ limit. Oracle: the direct hat-matrix GCV at lambda = 1e-9, whose
    # relative distance to the limit is O(lambda / e_min) ~ 1e-9 / 0.1; tolerance 1e-6.
    rng = np.random.default_rng(RNG_SEED + 2)
    n = 40
    K, _ = _psd(rng, n)
    y = rng.standard_normal(n)
    lam = 1e-9
    A = np.linalg.solve(K + lam * np.eye(n), K).T
    resid = y - A @ y
    direct = n * (resid @ resid) / np.sum(lam * np.linalg.eigvalsh(K + lam * np.eye(n)) ** -1) ** 2
    path = ridge.ridge_path(K, y, [0.0])
    assert np.isfinite(path.gcv[0])
    assert path.gcv[0] == pytest.approx(direct, rel=1e-6)
    assert path.train_error[0] < 1e-20 * np.mean(y**2) + 1e-25  # interpolates


def test_sklearn_kernel_ridge_cross_check():
    # Oracle: scikit-learn's KernelRidge(kernel="precomputed", alpha=lambda), an
    # independent implementation (Cholesky on K + alpha I). Same convention
    # (K + lambda I), so predictions agree to solver precision; tolerance 1e-10.
    rng = np.random.default_rng(RNG_SEED + 3)
    n = 45
    K, _ = _psd(rng, n)
    y = rng.standard_normal(n)
    K_test = rng.standard_normal((6, n))
    lambdas = [0.01, 0.7, 4.0]
    path = ridge.ridge_path(K, y, lambdas, K_test)
    for i, lam in enumerate(lambdas):
        model = KernelRidge(kernel="precomputed", alpha=lam).fit(K, y)
        assert _rel(path.predictions_test[i], model.predict(K_test)) < 1e-10
        assert _rel(path.coef[i], model.dual_coef_) < 1e-10


# --------------------------------------------------------------------------- primal vs dual


@pytest.mark.parametrize("shape", [(80, 30), (40, 40), (25, 60)])
def test_primal_equals_dual(shape):
    # Oracle: the dual path on K = Phi Phi^T. The two routes share no code path
    # (thin SVD of Phi vs eigh of K). Tolerance 1e-10 relative on predictions,
    # train errors, norms, dof and GCV: both are backward stable; with ridges >= 0.01
    # and e_max ~ 5, cond <= 500 and the forward errors are ~ cond * n * eps <~ 1e-11.
    # lambda = 0 included: p < n is least squares, p >= n interpolation.
    n, p = shape
    rng = np.random.default_rng(RNG_SEED + n + p)
    Phi = rng.standard_normal((n, p)) / np.sqrt(p)
    Phi_test = rng.standard_normal((7, p)) / np.sqrt(p)
    y = rng.standard_normal(n)
    lambdas = [0.0, 0.01, 0.5, 3.0]
    primal = ridge.primal_ridge_path(Phi, y, lambdas, Phi_test)
    with warnings.catch_warnings():
        # K = Phi Phi^T is singular when p < n; the lambda = 0 warning is expected there
        warnings.simplefilter("ignore", LinAlgWarning)
        dual = ridge.ridge_path(Phi @ Phi.T, y, lambdas, Phi_test @ Phi.T)
    assert primal.space == "primal" and primal.coef.shape == (4, p)
    assert _rel(primal.predictions_test, dual.predictions_test) < 1e-10
    for name in ("train_error", "norm", "dof", "gcv"):
        a, b = getattr(primal, name), getattr(dual, name)
        assert np.allclose(a, b, rtol=1e-10, atol=1e-12 * np.max(np.abs(b))), name
    # feature coefficients are Phi^T alpha (a_hat = Phi^T (K + lambda I)^{-1} y)
    assert _rel(primal.coef[1:], dual.coef[1:] @ Phi) < 1e-10
    # lambda = 0: Phi^+ y (oracle: np.linalg.lstsq minimum-norm solution)
    a0 = np.linalg.lstsq(Phi, y, rcond=None)[0]
    assert _rel(primal.coef[0], a0) < 1e-10
    # ridge_path_auto takes the smaller side
    auto = ridge.ridge_path_auto(Phi, y, lambdas[1:], Phi_test)
    assert auto.space == ("primal" if p < n else "dual")
    assert _rel(auto.predictions_test, primal.predictions_test[1:]) < 1e-10


# --------------------------------------------------------------------------- lambda -> 0, singular K


def test_zero_ridge_on_singular_kernel_is_the_pseudo_inverse():
    # K = Phi Phi^T has rank p = 15 < n = 40. Oracle: np.linalg.pinv(K) with the
    # same relative cutoff (n * eps; pinv cuts singular values, which for a PSD
    # matrix are the eigenvalues). Tolerance 1e-8 relative: pinv(K) y amplifies the
    # rounding error of K by 1/e_min(range) ~ 1/0.05, two independent routes.
    rng = np.random.default_rng(RNG_SEED + 4)
    n, p = 40, 15
    Phi = rng.standard_normal((n, p)) / np.sqrt(p)
    K = Phi @ Phi.T
    y = rng.standard_normal(n)
    K_test = rng.standard_normal((5, p)) @ Phi.T / np.sqrt(p)
    with pytest.warns(LinAlgWarning, match=r"condition number [0-9.e+]+.*25 of 40"):
        path = ridge.ridge_path(K, y, [0.0, 1e-6, 1e-4], K_test)
    alpha_pinv = np.linalg.pinv(K, rcond=n * np.finfo(float).eps, hermitian=True) @ y
    assert _rel(path.coef[0], alpha_pinv) < 1e-8
    assert path.rank[0] == p
    assert _rel(path.predictions_test[0], K_test @ alpha_pinv) < 1e-8
    with pytest.warns(LinAlgWarning, match="condition number"):
        assert _rel(ridge.min_norm_interpolator(K, y), alpha_pinv) < 1e-8
    # The path approaches the interpolator as lambda -> 0+: fitted values and test
    # predictions are continuous (the dual coefficients are not, on the null
    # space of K). Deviation O(lambda / e_min(range)) with e_min ~ 0.05.
    pred_err = np.max(np.abs(path.predictions_test[1:] - path.predictions_test[0]), axis=1)
    assert pred_err[0] < 1e-3 * np.max(np.abs(path.predictions_test[0]))
    assert pred_err[0] < pred_err[1]  # closer at smaller lambda
    assert np.all(np.diff(path.train_error) > 0)


def test_singular_warning_carries_condition_number_for_exact_singular_matrix():
    # Exactly singular diagonal K: eigenvalue 0 is dropped; warning gives cond = inf.
    K = np.diag([2.0, 1.0, 0.0])
    y = np.array([2.0, 1.0, 5.0])
    with pytest.warns(LinAlgWarning, match=r"condition number inf.*1 of 3"):
        path = ridge.ridge_path(K, y, [0.0])
    # oracle: pinv of a diagonal matrix by hand
    assert np.allclose(path.coef[0], [1.0, 1.0, 0.0], rtol=0, atol=1e-15)
    assert path.train_error[0] == pytest.approx(25.0 / 3.0, rel=1e-14)


# --------------------------------------------------------------------------- Cholesky solve


def test_solve_ridge_matches_dense_solve_without_warning():
    # Oracle: np.linalg.solve; tolerance 1e-10 (cond ~ 40, see first test).
    rng = np.random.default_rng(RNG_SEED + 5)
    n = 50
    K, _ = _psd(rng, n)
    y = rng.standard_normal(n)
    K_in = K.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for lam in (0.0, 0.1, 2.0):
            alpha = ridge.solve_ridge(K, y, lam)
            assert _rel(alpha, np.linalg.solve(K + lam * np.eye(n), y)) < 1e-10
    assert np.array_equal(K, K_in)  # input not mutated


def test_solve_ridge_not_positive_definite_falls_back_loudly():
    # K indefinite so K + 0.5 I has eigenvalue -0.5: Cholesky fails; the fallback
    # is the exact (pseudo-)inverse. Oracle: np.linalg.solve on the invertible
    # K + 0.5 I; tolerance 1e-12 (cond = 5).
    rng = np.random.default_rng(RNG_SEED + 6)
    Q, _ = np.linalg.qr(rng.standard_normal((6, 6)))
    K = Q @ np.diag([-1.0, 0.5, 1.0, 2.0, 3.0, 2.0]) @ Q.T
    K = (K + K.T) / 2
    y = rng.standard_normal(6)
    with pytest.warns(LinAlgWarning, match="not positive definite") as record:
        alpha = ridge.solve_ridge(K, y, 0.5)
    assert any("condition number" in str(w.message) for w in record)
    assert _rel(alpha, np.linalg.solve(K + 0.5 * np.eye(6), y)) < 1e-12


def test_solve_ridge_singular_falls_back_to_pseudo_inverse():
    # Singular PSD K at ridge 0: Cholesky may "succeed" on rounding noise; pocon's
    # condition estimate catches it. Oracle: pinv with the n * eps cutoff.
    rng = np.random.default_rng(RNG_SEED + 7)
    Phi = rng.standard_normal((30, 10))
    K = Phi @ Phi.T
    y = rng.standard_normal(30)
    with pytest.warns(LinAlgWarning, match="condition number"):
        alpha = ridge.solve_ridge(K, y, 0.0)
    oracle = np.linalg.pinv(K, rcond=30 * np.finfo(float).eps, hermitian=True) @ y
    assert _rel(alpha, oracle) < 1e-8


# --------------------------------------------------------------------------- bad input


def test_bad_inputs_are_named():
    K = np.eye(3)
    y = np.ones(3)
    with pytest.raises(ValueError, match="K must be a square"):
        ridge.ridge_path(np.ones((3, 2)), y, 1.0)
    with pytest.raises(ValueError, match="K must be symmetric"):
        ridge.ridge_path(np.triu(np.ones((3, 3))), y, 1.0)
    with pytest.raises(ValueError, match="y must have length 3"):
        ridge.ridge_path(K, np.ones(4), 1.0)
    with pytest.raises(ValueError, match="lambdas must all be >= 0"):
        ridge.ridge_path(K, y, [1.0, -0.1])
    with pytest.raises(ValueError, match="lambdas must be finite"):
        ridge.ridge_path(K, y, [np.nan])
    with pytest.raises(ValueError, match="lambdas must be a non-empty"):
        ridge.ridge_path(K, y, [])
    with pytest.raises(TypeError, match="lambdas must be a real number"):
        ridge.ridge_path(K, y, "big")
    with pytest.raises(ValueError, match="K_test must have 3 columns"):
        ridge.ridge_path(K, y, 1.0, np.ones((2, 4)))
    with pytest.raises(ValueError, match="K must contain only finite"):
        ridge.ridge_path(np.full((3, 3), np.inf), y, 1.0)
    with pytest.raises(ValueError, match="y must contain only finite"):
        ridge.solve_ridge(K, [1.0, np.nan, 0.0], 1.0)
    with pytest.raises(ValueError, match="ridge must be >= 0"):
        ridge.solve_ridge(K, y, -1.0)
    with pytest.raises(ValueError, match="Phi_test must have 2 columns"):
        ridge.primal_ridge_path(np.ones((3, 2)), y, 1.0, np.ones((1, 3)))
    with pytest.raises(ValueError, match="ridge must be one of the path's lambdas"):
        ridge.ridge_path(K, y, [1.0]).at(2.0)
    with pytest.raises(ValueError, match="y_pred must have shape"):
        evaluation.test_error(np.ones(4), np.ones(3))
    with pytest.raises(ValueError, match="at least 2 test points"):
        evaluation.test_error(np.ones(1), np.ones(1))
