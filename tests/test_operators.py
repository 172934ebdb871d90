"""Matrix-free NT kernel operator and one-pass width path.

Oracles: an explicit feature matrix ``Phi`` built here from docs/theory.md, section 2
(``K_N = Phi Phi^T``, independent of the package), and ``ntphase.nt_kernel``
(a second implementation). Products are compared at 1e-12 relative: both sides
are sums of O(N d) float64 terms of one sign pattern, so rounding is ~1e-15.
"""

from __future__ import annotations

import numpy as np
import pytest

from ntphase._util.memory import InsufficientMemoryError
from ntphase.kernels.operator import NTKernelOperator, width_path

REL = 1e-12  # float64 rounding of O(N d)-term sums is ~1e-15; 1e-12 leaves margin


def sphere(n, d, rng):
    X = rng.standard_normal((n, d))
    return X * (np.sqrt(d) / np.linalg.norm(X, axis=1, keepdims=True))


def weights(N, d, rng):
    return rng.standard_normal((N, d)) / np.sqrt(d)


def explicit_kernel(X, W, act, layers):
    """Naive oracle: K = Phi Phi^T with the explicit features of docs/theory.md, section 2."""
    from ntphase.activations import get_activation

    act = get_activation(act)
    n, d = X.shape
    N = W.shape[0]
    pre = X @ W.T
    parts = []
    if layers in ("first", "both"):
        S = np.asarray(act.dsigma(pre), dtype=float)
        parts.append((S[:, :, None] * X[:, None, :]).reshape(n, N * d) / np.sqrt(N * d))
    if layers in ("second", "both"):
        parts.append(np.asarray(act.sigma(pre), dtype=float) / np.sqrt(N))
    Phi = np.hstack(parts)
    return Phi @ Phi.T


def rel_err(a, b):
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


@pytest.mark.parametrize("layers", ["first", "second", "both"])
@pytest.mark.parametrize("activation", ["relu", "tanh"])
@pytest.mark.parametrize("store", [True, False])
def test_products_match_explicit_features(layers, activation, store):
    rng = np.random.default_rng(0)
    X, W = sphere(50, 6, rng), weights(17, 6, rng)
    K = explicit_kernel(X, W, activation, layers)
    op = NTKernelOperator(X, W, activation, layers=layers, store=store, block_size=4)
    assert op.stores_features is store
    v = rng.standard_normal(50)
    V = rng.standard_normal((50, 5))
    assert op.matvec(v).shape == (50,)
    assert rel_err(op.matvec(v), K @ v) <= REL
    assert rel_err(op.matmat(V), K @ V) <= REL
    assert rel_err(op.rmatvec(v), K @ v) <= REL  # symmetric
    assert rel_err(op.H @ V, K @ V) <= REL
    assert rel_err(op.diagonal(), np.diag(K)) <= REL
    assert op.trace() == pytest.approx(np.trace(K), rel=REL)
    assert rel_err(op.todense(), K) <= REL
    assert op.dtype == np.float64 and op.shape == (50, 50)


@pytest.mark.parametrize("layers", ["first", "second", "both"])
def test_products_match_nt_kernel(layers):
    # second oracle: the package's structured kernel (independent blocked code)
    from ntphase.kernels import nt_kernel

    rng = np.random.default_rng(1)
    X, W = sphere(80, 10, rng), weights(30, 10, rng)
    K = np.asarray(nt_kernel(X, W, "relu", layers=layers))
    op = NTKernelOperator(X, W, "relu", layers=layers, store=False, block_size=7)
    V = rng.standard_normal((80, 3))
    assert rel_err(op @ V, K @ V) <= REL
    assert rel_err(op @ V[:, 0], K @ V[:, 0]) <= REL


def test_many_vectors_are_chunked(monkeypatch):
    # a tiny NEURON_BLOCK_BYTES forces one vector per chunk; results must not change
    from ntphase import conventions

    rng = np.random.default_rng(2)
    X, W = sphere(40, 5, rng), weights(9, 5, rng)
    K = explicit_kernel(X, W, "relu", "first")
    V = rng.standard_normal((40, 6))
    monkeypatch.setattr(conventions, "NEURON_BLOCK_BYTES", 8)
    op = NTKernelOperator(X, W, "relu", store=False)
    assert rel_err(op @ V, K @ V) <= REL


def test_inputs_not_mutated_and_float32_promoted():
    rng = np.random.default_rng(3)
    X, W = sphere(30, 4, rng).astype(np.float32), weights(6, 4, rng).astype(np.float32)
    X0, W0 = X.copy(), W.copy()
    op = NTKernelOperator(X, W, "relu")
    out = op @ np.ones(30)
    assert out.dtype == np.float64
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(W, W0)
    for _, K in width_path(X, W, "relu", [2, 6]):
        assert K.dtype == np.float64
    np.testing.assert_array_equal(X, X0)


