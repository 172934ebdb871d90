"""Tests for ntphase.kernels: structured K_N, features, infinite and truncated kernels.

Oracles: a per-neuron Python loop straight from the definition of the NT features
(docs/theory.md, section 1), Phi Phi^T from the explicit features, the closed-form ReLU
arc-cosine kernels, the Monte-Carlo rate N^(-1/2) of K_N -> K (exact for Gaussian
weights and sphere data at every d), the Gegenbauer expansion of K with its
nonnegative weights, and NumPy itself for the array-API path.
"""

from __future__ import annotations

import math
import tracemalloc

import numpy as np
import pytest

from ntphase._util.memory import InsufficientMemoryError
from ntphase.activations import ACTIVATIONS, get_activation
from ntphase.conventions import LAYERS, RADIUS_RTOL
from ntphase.data import sample_sphere, sample_weights
from ntphase.kernels import (
    infinite_kernel,
    kernel_memory,
    nt_features,
    nt_kernel,
    truncated_kernel,
)
from ntphase.sphere import gamma_above, sphere_spectrum

#: Identity tolerance for two computations of the same sums in float64: each
#: entry is a sum of N d (or N) products, rounding error ~ (N + d) eps ~ 1e-14.
EXACT_RTOL = 1e-12


def _data(n=23, n2=11, d=6, N=9, seed=0):
    rng = np.random.default_rng(seed)
    X = sample_sphere(n, d, rng)
    X2 = sample_sphere(n2, d, rng)
    W = sample_weights(N, d, rng)
    return X, X2, W


def _rel(A, B):
    A = np.asarray(A)
    B = np.asarray(B)
    return float(np.max(np.abs(A - B)) / np.max(np.abs(B)))


def _naive_kernel(X, X2, W, act, layers):
    """Oracle: K_N(x, x') = sum_k <phi_k(x), phi_k(x')> by a loop over neurons (docs/theory.md 1-2)."""
    N, d = W.shape
    K = np.zeros((X.shape[0], X2.shape[0]))
    for w in W:
        z, z2 = X @ w, X2 @ w
        if layers in ("first", "both"):
            a, a2 = act.dsigma(z), act.dsigma(z2)
            K += np.outer(a, a2) * (X @ X2.T) / (N * d)
        if layers in ("second", "both"):
            K += np.outer(act.sigma(z), act.sigma(z2)) / N
    return K


# --------------------------------------------------------------------------- #
# structured kernel == features == naive loop
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("name", tuple(ACTIVATIONS))
@pytest.mark.parametrize("layers", LAYERS)
def test_structured_kernel_equals_features_gram(name, layers):
    # oracle: Phi Phi2^T from the explicit features, and a per-neuron loop
    X, X2, W = _data()
    act = get_activation(name)
    Phi, Phi2 = nt_features(X, W, act, layers), nt_features(X2, W, act, layers)
    naive = _naive_kernel(X, X2, W, act, layers)
    K = nt_kernel(X, W, act, layers=layers)
    Kc = nt_kernel(X, W, act, X2=X2, layers=layers)
    assert _rel(K, Phi @ Phi.T) <= EXACT_RTOL
    assert _rel(Kc, Phi @ Phi2.T) <= EXACT_RTOL
    assert _rel(Kc, naive) <= EXACT_RTOL
    assert _rel(K, _naive_kernel(X, X, W, act, layers)) <= EXACT_RTOL


def test_features_layout_matches_definition():
    # oracle: phi(x) = (N d)^(-1/2) (sigma'(<w_k,x>) x)_k, then sigma(<w_k,x>)/sqrt(N)
    X, _, W = _data(n=4, N=3, d=5)
    act = get_activation("tanh")
    N, d = W.shape
    Phi = nt_features(X, W, act, "both")
    assert Phi.shape == (4, N * d + N)
    for i, x in enumerate(X):
        expected = [act.dsigma(np.array(w @ x)) * x / math.sqrt(N * d) for w in W]
        expected.append(act.sigma(W @ x) / math.sqrt(N))
        np.testing.assert_allclose(Phi[i], np.concatenate([np.ravel(e) for e in expected]), rtol=1e-14, atol=0)


