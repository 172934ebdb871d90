"""lambda_min by preconditioned Davidson (harmonic preconditioner) against dense eigvalsh."""

import numpy as np
import pytest
import scipy.linalg

import ntphase
from ntphase.data import sample_sphere, sample_weights
from ntphase.learning import harmonic_preconditioner
from ntphase.linalg import lambda_min


def test_infinite_kernel_matches_eigvalsh():
    X = sample_sphere(1500, 20, rng=0)
    K = ntphase.infinite_kernel(X, "relu")
    P = harmonic_preconditioner(X, "relu", 0.0, level=2)
    result = lambda_min(K, method="davidson", preconditioner=P, rng=1, return_info=True)
    exact = scipy.linalg.eigvalsh(K, subset_by_index=[0, 0])[0]  # oracle: dense eigvalsh
    assert result.converged and result.method == "davidson"
    # Ritz value from above, within the residual (plus rounding of the dense solver)
    assert -1e-12 <= result.value - exact <= result.residual_norm + 1e-12
    assert result.residual_norm <= 1e-10 * result.scale


def test_nt_operator_matches_eigvalsh_and_auto_picks_davidson():
    X = sample_sphere(800, 20, rng=2)
    op = ntphase.NTKernelOperator(X, sample_weights(80, 20, rng=3), "relu")  # N d / n = 2
    P = harmonic_preconditioner(X, "relu", 0.0, level=2)
    result = lambda_min(op, method="davidson", preconditioner=P, rng=4, return_info=True)
    exact = scipy.linalg.eigvalsh(op.todense(), subset_by_index=[0, 0])[0]  # oracle: dense eigvalsh
    assert result.converged
    assert -1e-12 <= result.value - exact <= result.residual_norm + 1e-12
    # the cost model: an operator of this size is matrix-free, and with a preconditioner Davidson
    from ntphase.linalg import lanczos

    old = lanczos.AUTO_DENSE_MIN_N
    try:
        lanczos.AUTO_DENSE_MIN_N = 100
        assert ntphase.linalg.choose_method(op) == "lanczos"
        auto = lambda_min(op, preconditioner=P, rng=4, return_info=True)
    finally:
        lanczos.AUTO_DENSE_MIN_N = old
    assert auto.method in ("davidson", "dense")


def test_not_converged_warns():
    X = sample_sphere(300, 8, rng=5)
    K = ntphase.infinite_kernel(X, "relu")
    P = harmonic_preconditioner(X, "relu", 0.0, level=2)
    with pytest.warns(RuntimeWarning, match=r"Davidson stopped after \d+ products"):
        result = lambda_min(K, method="davidson", preconditioner=P, rng=0, maxiter=4, return_info=True)
    assert not result.converged
    # still an upper bound (Rayleigh quotient); oracle: dense eigvalsh
    assert result.value >= scipy.linalg.eigvalsh(K, subset_by_index=[0, 0])[0] - 1e-12


def test_bad_input():
    X = sample_sphere(50, 4, rng=0)
    K = ntphase.infinite_kernel(X, "relu")
    with pytest.raises(ValueError, match="needs a preconditioner"):
        lambda_min(K, method="davidson")
    with pytest.raises(ValueError, match="preconditioner must have the shape"):
        lambda_min(K[:40, :40], method="davidson", preconditioner=harmonic_preconditioner(X, "relu", level=1))
    assert np.isfinite(lambda_min(K, method="davidson", preconditioner=np.eye(50)))
