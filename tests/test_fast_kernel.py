"""Fast kernel function: certified polynomial plans, exact entries near |t| = 1, engines."""

from __future__ import annotations

import warnings
from decimal import Decimal, getcontext
from fractions import Fraction

import numpy as np
import pytest
import scipy.linalg

from ntphase.activations import ACTIVATIONS, Activation
from ntphase.conventions import LAYERS
from ntphase.data import sample_sphere
from ntphase.kernels import fast_function as fk
from ntphase.kernels.tiled import cross_product, dense_infinite_kernel

CUSTOM = Activation.from_callables(np.sin, np.cos, name="sin")  # a series-only activation
ALL = [*ACTIVATIONS.values(), CUSTOM]

# the whole range, a dense grid, and geometric approaches to both ends
T_GRID = np.concatenate(
    [
        np.linspace(-1.0, 1.0, 40001),
        1.0 - np.logspace(-17, -0.5, 300),
        -1.0 + np.logspace(-17, -0.5, 300),
    ]
)


@pytest.mark.parametrize("layers", LAYERS)
@pytest.mark.parametrize("act", ALL, ids=lambda a: a.name)
def test_fast_function_matches_exact_on_whole_range(act, layers):
    # oracle: Activation.kernel_function (closed forms / Hermite series) on [-1, 1]
    exact = act.kernel_function(T_GRID, layers)
    one = float(act.kernel_function(np.array([1.0]), layers)[0])
    fast = fk.fast_kernel_function(T_GRID, act, layers)
    assert np.max(np.abs(fast - exact)) <= fk.KERNEL_RTOL * abs(one)
    plans = fk.kernel_plans(act, layers)
    assert plans, "every built-in activation offers at least one interval"
    for plan in plans:
        assert plan.relative_error <= fk.KERNEL_RTOL / fk.FIT_MARGIN
        assert plan.value_at_one == one
        assert len(plan.even) - 1 <= fk.MAX_DEGREE + fk.TUPLE_QUANTUM


@pytest.mark.parametrize("act", [ACTIVATIONS["relu"], ACTIVATIONS["tanh"], CUSTOM], ids=lambda a: a.name)
def test_each_plan_on_its_interval(act):
    # oracle: kernel_function; forces each interval (not only the one a tile would pick)
    for plan in fk.kernel_plans(act):
        t = np.linspace(-plan.tmax, plan.tmax, 20001)  # other points than the check grid
        A = t.reshape(1, -1).copy()
        rows, _, _ = fk._polynomial(A, 0, 1, A.shape[1], 1.0, plan)
        assert rows.size == 0
        assert np.max(np.abs(A[0] - act.kernel_function(t))) <= fk.KERNEL_RTOL * abs(plan.value_at_one)


def test_parity_is_exploited():
    # identity: erf, tanh, sigmoid have an even sigma', so H(t) = t h(t) is odd (no even part)
    for name in ("erf", "tanh", "sigmoid"):
        assert all(p.even == (0.0,) for p in fk.kernel_plans(name))
    # relu: H(t) = t/4 + t arcsin(t)/(2 pi) has the odd part t/4 (degree 0 in s)
    assert all(p.odd[0] == pytest.approx(0.25, rel=1e-12) for p in fk.kernel_plans("relu"))


def test_tile_picks_interval_and_evaluates_outliers_exactly():
    # oracle: kernel_function entrywise; a tile with a few entries beyond every interval
    rng = np.random.default_rng(3)
    t = rng.uniform(-0.3, 0.3, size=(40, 50))
    t[3, 7], t[10, 2], t[0, 0] = 0.999999, -0.97, 1.0
    A = t.copy()
    plan = fk.kernel_tile(A, "relu")
    assert plan is not None and plan.tmax < 0.97  # the outliers did not widen the interval
    exact = ACTIVATIONS["relu"].kernel_function(t)
    for r, c in ((3, 7), (10, 2), (0, 0)):  # beyond tmax: the closed form, rearranged (a few ulp)
        assert abs(A[r, c] - exact[r, c]) <= 2e-15 * abs(exact[r, c])
    assert np.max(np.abs(A - exact)) <= fk.KERNEL_RTOL * 0.5  # the rest: certified polynomial


