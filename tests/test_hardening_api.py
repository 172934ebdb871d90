"""Hardening of the Python API: complex labels, overflowing kernels, bad generators,
empty targets, non-elementwise activations, degree caps and the memory guard.

Oracles: NumPy's type rules (a complex value has no float64 image without losing
its imaginary part); IEEE overflow (``1e200**2 = inf``); the documented caps
(``MAX_DEGREE``; the memory guard's ``MEMORY_FRACTION`` of ``NTPHASE_MEMORY_LIMIT``);
elementwise = commutes with reordering (``np.sort`` does not); wall-clock bounds.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from ntphase import (
    HarmonicTarget,
    KernelRidgeNT,
    NTRidge,
    PolynomialRidge,
    lambda_min,
    nt_kernel,
)
from ntphase._util.memory import InsufficientMemoryError
from ntphase.activations import Activation
from ntphase.data import random_labels, sample_gaussian, sample_sphere, sample_weights
from ntphase.linalg import min_norm_interpolator, ridge_path, solve_ridge
from ntphase.sphere import MAX_DEGREE, gamma_above, sphere_spectrum
from ntphase.training import train_network

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def small():
    rng = np.random.default_rng(0)
    X = sample_sphere(12, 4, rng)
    W = sample_weights(30, 4, rng)
    return X, W, nt_kernel(X, W, "relu")


# ---------------------------------------------------------------- complex labels
@pytest.mark.parametrize("as_list", [False, True])
def test_complex_labels_are_type_errors(small, as_list):
    X, _, K = small
    y = np.ones(12) + 0.5j
    y = list(y) if as_list else y
    calls = [
        lambda: ridge_path(K, y, [0.1]),
        lambda: solve_ridge(K, y, 0.1),
        lambda: min_norm_interpolator(K, y),
        lambda: train_network(X, y, "relu", width=8, alpha=1.0, steps=2, rng=0),
    ]
    for call in calls:  # was: ComplexWarning, imaginary part dropped
        with pytest.raises(TypeError, match="y must be real; got complex"):
            call()


def test_real_labels_in_a_complex_dtype_are_still_refused(small):
    # a complex array whose imaginary parts are 0 is refused too: the type is the contract
    _, _, K = small
    with pytest.raises(TypeError, match="complex"):
        solve_ridge(K, np.ones(12, dtype=complex), 0.1)


# ---------------------------------------------------------------- overflow, rng, targets
def test_nt_kernel_overflow_is_an_error(small):
    X, W, _ = small
    with np.errstate(all="ignore"), pytest.raises(ValueError, match="nt_kernel overflowed"):
        nt_kernel(X * 1e200, W, "relu")  # (1e200)^2 = inf in float64; was: inf/NaN returned


@pytest.mark.parametrize("method", ["dense", "lanczos", "lobpcg"])
@pytest.mark.parametrize("rng", ["abc", 1.5, -1])
def test_lambda_min_rejects_bad_rng(small, method, rng):
    _, _, K = small
    with pytest.raises((TypeError, ValueError), match="rng must be"):
        lambda_min(K, method=method, rng=rng)  # was: accepted (dense) / NumPy error (Lanczos)


def test_harmonic_target_needs_a_coefficient():
    with pytest.raises(ValueError, match="coefficients must map at least one degree"):
        HarmonicTarget(5, {})  # was: accepted, f* = 0


@pytest.mark.parametrize(
    "sigma", [np.sort, lambda x: x - x.mean(), np.cumsum, lambda x: np.full_like(x, x[0])],
    ids=["sort", "centered", "cumsum", "first"],
)
def test_from_callables_checks_elementwise_values_not_only_shapes(sigma):
    with pytest.raises(ValueError, match="sigma must be elementwise"):  # was: accepted (same shape)
        Activation.from_callables(sigma, np.cos)


def test_from_callables_still_accepts_elementwise_functions():
    # oracle: second_moment is E[sigma'(g)^2]; closed form E[cos(g)^2] = (1 + e^{-2}) / 2, g ~ N(0, 1)
    act = Activation.from_callables(np.sin, np.cos, name="sin")
    assert abs(act.second_moment() - (1 + np.exp(-2)) / 2) < 1e-12


# ---------------------------------------------------------------- degree caps
@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda k: sphere_spectrum("relu", 20, k), "kmax"),
        (lambda k: gamma_above("relu", 20, k), "l"),
        (lambda k: __import__("ntphase").truncated_kernel(sample_sphere(3, 5, 0), "relu", k), "level"),
        (lambda k: PolynomialRidge(level=k).fit(sample_sphere(6, 5, 0), np.ones(6)), "level"),
        (lambda k: __import__("ntphase.theory").theory.theory_summary("relu", 20, 100, k), "lmax"),
    ],
)
def test_degree_caps_refuse_with_the_estimate(call, name):
    start = time.monotonic()
    with pytest.raises(ValueError, match=rf"{name} = 100000 exceeds MAX_DEGREE = {MAX_DEGREE}: .* about "
                                         r"[0-9.]+ minutes"):
        call(100_000)  # was: minutes of computation (cost grows as kmax^2)
    assert time.monotonic() - start < 1


def test_theory_command_lmax_cap():
    from typer.testing import CliRunner

    from ntphase.cli import app

    result = CliRunner().invoke(app, ["theory", "--activation", "relu", "--d", "20", "--n", "100", "--lmax", "100000"])
    assert result.exit_code == 2 and "exceeds MAX_DEGREE" in result.output


def test_degree_at_the_cap_is_allowed():
    assert sphere_spectrum("tanh", 20, 50).kmax == 50  # below the cap: unchanged behaviour
    from ntphase.sphere import check_degree

    assert check_degree("kmax", MAX_DEGREE) == MAX_DEGREE


# ---------------------------------------------------------------- memory guard
@pytest.mark.parametrize(
    ("call", "what"),
    [
        (lambda: sample_sphere(10**9, 100), "sample_sphere of shape"),
        (lambda: sample_gaussian(10**9, 100), "sample_gaussian of shape"),
        (lambda: sample_weights(10**9, 100), "sample_weights of shape"),
        (lambda: random_labels(10**12), "random_labels of shape"),
        (lambda: NTRidge(width=10**9).fit(sample_sphere(6, 5, 0), np.ones(6)), r"NTRidge\(width=1000000000\)"),
    ],
)
def test_huge_samples_go_through_the_memory_guard(monkeypatch, call, what):
    monkeypatch.setenv("NTPHASE_MEMORY_LIMIT", str(2**30))  # 1 GiB: the refusal does not depend on the host
    with pytest.raises(InsufficientMemoryError, match=rf"{what}.* needs about [0-9.]+ GiB.*; use a smaller"):
        call()  # was: NumPy's bare MemoryError (or minutes of swapping)


def test_krr_is_unchanged_by_the_new_checks():
    # oracle: interpolation, KernelRidgeNT(ridge=0) reproduces its training labels
    X = sample_sphere(15, 6, 1)
    y = random_labels(15, 2)
    pred = KernelRidgeNT("tanh", ridge=0.0).fit(X, y).predict(X)
    assert np.max(np.abs(pred - y)) < 1e-6
