"""Harmonic and Nystrom preconditioners: Woodbury inverses and the models they invert."""

import numpy as np
import pytest
from scipy.sparse.linalg import aslinearoperator

import ntphase
from ntphase._util.memory import InsufficientMemoryError
from ntphase.data import sample_sphere
from ntphase.learning.preconditioning import PreconditionerWarning, harmonic_level
from ntphase.learning.preconditioning import harmonic_preconditioner as HarmonicPreconditioner
from ntphase.linalg.preconditioners import NystromPreconditioner, WoodburyPreconditioner
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
    # oracle: the cost-model level rule, within the level the samples fill
    assert P.level == harmonic_level(400, 8, "tanh") <= min(level(400, 8, "tanh"), 2)


def test_woodbury_against_numpy_inverse():
    # oracle: numpy.linalg.inv of F D F^T + c I formed densely
    rng = np.random.default_rng(7)
    F = rng.standard_normal((40, 6))
    D = rng.uniform(0.5, 3.0, 6)
    P = WoodburyPreconditioner(F, D, 0.3, ridge=0.1)
    dense = F @ np.diag(D) @ F.T + 0.3 * np.eye(40)
    np.testing.assert_allclose(P @ np.eye(40), np.linalg.inv(dense), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(P.forward(np.eye(40)), dense, rtol=1e-13)
    out = P.for_ridges(np.array([0.1, 1.0])).apply_columns(np.eye(40)[:, :2], np.array([0, 1]))
    np.testing.assert_allclose(out[:, 1], np.linalg.solve(dense + 0.9 * np.eye(40), np.eye(40)[:, 1]), rtol=1e-10)
    with pytest.raises(ValueError, match="column_eigenvalues must be finite and > 0"):
        WoodburyPreconditioner(F, -D, 0.3)
    with pytest.raises(TypeError, match="features must be"):
        WoodburyPreconditioner(object(), D, 0.3, n=40)


@pytest.mark.parametrize("factor_max", [0, 8], ids=["eigenbasis", "cholesky-per-shift"])
def test_for_ridges_both_routes_match_inverses(monkeypatch, factor_max):
    # oracle: numpy.linalg.solve with F D F^T + (base + lambda_j) I formed densely, per column; repeated
    # ridges, the shift's own ridge and a subset of active columns in a shuffled order
    from ntphase.linalg import preconditioners

    monkeypatch.setattr(preconditioners, "FACTOR_SHIFTS_MAX", factor_max)
    rng = np.random.default_rng(11)
    F = rng.standard_normal((50, 7))
    D = rng.uniform(0.5, 3.0, 7)
    P = WoodburyPreconditioner(F, D, 0.4, ridge=0.1)  # base 0.3
    ridges = np.array([0.1, 0.0, 2.0, 0.0, 0.7])
    R = rng.standard_normal((50, 5))
    cols = np.array([3, 0, 4, 2])
    out = P.for_ridges(ridges).apply_columns(R[:, cols], cols)
    for j, col in enumerate(cols):
        dense = F @ np.diag(D) @ F.T + (0.3 + ridges[col]) * np.eye(50)
        np.testing.assert_allclose(out[:, j], np.linalg.solve(dense, R[:, col]), rtol=1e-10)


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
    monkeypatch.setenv("NTPHASE_MEMORY_LIMIT", str(60 * 2**20))  # 48 MiB budget < 16 r^2 = 57 MB
    with pytest.warns(PreconditionerWarning, match=r"level 2 needs r = 1890 .* GiB"):
        P = HarmonicPreconditioner(X, "relu", product_flops=1e15)  # products so dear the model wants level 2
    assert P.level < 2 and P.rank == (61 if P.level == 1 else 1)
    with pytest.raises(InsufficientMemoryError, match="r = 1890"):
        HarmonicPreconditioner(X, "relu", level=2)


def test_harmonic_bad_input():
    X = sample_sphere(50, 4, rng=0)
    with pytest.raises(ValueError, match="ridge must be >= 0"):
        HarmonicPreconditioner(X, "relu", -1.0)
    with pytest.raises(ValueError, match="level must be"):
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