def test_tile_scale_offsets_and_partial_extent():
    # oracle: kernel_function on scale * A; only the [:n_rows, :n_cols] block changes
    rng = np.random.default_rng(4)
    G = rng.uniform(-2.0, 2.0, size=(6, 9))
    A = G.copy()
    fk.kernel_tile(A, "gelu", scale=0.25, n_rows=4, n_cols=7, diagonal_offset=2)
    expected = ACTIVATIONS["gelu"].kernel_function(0.25 * G[:4, :7])
    for r in range(4):
        expected[r, r + 2] = ACTIVATIONS["gelu"].kernel_function(1.0)
    assert np.max(np.abs(A[:4, :7] - expected)) <= fk.KERNEL_RTOL * expected.max()
    assert np.array_equal(A[4:], G[4:]) and np.array_equal(A[:, 7:], G[:, 7:])


def test_numpy_engine_gives_certified_values_and_warns_once(monkeypatch):
    # oracle: kernel_function; the fallback used when numba is not importable
    monkeypatch.setattr(fk, "ENGINE", "numpy")
    fk._warn_fallback.cache_clear()
    with pytest.warns(RuntimeWarning, match="numba is not importable"):
        fast = fk.fast_kernel_function(T_GRID, "relu")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fk.fast_kernel_function(T_GRID[:10], "relu")  # no second warning
    assert np.max(np.abs(fast - ACTIVATIONS["relu"].kernel_function(T_GRID))) <= fk.KERNEL_RTOL * 0.5
    assert all(p.engine == "numpy" for p in fk.kernel_plans("relu"))
    fk._warn_fallback.cache_clear()


def test_fast_function_bad_input():
    with pytest.raises(ValueError, match="max \\|t\\|"):
        fk.fast_kernel_function([0.0, 1.1], "relu")
    with pytest.raises(ValueError, match="finite"):
        fk.fast_kernel_function([np.nan], "relu")
    with pytest.raises(ValueError, match="layers"):
        fk.fast_kernel_function([0.0], "relu", layers="third")
    with pytest.raises(ValueError, match="activation"):
        fk.kernel_plans("swish")


# --------------------------------------------------------------------------
# ReLU near |t| = 1 against a high-precision oracle
# --------------------------------------------------------------------------
DIGITS = 80


def _decimal_pi() -> Decimal:
    # Python decimal documentation recipe (series of Bellard-type terms), DIGITS + 5 digits
    getcontext().prec = DIGITS + 5
    three = Decimal(3)
    lasts, t, s, n, na, d, da = 0, three, 3, 1, 0, 0, 24
    while s != lasts:
        lasts = s
        n, na = n + na, na + 8
        d, da = d + da, da + 32
        t = (t * n) / d
        s += t
    return +s


def _decimal_arcsin(z: Decimal) -> Decimal:
    # Taylor series sum_k (2k)! / (4^k (k!)^2 (2k+1)) z^(2k+1); |z| <= 0.3 here
    total, term, k = Decimal(0), z, 0
    while True:
        add = term / (2 * k + 1)
        total += add
        if abs(add) < Decimal(10) ** (-DIGITS):
            return total
        k += 1
        term = term * z * z * (2 * k - 1) / (2 * k)


def _relu_H_oracle(x: np.ndarray, y: np.ndarray) -> float:
    """H(cos angle(x, y)) for ReLU from exact dot products and 80-digit arithmetic.

    cos = <x,y>/(|x||y|) with the float entries taken exactly (Fraction), then
    arccos through arcsin of the half-chord on the side where it is small.
    """
    getcontext().prec = DIGITS + 5
    dot = sum(Fraction(a) * Fraction(b) for a, b in zip(x.tolist(), y.tolist()))
    nx = sum(Fraction(a) ** 2 for a in x.tolist())
    ny = sum(Fraction(b) ** 2 for b in y.tolist())
    def dec(f):
        return Decimal(f.numerator) / Decimal(f.denominator)
    cos = dec(dot) / (dec(nx) * dec(ny)).sqrt()
    pi = _decimal_pi()
    if cos >= 0:
        angle = pi - 2 * _decimal_arcsin(((1 - cos) / 2).sqrt())  # pi - arccos(cos)
    else:
        angle = 2 * _decimal_arcsin(((1 + cos) / 2).sqrt())
    return float(cos * angle / (2 * pi))