@pytest.mark.parametrize("layers", LAYERS)
@pytest.mark.parametrize("block_size", [1, 3, 7, 13, 22])
def test_blocked_equals_unblocked(layers, block_size):
    # oracle: one block (block_size >= n) is the plain product; odd blocks leave remainders
    X, X2, W = _data(n=23, n2=11)
    act = get_activation("relu")
    ref = nt_kernel(X, W, act, layers=layers, block_size=1000)
    ref_c = nt_kernel(X, W, act, X2=X2, layers=layers, block_size=1000)
    K = nt_kernel(X, W, act, layers=layers, block_size=block_size)
    Kc = nt_kernel(X, W, act, X2=X2, layers=layers, block_size=block_size)
    assert _rel(K, ref) <= EXACT_RTOL
    assert _rel(Kc, ref_c) <= EXACT_RTOL
    assert np.array_equal(K, K.T)  # exactly symmetric (upper triangle mirrored)


def test_diagonal_is_mean_squared_derivative():
    # identity: K_N(x, x) = (||x||^2/d) mean_k sigma'(<w_k,x>)^2 = mean_k sigma'^2 on the sphere
    X, _, W = _data(n=10, N=50)
    act = get_activation("erf")
    K = nt_kernel(X, W, act)
    np.testing.assert_allclose(np.diag(K), np.mean(act.dsigma(X @ W.T) ** 2, axis=1), rtol=1e-13)


def test_inputs_not_mutated():
    X, X2, W = _data()
    copies = [A.copy() for A in (X, X2, W)]
    nt_kernel(X, W, "relu", X2=X2, layers="both", block_size=5)
    nt_kernel(X, W, "relu", layers="both", block_size=5)
    nt_features(X, W, "relu", "both")
    infinite_kernel(X, "relu", X2=X2)
    for A, B in zip((X, X2, W), copies):
        assert np.array_equal(A, B)


# --------------------------------------------------------------------------- #
# K_N -> K at the Monte-Carlo rate
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("name", ["relu", "tanh"])
@pytest.mark.parametrize("layers", LAYERS)
def test_empirical_kernel_converges_at_monte_carlo_rate(name, layers):
    # Oracle: for w_k ~ N(0, I/d) and ||x||^2 = d, K_N is a mean of N i.i.d. terms with
    # mean K(x,x') = kernel_function(<x,x'>/d) exactly (every d), so the RMS entrywise
    # error is c N^(-1/2): err(N)/err(16 N) = 4. Averaging R = 8 independent draws of W,
    # the ratio's spread, measured over 100 seeds at R = 4, is std ~0.5 (R = 8: ~0.35);
    # [2.5, 6.5] is > 4 std on each side, while a wrong rate (N^-1/4: 2; no
    # convergence / a bias: -> 1; N^-1: 16) falls outside.
    rng = np.random.default_rng(2024)
    n, d, R = 30, 8, 8
    X = sample_sphere(n, d, rng)
    act = get_activation(name)
    K = infinite_kernel(X, act, layers=layers)
    widths = (100, 400, 1600, 6400)
    rms = []
    for N in widths:
        mse = np.mean([np.mean((nt_kernel(X, sample_weights(N, d, rng), act, layers=layers) - K) ** 2) for _ in range(R)])
        rms.append(math.sqrt(mse))
    ratios = [rms[0] / rms[2], rms[1] / rms[3]]
    assert all(2.5 <= r <= 6.5 for r in ratios), (rms, ratios)


