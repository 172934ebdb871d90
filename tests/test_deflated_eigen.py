"""lambda_min with the harmonic preconditioner against dense eigvalsh."""

import pytest
import scipy.linalg

import ntphase
from ntphase._staging_linalg.cg import ConvergenceWarning
from ntphase._staging_linalg.eigen_deflated import lambda_min_harmonic
from ntphase.data import sample_sphere, sample_weights


@pytest.mark.parametrize("method", ["davidson", "lobpcg"])
def test_infinite_kernel_matches_eigvalsh(method):
    X = sample_sphere(1500, 20, rng=0)
    K = ntphase.infinite_kernel(X, "relu")
    result = lambda_min_harmonic(K, X, "relu", rng=1, method=method)
    exact = scipy.linalg.eigvalsh(K, subset_by_index=[0, 0])[0]  # oracle: dense eigvalsh
    assert result.converged and result.level == 2
    # Ritz value from above, within the residual (plus rounding of the dense solver)
    assert -1e-12 <= result.value - exact <= result.residual_norm + 1e-12
    assert result.residual_norm <= 1e-10 * result.scale


@pytest.mark.parametrize("method", ["davidson", "lobpcg"])
def test_nt_operator_matches_eigvalsh(method):
    X = sample_sphere(800, 20, rng=2)
    op = ntphase.NTKernelOperator(X, sample_weights(80, 20, rng=3), "relu")  # N d / n = 2
    result = lambda_min_harmonic(op, X, "relu", rng=4, method=method)
    exact = scipy.linalg.eigvalsh(op.todense(), subset_by_index=[0, 0])[0]  # oracle: dense eigvalsh
    assert result.converged
    assert -1e-12 <= result.value - exact <= result.residual_norm + 1e-12


@pytest.mark.parametrize("method", ["davidson", "lobpcg"])
def test_not_converged_warns(method):
    X = sample_sphere(300, 8, rng=5)
    K = ntphase.infinite_kernel(X, "relu")
    with pytest.warns(ConvergenceWarning, match=rf"residual .* after \d+ {method} iterations"):
        result = lambda_min_harmonic(K, X, "relu", rng=0, maxiter=2, method=method)
    assert not result.converged
    # still an upper bound (Rayleigh quotient); oracle: dense eigvalsh
    assert result.value >= scipy.linalg.eigvalsh(K, subset_by_index=[0, 0])[0] - 1e-12


def test_bad_input():
    X = sample_sphere(50, 4, rng=0)
    K = ntphase.infinite_kernel(X, "relu")
    with pytest.raises(ValueError, match="tol must be > 0"):
        lambda_min_harmonic(K, X, "relu", tol=0.0)
    with pytest.raises(ValueError, match="method must be one of"):
        lambda_min_harmonic(K, X, "relu", method="lanczos")
    with pytest.raises(ValueError, match="preconditioner has shape"):
        lambda_min_harmonic(K[:40, :40], X, "relu")