def _near_pairs(rng, d: int, sign: float) -> tuple[np.ndarray, np.ndarray]:
    """Rows x on the sphere and partners sign * x moved by 1e-12 .. 1e-2 (renormalized)."""
    eps = np.logspace(-12, -2, 11)
    X = sample_sphere(eps.size, d, rng)
    Y = sign * X + eps[:, None] * rng.standard_normal(X.shape)
    Y *= np.sqrt(d) / np.linalg.norm(Y, axis=1, keepdims=True)
    return X, Y


@pytest.mark.parametrize("sign", [1.0, -1.0], ids=["near-duplicate", "near-antipodal"])
def test_relu_near_one_matches_high_precision(sign):
    # oracle: exact rational dot products + 80-digit Decimal arcsin (no float arccos)
    rng = np.random.default_rng(11)
    d = 100
    X, Y = _near_pairs(rng, d, sign)
    K = dense_infinite_kernel(X, "relu", X2=Y)
    for i in range(X.shape[0]):
        ref = _relu_H_oracle(X[i], Y[i])
        # near t = -1 the value itself is ~1e-13 and 1 + t of float points is defined only to
        # ~1e-16 (their radii round), hence the absolute floor there (arccos gives ~1e-9)
        assert abs(K[i, i] - ref) <= 1e-13 * abs(ref) + 1e-15 * 0.5, (i, K[i, i], ref)
    # symmetric kernel of the stacked points: the same entries, exact diagonal
    Z = np.vstack([X[:3], Y[:3]])
    Ks = dense_infinite_kernel(Z, "relu")
    assert np.all(np.diag(Ks) == 0.5)
    for i in range(3):
        assert Ks[i, 3 + i] == K[i, i]


def test_infinite_kernel_near_one():
    # oracle as above: the public kernel uses the point gap, not arccos of a rounded inner product
    from ntphase import infinite_kernel

    X, Y = _near_pairs(np.random.default_rng(11), 100, 1.0)
    K = infinite_kernel(X, "relu", X2=Y)
    errors = [abs(K[i, i] - _relu_H_oracle(X[i], Y[i])) for i in range(X.shape[0])]
    assert max(errors) <= 1e-13


@pytest.mark.parametrize("act", ALL, ids=lambda a: a.name)
def test_diagonal_is_exact(act):
    # identity: K(x, x) = kernel_function(1) (H(1) = E[sigma'(G)^2]), symmetric and cross
    X = sample_sphere(30, 7, np.random.default_rng(5))
    one = float(act.kernel_function(np.array([1.0]))[0])
    assert np.all(np.diag(dense_infinite_kernel(X, act, tile_rows=8)) == one)
    if act.kind == "relu":  # cross kernel: from the gap |x - x|^2 = 0
        assert np.all(np.diag(dense_infinite_kernel(X, act, X2=X, tile_rows=8)) == one)


def test_kernel_interpolator_reproduces_labels():
    # identity: K(X, X) K^{-1} y = y for the min-norm interpolator (ridge 0); the cross
    # kernel of the predictions must equal the training kernel, diagonal included
    rng = np.random.default_rng(6)
    X = sample_sphere(400, 15, rng)
    y = rng.standard_normal(400)
    K = dense_infinite_kernel(X, "relu")
    alpha = scipy.linalg.solve(K, y, assume_a="pos")
    predictions = cross_product(X, X, "relu", alpha, tile_rows=64)
    assert np.max(np.abs(predictions - y)) <= 1e-10 * np.max(np.abs(y))


def test_kernel_ridge_estimator_reproduces_labels():
    # identity as above, through the estimator
    from ntphase import KernelRidgeNT

    rng = np.random.default_rng(6)
    X = sample_sphere(400, 15, rng)
    y = rng.standard_normal(400)
    predictions = KernelRidgeNT("relu", ridge=0.0).fit(X, y).predict(X)
    assert np.max(np.abs(predictions - y)) <= 1e-10 * np.max(np.abs(y))