# --------------------------------------------------------------------------- #
# infinite-width and truncated kernels
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("layers", LAYERS)
def test_infinite_kernel_relu_closed_form(layers):
    # oracle: arc-cosine kernels, H(t) = t (pi - arccos t)/(2 pi),
    # g(t) = (sqrt(1 - t^2) + (pi - arccos t) t)/(2 pi)
    X, X2, _ = _data(d=4)
    t = np.clip(X @ X2.T / 4, -1, 1)
    H = t * (np.pi - np.arccos(t)) / (2 * np.pi)
    g = (np.sqrt(1 - t**2) + (np.pi - np.arccos(t)) * t) / (2 * np.pi)
    expected = {"first": H, "second": g, "both": H + g}[layers]
    # the kernel function is a certified polynomial away from |t| = 1 (fitted to 1e-14 of
    # its value at t = 1, which is O(1) here): absolute 1e-13 where layers cancel ("both")
    np.testing.assert_allclose(infinite_kernel(X, "relu", X2=X2, layers=layers), expected, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("name", tuple(ACTIVATIONS))
@pytest.mark.parametrize("layers", LAYERS)
def test_infinite_kernel_diagonal_and_symmetry(name, layers):
    # identity: K(x, x) = kernel_function(1) (first layer: H(1) = E[sigma'(G)^2])
    X, _, _ = _data(n=15, d=7)
    act = get_activation(name)
    K = infinite_kernel(X, act, layers=layers)
    kappa1 = float(act.kernel_function(np.array(1.0), layers))
    np.testing.assert_allclose(np.diag(K), kappa1, rtol=1e-13)
    if layers == "first":
        np.testing.assert_allclose(kappa1, act.second_moment(), rtol=1e-13)
    assert np.array_equal(K, K.T)


@pytest.mark.parametrize("name", ["erf", "tanh"])
def test_truncated_kernel_approaches_infinite(name):
    # Oracle: K - K_{<=l} = sum_{k>l} B(d,k) xi_{d,k} P_k(t) with weights >= 0 and
    # |P_k| <= 1, so every entry is within gamma_{>l} of K and the diagonal gap is
    # exactly gamma_{>l}. Smooth activations: gamma_{>30} ~ 1e-11 at d = 3 (analytic H).
    d = 3
    X, X2, _ = _data(n=12, n2=9, d=d)
    K = infinite_kernel(X, name, X2=X2)
    Ksym = infinite_kernel(X, name)
    slack = 1e-13  # rounding of the partial sums
    previous = np.inf
    for level in (2, 6, 12, 30):
        gap = gamma_above(name, d, level)
        Kl = truncated_kernel(X, name, level, X2=X2)
        err = float(np.max(np.abs(K - Kl)))
        assert err <= gap + slack
        assert err <= previous + slack
        previous = err
        diag = np.diag(Ksym - truncated_kernel(X, name, level))
        np.testing.assert_allclose(diag, gap, atol=1e-13)
    assert previous < 1e-9


def test_truncated_kernel_is_gegenbauer_sum():
    # oracle: the definition, term by term with Legendre polynomials (d = 3: P_k = Legendre)
    from numpy.polynomial import legendre

    X, X2, _ = _data(n=6, n2=5, d=3)
    t = np.clip(X @ X2.T / 3, -1, 1)
    w = sphere_spectrum("relu", 3, 4).weights()
    expected = sum(w[k] * legendre.legval(t, [0] * k + [1]) for k in range(5))
    np.testing.assert_allclose(truncated_kernel(X, "relu", 4, X2=X2), expected, rtol=1e-12, atol=1e-15)


# --------------------------------------------------------------------------- #
# array API and dtypes
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("layers", LAYERS)
def test_array_api_strict_matches_numpy(layers):
    # oracle: the NumPy path on the same numbers
    xps = pytest.importorskip("array_api_strict")
    X, X2, W = _data()
    Xs, X2s, Ws = xps.asarray(X), xps.asarray(X2), xps.asarray(W)
    pairs = [
        (nt_kernel(Xs, Ws, "tanh", layers=layers), nt_kernel(X, W, "tanh", layers=layers)),
        (nt_kernel(Xs, Ws, "relu", X2=X2s, layers=layers), nt_kernel(X, W, "relu", X2=X2, layers=layers)),
        (nt_features(Xs, Ws, "erf", layers), nt_features(X, W, "erf", layers)),
        (infinite_kernel(Xs, "tanh", X2=X2s, layers=layers), infinite_kernel(X, "tanh", X2=X2, layers=layers)),
        (truncated_kernel(Xs, "relu", 3, layers=layers), truncated_kernel(X, "relu", 3, layers=layers)),
    ]
    for strict, ref in pairs:
        assert type(strict) is type(Xs)  # an array_api_strict array, not NumPy
        assert strict.dtype == xps.float64
        assert _rel(np.from_dlpack(strict), ref) <= EXACT_RTOL


def test_float32_in_float32_out():
    # convention: the common floating type of the inputs; float32 only if all are float32
    X, X2, W = _data()
    X32, X232, W32 = (A.astype(np.float32) for A in (X, X2, W))
    K64 = nt_kernel(X, W, "relu", X2=X2, layers="both")
    K32 = nt_kernel(X32, W32, "relu", X2=X232, layers="both")
    assert K32.dtype == np.float32
    # float32 rounding: ~ (N + d) * 6e-8 relative on entries of order 1
    assert _rel(K32, K64) <= 1e-5
    assert nt_kernel(X32, W, "relu").dtype == np.float64
    assert nt_features(X32, W32, "relu").dtype == np.float32
    assert infinite_kernel(X32, "relu").dtype == np.float32
    assert nt_kernel(X, W, "relu").dtype == np.float64


def test_integer_and_list_input_become_float64():
    X = [[1, 1], [1, -1], [-1, 1]]  # ||x||^2 = d = 2
    W = [[1, 0], [0, 1], [1, 1]]
    K = nt_kernel(X, W, "relu")
    assert K.dtype == np.float64
    assert _rel(K, nt_kernel(np.array(X, float), np.array(W, float), "relu")) == 0.0
    np.testing.assert_allclose(np.diag(infinite_kernel(X, "relu")), 0.5, rtol=1e-14)


# --------------------------------------------------------------------------- #
# memory
# --------------------------------------------------------------------------- #
def test_peak_memory_near_output_and_below_estimate():
    # target: peak memory near the n x n output plus the n x N neuron matrix plus one
    # block; tracemalloc sees every NumPy allocation. The guard's estimate must bound it.
    n, d, N = 700, 20, 300
    X, _, W = _data(n=n, d=d, N=N)
    tracemalloc.start()
    try:
        nt_kernel(X, W, "relu")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    ideal = 8 * (n * n + n * N)
    assert peak <= 1.5 * ideal, peak / ideal
    assert peak <= kernel_memory(n, n, N, d, symmetric=True)


@pytest.mark.parametrize("func", ["nt_kernel", "nt_features", "infinite_kernel", "xp"])
def test_memory_refusal_before_allocating(monkeypatch, func):
    # 100 kB limit: the 400 x 400 float64 output alone is 1.28 MB
    monkeypatch.setenv("NTPHASE_MEMORY_LIMIT", "100000")
    X, _, W = _data(n=400, d=5, N=60)
    estimate = kernel_memory(400, 400, 60, 5, symmetric=True)
    call = {
        "nt_kernel": lambda: nt_kernel(X, W, "relu"),
        "nt_features": lambda: nt_features(X, W, "relu"),
        "infinite_kernel": lambda: infinite_kernel(X, "relu"),
        "xp": lambda: nt_kernel(pytest.importorskip("array_api_strict").asarray(X),
                                pytest.importorskip("array_api_strict").asarray(W), "relu"),
    }[func]
    tracemalloc.start()
    try:
        with pytest.raises(InsufficientMemoryError, match="GiB") as info:
            call()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 400 * 400 * 8 / 4  # refused before the output (or the features) existed
    if func == "nt_kernel":
        assert f"{estimate / 1024**3:.2f} GiB" in str(info.value)
        assert "NTKernelOperator" in str(info.value)


def test_kernel_memory_formula():
    # the documented estimate: itemsize (n n2 + f (n + n2) N + b n2 + 4 b N + (n + n2) d)
    # (small N: the activation block has the b rows of the kernel block)
    assert kernel_memory(10, 20, 5, 3, block_size=4) == 8 * (200 + 30 * 5 + 4 * 20 + 4 * 4 * 5 + 30 * 3)
    assert kernel_memory(10, 10, 5, 3, block_size=4, symmetric=True, layers="both", itemsize=4) == 4 * (
        100 + 2 * 10 * 5 + 4 * 10 + 4 * 4 * 5 + 20 * 3
    )


# --------------------------------------------------------------------------- #
# bad input
# --------------------------------------------------------------------------- #
def _bad_cases():
    X, X2, W = _data()
    Xnan = X.copy()
    Xnan[0, 0] = np.nan
    Winf = W.copy()
    Winf[1, 1] = np.inf
    return [
        ("X 1-D", lambda: nt_kernel(X[0], W, "relu"), ValueError, "X must be a 2-D"),
        ("X 3-D", lambda: nt_kernel(X[None], W, "relu"), ValueError, "X must be a 2-D"),
        ("X nan", lambda: nt_kernel(Xnan, W, "relu"), ValueError, "X must contain only finite"),
        ("W inf", lambda: nt_kernel(X, Winf, "relu"), ValueError, "W must contain only finite"),
        ("X no rows", lambda: nt_kernel(X[:0], W, "relu"), ValueError, "X must have at least one row"),
        ("W no rows (N = 0)", lambda: nt_kernel(X, W[:0], "relu"), ValueError, "W must have at least one row"),
        ("d = 1", lambda: nt_kernel(X[:, :1], W[:, :1], "relu"), ValueError, "X must have d >= 2"),
        ("W columns", lambda: nt_kernel(X, W[:, :3], "relu"), ValueError, "W must have 6 columns"),
        ("X2 columns", lambda: nt_kernel(X, W, "relu", X2=X2[:, :3]), ValueError, "X2 must have 6 columns"),
        ("X2 nan", lambda: nt_kernel(X, W, "relu", X2=Xnan), ValueError, "X2 must contain only finite"),
        ("complex X", lambda: nt_kernel(X + 0j, W, "relu"), TypeError, "X must have a real floating"),
        ("layers", lambda: nt_kernel(X, W, "relu", layers="third"), ValueError, "layers must be one of"),
        ("activation", lambda: nt_kernel(X, W, "swish-ish"), ValueError, "activation"),
        ("block_size 0", lambda: nt_kernel(X, W, "relu", block_size=0), ValueError, "block_size must be an integer >= 1"),
        ("block_size float", lambda: nt_kernel(X, W, "relu", block_size=2.5), TypeError, "block_size must be an integer"),
        ("features layers", lambda: nt_features(X, W, "relu", layers="all"), ValueError, "layers must be one of"),
        ("features W", lambda: nt_features(X, W[:, :2], "relu"), ValueError, "W must have 6 columns"),
        ("infinite off sphere", lambda: infinite_kernel(2 * X, "relu"), ValueError, "X must have rows on the sphere"),
        ("infinite X2 off sphere", lambda: infinite_kernel(X, "relu", X2=X2 * (1 + 1e-4)), ValueError,
         "X2 must have rows on the sphere"),
        ("infinite layers", lambda: infinite_kernel(X, "relu", layers="x"), ValueError, "layers must be one of"),
        ("infinite d = 1", lambda: infinite_kernel(np.ones((3, 1)), "relu"), ValueError, "X must have d >= 2"),
        ("truncated level", lambda: truncated_kernel(X, "relu", -1), ValueError, "level must be an integer >= 0"),
        ("truncated off sphere", lambda: truncated_kernel(X * 0.5, "relu", 2), ValueError, "on the sphere"),
        ("memory n", lambda: kernel_memory(0, 3, 2, 2), ValueError, "n must be an integer >= 1"),
        ("memory N", lambda: kernel_memory(3, 3, 0, 2), ValueError, "N must be an integer >= 1"),
        ("memory d", lambda: kernel_memory(3, 3, 2, 1), ValueError, "d must be an integer >= 2"),
    ]


@pytest.mark.parametrize("case", _bad_cases(), ids=lambda c: c[0])
def test_bad_input(case):
    _, call, error, message = case
    with pytest.raises(error, match=message):
        call()


def test_non_finite_derivative_refused():
    # a user activation finite on [-60, 60] (accepted by from_callables) but not beyond
    from ntphase.activations import Activation

    act = Activation.from_callables(
        lambda x: np.where(np.abs(x) > 100, np.inf, x), lambda x: np.where(np.abs(x) > 100, np.inf, 1.0)
    )
    X, _, W = _data()
    with pytest.raises(ValueError, match="non-finite sigma' values"):
        nt_kernel(X, 1000 * W, act)
    with pytest.raises(ValueError, match="non-finite sigma values"):
        nt_kernel(X, 1000 * W, act, layers="second")
    with pytest.raises(ValueError, match="non-finite sigma' values"):
        nt_features(X, 1000 * W, act)


def test_mixed_array_libraries_refused():
    xps = pytest.importorskip("array_api_strict")
    X, _, W = _data()
    with pytest.raises(TypeError, match="X, X2, W must all come from the same array library"):
        nt_kernel(X, xps.asarray(W), "relu")


def test_sphere_tolerance_accepts_float32_rounding():
    # RADIUS_RTOL is documented to accept sphere data rounded to float32
    X, _, _ = _data(n=50, d=300)
    assert RADIUS_RTOL >= 1e-6
    K = infinite_kernel(X.astype(np.float32), "tanh")
    assert K.dtype == np.float32
