"""Harmonic and Nystrom preconditioners: Woodbury inverses and the models they invert."""

import numpy as np
import pytest
from scipy.sparse.linalg import aslinearoperator

import ntphase
from ntphase._memory import InsufficientMemoryError
from ntphase._staging_linalg.preconditioners import (
    HarmonicPreconditioner,
    NystromPreconditioner,
    PreconditionerWarning,
)
from ntphase.data import sample_sphere
from ntphase.sphere import gamma_above, level


@pytest.mark.parametrize("activation", ["relu", "tanh"])
@pytest.mark.parametrize("ridge", [0.0, 1e-2])
def test_harmonic_model_and_inverse(activation, ridge):
    X = sample_sphere(150, 6, rng=0)
    P = HarmonicPreconditioner(X, activation, ridge, level=2)
    I = np.eye(150)
    model = P.forward(I)
    # oracle: the degree <= 2 truncated kernel plus (gamma_{>2} + ridge) I
    c = gamma_above(activation, 6, 2) + ridge
    np.testing.assert_allclose(model, ntphase.truncated_kernel(X, activation, 2) + c * I, atol=1e-13)
    # oracle: numpy.linalg.inv of the dense model
    np.testing.assert_allclose(P @ I, np.linalg.inv(model), rtol=1e-9, atol=1e-11)


def test_harmonic_drops_zero_degrees_and_default_level():
    # tanh: H(t) = t h(t) with h even, so H is odd and xi_{d,0} = xi_{d,2} = 0 (power-series parity)
    X = sample_sphere(400, 8, rng=1)
    P = HarmonicPreconditioner(X, "tanh")
    assert P.degrees == (1,) and P.rank == 8
    # oracle: the level rule of ntphase.sphere.level, capped at 2
    assert P.level == min(level(400, 8, "tanh"), 2)


def test_harmonic_for_ridges_matches_inverses():
    # oracle: numpy.linalg.inv of each model P_lambda, applied column by column
    X = sample_sphere(120, 5, rng=2)
    P = HarmonicPreconditioner(X, "relu", 0.0, level=2)
    ridges = np.array([0.0, 1e-3, 0.5])
    R = np.random.default_rng(0).standard_normal((120, 3))
    out = P.for_ridges(ridges).apply_columns(R[:, [2, 0]], np.array([2, 0]))
    for j, col in enumerate([2, 0]):
        Pj = HarmonicPreconditioner(X, "relu", ridges[col], level=2)
        np.testing.assert_allclose(out[:, j], np.linalg.solve(Pj.forward(np.eye(120)), R[:, col]), rtol=1e-9)


def test_harmonic_memory_fallback_and_refusal(monkeypatch):
    X = sample_sphere(2000, 60, rng=3)  # level 2: r = 1 + 60 + 1829 = 1890 features
    monkeypatch.setenv("NTPHASE_MEMORY_LIMIT", str(100 * 2**20))
    with pytest.warns(PreconditionerWarning, match=r"r = 1890 .* using level 1"):
        P = HarmonicPreconditioner(X, "relu")
    assert P.level == 1 and P.rank == 61
    with pytest.raises(InsufficientMemoryError, match="r = 1890"):
        HarmonicPreconditioner(X, "relu", level=2)


def test_harmonic_bad_input():
    X = sample_sphere(50, 4, rng=0)
    with pytest.raises(ValueError, match="ridge must be >= 0"):
        HarmonicPreconditioner(X, "relu", -1.0)
    with pytest.raises(ValueError, match="level must be an integer <= 2"):
        HarmonicPreconditioner(X, "relu", level=3)
    with pytest.raises(ValueError, match="sphere"):
        HarmonicPreconditioner(3 * X, "relu")


@pytest.fixture(scope="module")
def kernel():
    X = sample_sphere(200, 5, rng=4)
    return ntphase.infinite_kernel(X, "relu")


@pytest.mark.parametrize("complement", ["nystrom", "ridge"])
def test_nystrom_inverse_and_model(kernel, complement):
    P = NystromPreconditioner(kernel, 40, 1e-2, rng=0, complement=complement)
    I = np.eye(200)
    model = P.forward(I)
    # oracle: numpy.linalg.inv of the dense model
    np.testing.assert_allclose(P @ I, np.linalg.inv(model), rtol=1e-8, atol=1e-9)
    # oracle: the Nystrom approximation K_nm pinv(K_mm) K_mn formed densely
    C = kernel[:, P.centres]
    K_hat = C @ np.linalg.pinv(C[P.centres], rcond=1e-12) @ C.T
    if complement == "ridge":
        np.testing.assert_allclose(model, K_hat + 1e-2 * I, atol=1e-9)
    else:  # same model on range(U); the complement gets lambda_hat_min + ridge
        U = P.U
        np.testing.assert_allclose(U.T @ model @ U, U.T @ (K_hat + 1e-2 * I) @ U, atol=1e-9)
        assert P.complement_value == pytest.approx(P.eigenvalues[-1] + 1e-2)


def test_nystrom_inputs_agree(kernel):
    # oracle: the array, a LinearOperator and a columns(idx) callable give the same preconditioner
    v = np.random.default_rng(1).standard_normal(200)
    a = NystromPreconditioner(kernel, 30, 0.0, rng=5) @ v
    b = NystromPreconditioner(aslinearoperator(kernel), 30, 0.0, rng=5) @ v
    c = NystromPreconditioner(lambda idx: kernel[:, idx], 30, 0.0, rng=5, n=200) @ v
    np.testing.assert_allclose(a, b, rtol=1e-10)
    np.testing.assert_allclose(a, c, rtol=1e-12)
    ridges = np.array([0.0, 0.1])
    P = NystromPreconditioner(kernel, 30, 0.0, rng=5)
    out = P.for_ridges(ridges).apply_columns(np.stack([v, v], 1), np.array([0, 1]))
    np.testing.assert_allclose(out[:, 0], a, rtol=1e-12)
    np.testing.assert_allclose(out[:, 1], NystromPreconditioner(kernel, 30, 0.1, rng=5) @ v, rtol=1e-12)


def test_nystrom_bad_input(kernel):
    with pytest.raises(ValueError, match="m must be an integer <= 200"):
        NystromPreconditioner(kernel, 201)
    with pytest.raises(TypeError, match="n .* is required"):
        NystromPreconditioner(lambda idx: kernel[:, idx], 10)
    with pytest.raises(ValueError, match="complement='ridge' needs ridge > 0"):
        NystromPreconditioner(kernel, 10, 0.0, complement="ridge")
    with pytest.raises(ValueError, match="square"):
        NystromPreconditioner(kernel[:, :10], 5)
