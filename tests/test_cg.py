"""Block PCG and matrix-free ridge paths against dense solves."""

import warnings

import numpy as np
import pytest
from scipy.sparse.linalg import aslinearoperator

import ntphase
from ntphase.data import sample_sphere, sample_weights
from ntphase.learning.preconditioning import harmonic_preconditioner as HarmonicPreconditioner
from ntphase.linalg.cg import ConvergenceWarning, block_cg, ridge_path_cg
from ntphase.linalg.preconditioners import NystromPreconditioner


@pytest.fixture(scope="module")
def problem():
    X = sample_sphere(300, 8, rng=0)
    K = ntphase.infinite_kernel(X, "relu")
    Y = np.random.default_rng(1).standard_normal((300, 3))
    return X, K, Y


def _rel(a, b):
    return np.linalg.norm(a - b) / np.linalg.norm(b)


@pytest.mark.parametrize("precond", [None, "harmonic", "nystrom"])
def test_block_cg_matches_dense_solve(problem, precond):
    X, K, Y = problem
    ridges = np.array([0.0, 1e-3, 1.0])  # lambda = 0: the interpolator (K is invertible on the sphere)
    M = {
        None: None,
        "harmonic": HarmonicPreconditioner(X, "relu", 1e-3),
        "nystrom": NystromPreconditioner(K, 60, 1e-3, rng=0),
    }[precond]
    sol, info = block_cg(aslinearoperator(K), Y, M, ridge=ridges, rtol=1e-10)
    assert info.converged and np.all(info.residuals <= 1e-10)
    for j, lam in enumerate(ridges):
        # oracle: dense solve
        ref = np.linalg.solve(K + lam * np.eye(300), Y[:, j])
        assert _rel(sol[:, j], ref) < 1e-7
        # the reported residual is the true one
        true = np.linalg.norm(Y[:, j] - (K + lam * np.eye(300)) @ sol[:, j]) / np.linalg.norm(Y[:, j])
        assert info.residuals[j] == pytest.approx(true, rel=1e-6, abs=1e-15)


def test_block_cg_nt_operator_vector_warm_start_and_zero_column():
    # oracle: dense solve with NTKernelOperator.todense()
    X = sample_sphere(200, 6, rng=2)
    op = ntphase.NTKernelOperator(X, sample_weights(100, 6, rng=3), "relu")
    y = np.random.default_rng(4).standard_normal(200)
    ref = np.linalg.solve(op.todense() + 1e-2 * np.eye(200), y)
    x, info = block_cg(op, y, ridge=1e-2, rtol=1e-11)
    assert x.shape == (200,) and _rel(x, ref) < 1e-8
    x2, info2 = block_cg(op, y, ridge=1e-2, rtol=1e-11, x0=ref + 1e-6 * y)
    assert info2.iterations[0] < info.iterations[0] and _rel(x2, ref) < 1e-8
    B = np.stack([y, np.zeros(200)], 1)
    Z, info3 = block_cg(op, B, ridge=1e-2)
    assert np.all(Z[:, 1] == 0) and info3.iterations[1] == 0 and info3.converged


def test_progress_callback_and_convergence_warning(problem):
    _, K, Y = problem
    seen = []
    with pytest.warns(ConvergenceWarning, match=r"largest relative residual .* 3 iterations, cap 3"):
        _, info = block_cg(K, Y, maxiter=3, progress=lambda it, res: seen.append((it, res)))
    assert not info.converged and [s[0] for s in seen] == [1, 2, 3]
    assert info.residuals.max() > 1e-8


def test_breakdown_is_loud():
    # oracle: A = 0 with ridge 0 is not positive definite; CG must say so
    with pytest.warns(ConvergenceWarning, match="not positive definite"):
        _, info = block_cg(np.zeros((5, 5)), np.ones(5))
    assert not info.converged


def test_block_cg_bad_input(problem):
    _, K, Y = problem
    with pytest.raises(ValueError, match="B must have shape"):
        block_cg(K, Y[:10])
    with pytest.raises(ValueError, match="ridge must be >= 0"):
        block_cg(K, Y, ridge=-1.0)
    with pytest.raises(ValueError, match="one entry per column"):
        block_cg(K, Y, ridge=[0.0, 1.0])
    with pytest.raises(ValueError, match="M must have the shape"):
        block_cg(K, Y, np.eye(3))
    with pytest.raises(TypeError, match="progress must be a callable"):
        block_cg(K, Y, progress=3)


@pytest.mark.parametrize("precond", [None, "harmonic"])
def test_ridge_path_matches_dense_solves(problem, precond):
    X, K, Y = problem
    lambdas = np.array([1.0, 0.0, 1e-3, 1e-2, 0.1])
    M = None if precond is None else HarmonicPreconditioner(X, "relu")
    sol, info = ridge_path_cg(K, Y[:, 0], lambdas, M, rtol=1e-10)
    assert info.converged and sol.shape == (300, 5)
    for j, lam in enumerate(lambdas):
        # oracle: dense solve per ridge
        assert _rel(sol[:, j], np.linalg.solve(K + lam * np.eye(300), Y[:, 0])) < 1e-7
    if precond is None:  # multi-shift: base iterations plus one residual check per shift
        assert info.products <= info.iterations.max() + lambdas.size + 5


def test_ridge_path_bad_input(problem):
    _, K, Y = problem
    with pytest.raises(ValueError, match="lambdas must be finite and >= 0"):
        ridge_path_cg(K, Y[:, 0], [-1.0])
    with pytest.raises(TypeError, match="for_ridges"):
        ridge_path_cg(K, Y[:, 0], [0.0], np.eye(300))


def test_harmonic_pcg_iteration_claim():
    # The theory's preconditioner at n = 2,000, d = 30 (level 2, r = 496), relu, rtol 1e-8:
    # oracle for "converged": the true residual (block_cg reports it); counts compared with plain CG.
    X = sample_sphere(2000, 30, rng=7)
    K = ntphase.infinite_kernel(X, "relu")
    y = np.random.default_rng(8).standard_normal(2000)
    for lam in (0.0, 1e-3):
        with warnings.catch_warnings():
            warnings.simplefilter("error", ConvergenceWarning)
            _, plain = block_cg(K, y, ridge=lam)
            _, pcg = block_cg(K, y, HarmonicPreconditioner(X, "relu", lam), ridge=lam)
        assert pcg.iterations[0] <= 20
        assert 5 * pcg.iterations[0] <= plain.iterations[0]