def test_rank_is_N_d_below_threshold():
    # docs/theory.md, section 4: rank(K_N) <= N d; with N d < n it equals N d for
    # generic data (ReLU units all active on some points).
    rng = np.random.default_rng(4)
    n, d, N = 60, 5, 8  # N d = 40 < n
    X, W = sphere(n, d, rng), weights(N, d, rng)
    op = NTKernelOperator(X, W, "relu")
    assert op.rank_bound == N * d
    eig = np.linalg.eigvalsh(op.todense())
    # numerical rank with the usual threshold n * eps * lambda_max
    assert int(np.sum(eig > n * np.finfo(float).eps * eig[-1])) == N * d


def test_store_auto_respects_memory(monkeypatch):
    rng = np.random.default_rng(5)
    X, W = sphere(40, 4, rng), weights(10, 4, rng)
    monkeypatch.setenv("NTPHASE_MEMORY_LIMIT", "1000")  # bytes: S (3200 bytes) does not fit
    op = NTKernelOperator(X, W, "relu")
    assert not op.stores_features
    with pytest.raises(InsufficientMemoryError, match="store=False"):
        NTKernelOperator(X, W, "relu", store=True)
    with pytest.raises(InsufficientMemoryError, match="GiB"):
        list(width_path(X, W, "relu", [10]))
    monkeypatch.delenv("NTPHASE_MEMORY_LIMIT")
    K = explicit_kernel(X, W, "relu", "first")
    assert rel_err(op @ np.arange(40.0), K @ np.arange(40.0)) <= REL


def test_operator_validation():
    rng = np.random.default_rng(6)
    X, W = sphere(10, 3, rng), weights(4, 3, rng)
    with pytest.raises(ValueError, match="layers"):
        NTKernelOperator(X, W, "relu", layers="third")
    with pytest.raises(ValueError, match="W must have 3 columns"):
        NTKernelOperator(X, W[:, :2], "relu")
    with pytest.raises(ValueError, match="store"):
        NTKernelOperator(X, W, "relu", store="sometimes")
    with pytest.raises(ValueError, match="finite"):
        NTKernelOperator(np.full((3, 3), np.nan), W, "relu")


# ---------------------------------------------------------------------------
# width path
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("layers", ["first", "second", "both"])
@pytest.mark.parametrize("cross", [False, True])
def test_width_path_equals_separate_kernels(layers, cross):
    from ntphase.kernels import nt_kernel

    rng = np.random.default_rng(7)
    X, W = sphere(45, 6, rng), weights(40, 6, rng)
    X2 = sphere(20, 6, rng) if cross else None
    widths = [1, 3, 10, 11, 29, 40]  # not aligned with block_size=4
    seen = []
    for N, K in width_path(X, W, "relu", widths, X2=X2, layers=layers, block_size=4):
        seen.append(N)
        ref = np.asarray(nt_kernel(X, W[:N], "relu", X2=X2, layers=layers))
        assert K.shape == ref.shape
        assert rel_err(K, ref) <= REL, N
        if not cross:
            np.testing.assert_array_equal(K, K.T)
    assert seen == widths


def test_width_path_matches_explicit_features_tanh():
    # independent oracle for a smooth activation (S not 0/1)
    rng = np.random.default_rng(8)
    X, W = sphere(30, 4, rng), weights(12, 4, rng)
    for N, K in width_path(X, W, "tanh", [5, 12], layers="both", block_size=3):
        assert rel_err(K, explicit_kernel(X, W[:N], "tanh", "both")) <= REL


def test_width_path_outputs_are_independent():
    # each yielded kernel stays valid after the generator moves on
    rng = np.random.default_rng(9)
    X, W = sphere(25, 4, rng), weights(9, 4, rng)
    kernels = dict(width_path(X, W, "relu", [3, 6, 9]))
    for N, K in kernels.items():
        assert rel_err(K, explicit_kernel(X, W[:N], "relu", "first")) <= REL


@pytest.mark.parametrize(
    "widths, match",
    [([], "at least one"), ([3, 3], "strictly increasing"), ([5, 2], "strictly increasing"),
     ([0, 2], ">= 1"), ([2, 50], "<= 9"), ([1.5], "integer")],
)
def test_width_path_validation(widths, match):
    rng = np.random.default_rng(10)
    X, W = sphere(10, 4, rng), weights(9, 4, rng)
    with pytest.raises((ValueError, TypeError), match=match):
        width_path(X, W, "relu", widths)  # raised at call time, before iteration
