"""Tiled infinite-width kernel: operator products, predictions and the dense matrix."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
from scipy.sparse.linalg import cg

from ntphase import infinite_kernel
from ntphase._util.memory import InsufficientMemoryError
from ntphase.activations import get_activation
from ntphase.data import sample_sphere
from ntphase.kernels.tiled import (
    InfiniteKernelOperator,
    cross_product,
    default_tile_rows,
    dense_infinite_kernel,
)

hypothesis = pytest.importorskip("hypothesis")  # a test extra (not yet in pyproject's [test])
given, settings, st = hypothesis.given, hypothesis.settings, hypothesis.strategies

ACTS = ["relu", "gelu", "erf", "tanh"]


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    return sample_sphere(203, 6, rng), sample_sphere(57, 6, rng), rng.standard_normal((203, 3))


@pytest.mark.parametrize("layers", ["first", "both"])
@pytest.mark.parametrize("act", ACTS)
def test_operator_products_match_dense(data, act, layers):
    # oracle: the dense ntphase.infinite_kernel (exact kernel_function) times V
    X, _, V = data
    K = infinite_kernel(X, act, layers=layers)
    op = InfiniteKernelOperator(X, act, layers=layers, tile_rows=37)  # 6 tiles, last one short
    assert _rel(op.matmat(V), K @ V) <= 1e-12
    assert _rel(op.matvec(V[:, 0]), K @ V[:, 0]) <= 1e-12
    assert _rel(op.rmatvec(V[:, 1]), K.T @ V[:, 1]) <= 1e-12
    assert op.n_products == 3 + 1 + 1


def test_ridge_is_added(data):
    # identity: (K + ridge I) V with K the dense kernel
    X, _, V = data
    op = InfiniteKernelOperator(X, "relu", ridge=0.3, tile_rows=50)
    assert _rel(op @ V, infinite_kernel(X, "relu") @ V + 0.3 * V) <= 1e-12


def test_tile_size_does_not_change_products(data):
    # identity: one tile (the whole lower triangle at once) and one row per tile
    X, _, V = data
    one = InfiniteKernelOperator(X, "gelu", tile_rows=10**6) @ V
    rows = InfiniteKernelOperator(X, "gelu", tile_rows=1) @ V
    assert _rel(rows, one) <= 1e-13


@pytest.mark.parametrize("act", ACTS)
def test_cross_products_match_dense(data, act):
    # oracle: dense cross kernel ntphase.infinite_kernel(X_test, X2=X_train)
    X, Xt, V = data
    Kc = infinite_kernel(Xt, act, X2=X)
    assert _rel(cross_product(Xt, X, act, V, tile_rows=9), Kc @ V) <= 1e-12
    single = cross_product(Xt, X, act, V[:, 0])
    assert single.shape == (57,) and _rel(single, Kc @ V[:, 0]) <= 1e-12
    op = InfiniteKernelOperator(Xt, act, X2=X, tile_rows=20)
    U = V[:57]
    assert _rel(op.rmatmat(U), Kc.T @ U) <= 1e-12
    assert _rel(op.H @ U[:, 0], Kc.T @ U[:, 0]) <= 1e-12


@pytest.mark.parametrize("act", ACTS)
def test_dense_matches_infinite_kernel(data, act):
    # oracle: ntphase.infinite_kernel entrywise, to 1e-12 H(1); exact symmetry and diagonal
    X, Xt, _ = data
    one = float(get_activation(act).kernel_function(np.array([1.0]))[0])
    K = dense_infinite_kernel(X, act, tile_rows=30)
    assert np.max(np.abs(K - infinite_kernel(X, act))) <= 1e-12 * one
    assert np.array_equal(K, K.T)
    assert np.all(np.diag(K) == one)
    Kc = dense_infinite_kernel(Xt, act, X2=X, tile_rows=11)
    assert Kc.shape == (57, 203)
    assert np.max(np.abs(Kc - infinite_kernel(Xt, act, X2=X))) <= 1e-12 * one


def test_operator_in_conjugate_gradients(data):
    # oracle: scipy.linalg.solve of the dense (K + I) x = b
    X, _, V = data
    op = InfiniteKernelOperator(X, "relu", ridge=1.0, tile_rows=64)
    x, info = cg(op, V[:, 0], rtol=1e-12, atol=0.0, maxiter=500)
    direct = scipy.linalg.solve(infinite_kernel(X, "relu") + np.eye(203), V[:, 0], assume_a="pos")
    assert info == 0 and _rel(x, direct) <= 1e-10
    assert op.n_products > 1


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(1, 40),
    d=st.integers(2, 7),
    tile=st.integers(1, 45),
    seed=st.integers(0, 2**32 - 1),
    act=st.sampled_from(["relu", "erf", "softplus"]),
)
def test_operator_is_symmetric(n, d, tile, seed, act):
    # identity: u^T K v = v^T K u for the symmetric kernel (lower tiles used twice)
    rng = np.random.default_rng(seed)
    X = sample_sphere(n, d, rng)
    u, v = rng.standard_normal(n), rng.standard_normal(n)
    op = InfiniteKernelOperator(X, act, tile_rows=tile)
    lhs, rhs = u @ (op @ v), v @ (op @ u)
    scale = np.linalg.norm(u) * np.linalg.norm(v) * n * float(get_activation(act).kernel_function(1.0))
    assert abs(lhs - rhs) <= 1e-12 * scale


def test_default_tile_rows():
    # identity: the largest tile within TILE_BYTES = 32 MiB of float64, at least one row
    assert default_tile_rows(10**6, 8000) == 32 * 2**20 // (8 * 8000)
    assert default_tile_rows(5, 10) == 5
    assert default_tile_rows(10, 10**9) == 1


def test_bad_input(data):
    X, Xt, V = data
    with pytest.raises(ValueError, match="sphere"):
        InfiniteKernelOperator(2.0 * X, "relu")
    with pytest.raises(ValueError, match="X2 must have 6 columns"):
        InfiniteKernelOperator(X, "relu", X2=Xt[:, :5])
    with pytest.raises(ValueError, match="ridge must be >= 0"):
        InfiniteKernelOperator(X, "relu", ridge=-1.0)
    with pytest.raises(ValueError, match="ridge must be 0 for a cross kernel"):
        InfiniteKernelOperator(Xt, "relu", X2=X, ridge=1.0)
    with pytest.raises(ValueError, match="tile_rows"):
        InfiniteKernelOperator(X, "relu", tile_rows=0)
    with pytest.raises(ValueError, match="layers"):
        InfiniteKernelOperator(X, "relu", layers="third")
    with pytest.raises(ValueError, match="coef must have shape"):
        cross_product(Xt, X, "relu", V[:10])
    with pytest.raises(ValueError, match="finite"):
        cross_product(Xt, X, "relu", np.full(203, np.nan))
    bad = X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="finite"):
        dense_infinite_kernel(bad, "relu")


def test_memory_guard_refuses_dense(data, monkeypatch):
    # the dense output is refused up front with its size and the matrix-free way out
    X, _, _ = data
    monkeypatch.setenv("NTPHASE_MEMORY_LIMIT", str(100_000))
    with pytest.raises(InsufficientMemoryError, match="InfiniteKernelOperator"):
        dense_infinite_kernel(X, "relu")
    op = InfiniteKernelOperator(X, "relu", tile_rows=8)  # 8 x 203 x 8 bytes fits
    assert op.tile_rows == 8
