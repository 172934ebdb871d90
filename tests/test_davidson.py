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


@pytest.mark.parametrize("block", [3, 16])
def test_block_davidson_matches_eigvalsh_with_fewer_passes(block):
    X = sample_sphere(700, 12, rng=6)
    K = ntphase.infinite_kernel(X, "relu")
    P = harmonic_preconditioner(X, "relu", 0.0, level=2)
    single = lambda_min(K, method="davidson", preconditioner=P, rng=2, return_info=True)
    result = lambda_min(K, method="davidson", preconditioner=P, rng=2, block_size=block, return_info=True)
    exact = scipy.linalg.eigvalsh(K, subset_by_index=[0, 0])[0]  # oracle: dense eigvalsh
    assert result.converged
    assert -1e-12 <= result.value - exact <= result.residual_norm + 1e-12
    # a step is one pass with a block of `block` vectors (the 2 scale probes and the final check aside)
    assert result.matvecs == block * result.iterations + 3
    assert result.iterations < single.iterations


@pytest.mark.parametrize("method", ["lanczos", "davidson"])
def test_progress_reports_a_non_increasing_ritz_value(method):
    X = sample_sphere(400, 10, rng=7)
    K = ntphase.infinite_kernel(X, "relu")
    seen = []
    options = {"preconditioner": harmonic_preconditioner(X, "relu", 0.0, level=2), "block_size": 4}
    result = lambda_min(K, method=method, rng=3, return_info=True, progress=lambda *a: seen.append(a),
                        **(options if method == "davidson" else {}))
    products, values, residuals = map(np.array, zip(*seen))
    assert len(seen) >= 2 and np.all(np.diff(products) > 0)
    # Cauchy interlacing: a larger basis, or a thick restart that keeps the smallest Ritz
    # vectors, never raises the smallest Ritz value
    assert np.all(np.diff(values) <= 1e-12 * abs(values[0]))
    assert values[-1] == pytest.approx(result.value, rel=1e-9)
    assert residuals[-1] <= 1e-10 * result.scale < residuals[0]
