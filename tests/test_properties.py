"""Property-based tests (Hypothesis) of the core invariants, with bounded example counts.

Oracles: the explicit feature map (``K_N = Phi Phi^T``, Montanari & Zhong 2022,
arXiv:2007.12826, eq. of the NT kernel: ``K_N = (X X^T/d) o (S S^T/N)``); a Gram
matrix is symmetric positive semi-definite (its eigenvalues are >= -tolerance);
the ridge solution is ``(K + lambda I)^{-1} y`` by a direct dense solve; a task key
is a function of the parameter *set*, not of the dict's insertion order.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ntphase import nt_features, nt_kernel
from ntphase.linalg import ridge_path, solve_ridge
from ntphase.runtime.task_keys import canonical_json, task_key, task_seed

pytestmark = pytest.mark.timeout(60)
SETTINGS = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])

ACTIVATIONS = ["relu", "tanh", "erf", "softplus"]


@st.composite
def data(draw):
    n = draw(st.integers(1, 12))
    d = draw(st.integers(2, 6))
    N = draw(st.integers(1, 10))
    seed = draw(st.integers(0, 2**32 - 1))
    scale = draw(st.floats(0.1, 3.0))
    rng = np.random.default_rng(seed)
    X = scale * rng.standard_normal((n, d))
    W = rng.standard_normal((N, d)) / np.sqrt(d)
    return X, W, draw(st.sampled_from(ACTIVATIONS)), draw(st.sampled_from(["first", "second", "both"]))


@SETTINGS
@given(data())
def test_nt_kernel_is_symmetric_psd_and_equals_explicit_features(case):
    X, W, act, layers = case
    K = nt_kernel(X, W, act, layers=layers)
    assert K.dtype == np.float64
    assert np.array_equal(K, K.T)  # exact symmetry (the lower triangle is copied)
    Phi = nt_features(X, W, act, layers=layers)
    # oracle: explicit features, K_N = Phi Phi^T (dense product, independent code path)
    scale = max(1.0, float(np.max(np.abs(K))))
    np.testing.assert_allclose(K, Phi @ Phi.T, rtol=0, atol=1e-12 * scale)
    eigs = np.linalg.eigvalsh(K)
    assert eigs[0] >= -1e-12 * scale * K.shape[0]  # a Gram matrix is PSD


@SETTINGS
@given(data(), st.lists(st.floats(1e-3, 10.0), min_size=1, max_size=4, unique=True),
       st.integers(0, 2**32 - 1))
def test_ridge_path_equals_a_direct_solve(case, lambdas, seed):
    X, W, act, layers = case
    K = nt_kernel(X, W, act, layers=layers)
    y = np.random.default_rng(seed).standard_normal(K.shape[0])
    path = ridge_path(K, y, lambdas)
    for lam, coef in zip(lambdas, path.coef):
        # oracle: direct dense solve of (K + lambda I) alpha = y (well conditioned: lambda >= 1e-3)
        direct = np.linalg.solve(K + lam * np.eye(K.shape[0]), y)
        tol = 1e-9 * max(1.0, float(np.max(np.abs(direct))))
        np.testing.assert_allclose(coef, direct, rtol=0, atol=tol)
        np.testing.assert_allclose(solve_ridge(K, y, lam), direct, rtol=0, atol=tol)


_values = st.one_of(
    st.integers(-10**6, 10**6),
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    st.text(max_size=8),
    st.booleans(),
    st.lists(st.integers(-5, 5), max_size=3),
)
_params = st.dictionaries(st.text(min_size=1, max_size=6), _values, min_size=1, max_size=6)


@SETTINGS
@given(_params, st.randoms(use_true_random=False))
def test_task_keys_are_stable_under_key_order(params, random):
    items = list(params.items())
    random.shuffle(items)
    shuffled = dict(items)
    assert task_key("exp", shuffled) == task_key("exp", params)
    assert task_seed(task_key("exp", shuffled)) == task_seed(task_key("exp", params))
    assert canonical_json(shuffled) == canonical_json(params)
    # nested mappings too
    assert task_key("exp", {"outer": shuffled}) == task_key("exp", {"outer": params})
