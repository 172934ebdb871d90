"""Activations: Hermite coefficients, h, H, g, gamma_l against closed forms and
independent quadratures (docs/theory.md, section 2)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from numpy.polynomial.legendre import leggauss
from scipy import integrate, special

from ntphase.activations import ACTIVATIONS, Activation, get_activation

PHI0 = 1.0 / math.sqrt(2.0 * math.pi)
NUMERIC = ["tanh", "sigmoid", "softplus", "gelu"]
ALL = list(ACTIVATIONS)


def _relu_numeric() -> Activation:
    # The generic quadrature/series path, fed the same function: an independent
    # computation to compare with the closed forms.
    return Activation.from_callables(lambda x: np.maximum(x, 0.0), lambda x: (x > 0) * 1.0, "relu-numeric")


def _erf_numeric() -> Activation:
    return Activation.from_callables(special.erf, lambda x: 2 / math.sqrt(math.pi) * np.exp(-x * x), "erf-num")


def _gauss_2d(f, g, t, L=12.0, panels=48, points=20):
    """Naive oracle: E[f(X) g(t X + sqrt(1-t^2) Y)] by a tensor composite Gauss-Legendre rule."""
    x, w = leggauss(points)
    edges = np.linspace(-L, L, panels + 1)
    a, b = edges[:-1], edges[1:]
    X = ((b - a) / 2)[:, None] * x + ((a + b) / 2)[:, None]
    W = ((b - a) / 2)[:, None] * w
    X, W = X.ravel(), W.ravel() * np.exp(-X.ravel() ** 2 / 2) * PHI0
    s = math.sqrt(1 - t * t)
    inner = g(t * X[:, None] + s * X[None, :]) @ W  # over Y
    return float(np.sum(W * f(X) * inner))


# --------------------------------------------------------------------------
# closed forms
# --------------------------------------------------------------------------
def test_relu_mu_closed_form():
    # Oracle: mu_0 = 1/2, mu_j = phi(0) He_{j-1}(0) with He from scipy (independent of
    # our exact-integer implementation); relative 1e-12 on the nonzero entries.
    mu = get_activation("relu").hermite_coefficients(40)
    ref = np.array([0.5] + [PHI0 * special.eval_hermitenorm(j - 1, 0.0) for j in range(1, 41)])
    nz = ref != 0
    np.testing.assert_array_equal(mu[~nz], 0.0)
    np.testing.assert_allclose(mu[nz], ref[nz], rtol=1e-12)
    # c_0 = E[relu(G)] = phi(0), c_j = mu_{j-1}
    c = get_activation("relu").hermite_coefficients(40, of="activation")
    assert abs(c[0] - PHI0) < 1e-15
    np.testing.assert_allclose(c[1:], mu[:-1], rtol=1e-12)


@pytest.mark.parametrize("of", ["derivative", "activation"])
@pytest.mark.parametrize("maker,name", [(_relu_numeric, "relu"), (_erf_numeric, "erf")])
def test_closed_form_coefficients_match_generic_quadrature(maker, name, of):
    # Oracle: closed forms vs the generic composite Gauss-Legendre path (split at 0 for
    # the ReLU step). Normalized scale mu_j/sqrt(j!): absolute 1e-13 up to j = 40.
    closed = get_activation(name).hermite_coefficients(40, of=of, normalized=True)
    numeric = maker().hermite_coefficients(40, of=of, normalized=True)
    np.testing.assert_allclose(numeric, closed, rtol=0, atol=1e-13)


def test_erf_mu_closed_form():
    # Oracle: mu_{2m} = 2/sqrt(3 pi) (-1/3)^m (2m)!/m! from the Gaussian generating function.
    mu = get_activation("erf").hermite_coefficients(30)
    for j in range(31):
        ref = 0.0 if j % 2 else 2 / math.sqrt(3 * math.pi) * (-1 / 3) ** (j // 2) * (
            math.factorial(j) / math.factorial(j // 2)
        )
        assert mu[j] == pytest.approx(ref, rel=1e-12, abs=1e-300)


def test_relu_h_closed_form_vs_series_and_1d_integral():
    relu = get_activation("relu")
    t = np.linspace(-0.6, 0.6, 61)
    # Oracle 1: the Hermite series sum_j mu_j^2 t^j / j! with closed-form mu_j;
    # |t| <= 0.6 makes 120 terms exact to ~1e-27.
    b = relu.hermite_coefficients(120, normalized=True) ** 2
    series = np.polynomial.polynomial.polyval(t, b)
    np.testing.assert_allclose(relu.h(t), series, rtol=0, atol=1e-14)
    # Oracle 2: h(t) = int_0^inf Phi(t x / s) phi(x) dx (the inner Gaussian integral of the step).
    for tv in (-0.95, -0.4, 0.0, 0.3, 0.9, 0.999):
        s = math.sqrt(1 - tv * tv)
        ref, _ = integrate.quad(lambda x: special.ndtr(tv * x / s) * PHI0 * math.exp(-x * x / 2), 0, np.inf,  # noqa: B023
                                epsabs=1e-14, epsrel=1e-13)
        assert float(relu.h(tv)) == pytest.approx(ref, abs=1e-12)
        assert float(relu.h(tv)) == pytest.approx((math.pi - math.acos(tv)) / (2 * math.pi), abs=1e-15)
    assert float(relu.h(1.0)) == 0.5 and float(relu.h(-1.0)) == 0.0


def test_relu_second_layer_closed_form():
    # Oracle: g(t) = (sqrt(1-t^2) + (pi - arccos t) t) / (2 pi) vs the series
    # sum_j c_j^2 t^j / j! from closed-form c_j (|t| <= 0.6) and 2-D quadrature.
    relu = get_activation("relu")
    t = np.linspace(-0.6, 0.6, 25)
    c2 = relu.hermite_coefficients(120, of="activation", normalized=True) ** 2
    np.testing.assert_allclose(relu.kernel_function(t, "second"), np.polynomial.polynomial.polyval(t, c2),
                               rtol=0, atol=1e-14)
    closed = (np.sqrt(1 - t * t) + (np.pi - np.arccos(t)) * t) / (2 * np.pi)
    np.testing.assert_allclose(relu.kernel_function(t, "second"), closed, rtol=0, atol=1e-15)
    # ReLU is continuous: the 2-D rule is accurate to ~1e-7 only (kink), so a loose check.
    for tv in (-0.5, 0.5):
        ref = _gauss_2d(lambda x: np.maximum(x, 0), lambda x: np.maximum(x, 0), tv)
        assert float(relu.kernel_function(tv, "second")) == pytest.approx(ref, abs=1e-6)
    assert float(relu.kernel_function(1.0, "second")) == pytest.approx(0.5, abs=1e-15)


def test_erf_kernels_closed_forms_vs_generic_series():
    # Oracle: h = (4/pi)/sqrt(9 - 4t^2), g = (2/pi) arcsin(2t/3) vs the generic
    # banded Hermite series of the same function (from quadrature coefficients),
    # over all of [-1, 1]: <= 1e-12.
    erf, num = get_activation("erf"), _erf_numeric()
    t = np.linspace(-1, 1, 801)
    np.testing.assert_allclose(num.h(t), 4 / np.pi / np.sqrt(9 - 4 * t * t), rtol=0, atol=1e-12)
    np.testing.assert_allclose(num.kernel_function(t, "second"), 2 / np.pi * np.arcsin(2 * t / 3), rtol=0, atol=1e-12)
    for layers in ("first", "second", "both"):
        np.testing.assert_allclose(erf.kernel_function(t, layers), num.kernel_function(t, layers), rtol=0, atol=1e-12)
    assert erf.second_moment() == pytest.approx(4 / math.pi / math.sqrt(5), rel=1e-15)


# --------------------------------------------------------------------------
# numeric activations: two independent quadratures
# --------------------------------------------------------------------------
@pytest.mark.parametrize("name", NUMERIC)
@pytest.mark.parametrize("of", ["derivative", "activation"])
def test_numeric_coefficients_vs_scipy_quad(name, of):
    # Oracle: scipy.integrate.quad (adaptive QUADPACK) on the two half-lines of
    # f(x) He_j(x)/sqrt(j!) phi(x); agreement to 1e-11 absolute (quad's epsabs).
    act = get_activation(name)
    f = act.dsigma if of == "derivative" else act.sigma
    ours = act.hermite_coefficients(10, of=of, normalized=True)
    for j in range(11):
        norm = math.sqrt(math.factorial(j))

        def integrand(x, j=j):
            return float(f(np.array(x))) * special.eval_hermitenorm(j, x) / norm * PHI0 * math.exp(-x * x / 2)  # noqa: B023

        ref = sum(integrate.quad(integrand, a, b, epsabs=1e-13, epsrel=1e-13, limit=200)[0]
                  for a, b in ((-np.inf, 0.0), (0.0, np.inf)))
        assert ours[j] == pytest.approx(ref, abs=1e-11), (name, of, j)


@pytest.mark.parametrize("name", ["tanh", "sigmoid", "gelu"])
def test_series_h_vs_direct_2d_quadrature(name):
    # Oracle: direct 2-D Gaussian quadrature of E[sigma'(X) sigma'(tX + sqrt(1-t^2)Y)]
    # (smooth integrand: tensor Gauss-Legendre is accurate to ~1e-14); <= 1e-12.
    act = get_activation(name)
    f = lambda x: np.asarray(act.dsigma(x))  # noqa: E731
    g = lambda x: np.asarray(act.sigma(x))  # noqa: E731
    for tv in (-0.9, -0.3, 0.2, 0.7, 0.97):
        assert float(act.h(tv)) == pytest.approx(_gauss_2d(f, f, tv), abs=1e-12), tv
    for tv in (-0.5, 0.8):
        assert float(act.kernel_function(tv, "second")) == pytest.approx(_gauss_2d(g, g, tv), abs=1e-12)


@pytest.mark.parametrize("name", ALL)
def test_h1_is_second_moment_and_series_sum(name):
    # Oracle: h(1) = E[sigma'(G)^2] = sum_j mu_j^2/j! (1-D quadrature vs the summed
    # series, 400 terms; tanh's tail there is ~1e-25, relu's ~0.03 so relu uses its closed form).
    act = get_activation(name)
    m2 = act.second_moment()
    assert float(act.h(1.0)) == m2
    assert float(act.kernel_function(1.0, "first")) == m2
    if name != "relu":
        assert float(np.sum(act.hermite_coefficients(400, normalized=True) ** 2)) == pytest.approx(m2, abs=1e-14)
        # continuity of the banded series into the endpoint value
        assert float(act.h(1 - 1e-9)) == pytest.approx(m2, abs=1e-8)
    assert act.gamma(0) == m2


@pytest.mark.parametrize("name", ALL)
def test_stein_identity_c_j_equals_mu_j_minus_1(name):
    # Oracle: Gaussian integration by parts, E[sigma(G) He_j(G)] = E[sigma'(G) He_{j-1}(G)];
    # for numeric activations both sides come from separate quadratures.
    act = get_activation(name)
    mu = act.hermite_coefficients(30, normalized=True)
    c = act.hermite_coefficients(31, of="activation", normalized=True)
    np.testing.assert_allclose(c[1:], mu / np.sqrt(np.arange(1, 32)), rtol=0, atol=1e-14)


@pytest.mark.parametrize("name", ALL)
def test_power_series_and_layers_consistency(name):
    act = get_activation(name)
    t = np.linspace(-0.5, 0.5, 21)
    for layers in ("first", "second", "both"):
        a = act.power_series(150, layers)
        assert np.all(a >= 0)
        # Oracle: the power series itself (geometric tail at |t| <= 1/2).
        np.testing.assert_allclose(act.kernel_function(t, layers), np.polynomial.polynomial.polyval(t, a),
                                   rtol=0, atol=1e-13)
    np.testing.assert_allclose(act.H(t), t * act.h(t), rtol=0, atol=1e-15)
    np.testing.assert_allclose(act.kernel_function(t, "both"),
                               act.kernel_function(t, "first") + act.kernel_function(t, "second"), atol=1e-15)
    a = act.power_series(6)
    assert a[0] == 0.0
    mu = act.hermite_coefficients(5)
    np.testing.assert_allclose(a[1:], mu**2 / np.array([math.factorial(k) for k in range(6)]), rtol=1e-12, atol=1e-300)


def test_gamma_l():
    relu = get_activation("relu")
    # Oracle: gamma_1 = 1/2 - mu_0^2 = 1/4; gamma_2 = 1/4 - phi(0)^2 = 1/4 - 1/(2 pi).
    assert relu.gamma(1) == pytest.approx(0.25, abs=1e-16)
    assert relu.gamma(2) == pytest.approx(0.25 - 1 / (2 * math.pi), abs=1e-16)
    tanh = get_activation("tanh")
    b = tanh.hermite_coefficients(400, normalized=True) ** 2
    for l in (1, 3, 10, 30):  # noqa: E741
        # Oracle: the tail sum over 400 computed terms (tanh's tail decays fast enough).
        assert tanh.gamma(l) == pytest.approx(float(np.sum(b[l:])), abs=1e-14)
    g = [tanh.gamma(l) for l in range(20)]
    assert all(x >= y - 1e-16 for x, y in zip(g, g[1:]))


def test_kernel_vectorized_matrix_input_matches_scalar_calls():
    act = get_activation("tanh")
    rng = np.random.default_rng(0)
    T = rng.uniform(-1, 1, (40, 40))
    T[0, 0], T[1, 1], T[2, 2] = 1.0, -1.0, 0.9999
    out = act.kernel_function(T, "both")
    assert out.shape == T.shape and out.dtype == np.float64
    ref = np.array([float(act.kernel_function(v, "both")) for v in T.ravel()]).reshape(T.shape)
    # truncation adapts to the array (base band from the distribution of |t|): equal
    # to the series' stated accuracy (1e-16 relative; allow 4 ulps of the values ~1)
    np.testing.assert_allclose(out, ref, rtol=0, atol=1e-15)
    # the same value inside an array of tiny correlations and inside one of large ones
    probe = np.array([0.3, 0.8, -0.97])
    small = np.concatenate([probe, np.full(5000, 0.01)])
    large = np.concatenate([probe, np.full(5000, 0.99)])
    np.testing.assert_allclose(act.H(small)[:3], act.H(large)[:3], rtol=0, atol=1e-15)


# --------------------------------------------------------------------------
# array API
# --------------------------------------------------------------------------
@pytest.mark.parametrize("name", ALL)
def test_array_api_strict_roundtrip(name):
    xps = pytest.importorskip("array_api_strict")
    act = get_activation(name)
    x = np.linspace(-3, 3, 13)
    xs = xps.asarray(x)
    for fn in (act.sigma, act.dsigma):
        out = fn(xs)
        assert type(out) is type(xs)
        np.testing.assert_allclose(np.asarray(out), fn(x), rtol=1e-15, atol=1e-15)
    t = xps.asarray(np.linspace(-1, 1, 7))
    k = act.kernel_function(t, "both")
    assert type(k) is type(t)
    np.testing.assert_allclose(np.asarray(k), act.kernel_function(np.linspace(-1, 1, 7), "both"), atol=0)


def test_relu_derivative_convention_and_float32():
    relu = get_activation("relu")
    assert float(relu.dsigma(0.0)) == 0.0  # stated convention: relu'(0) = 0
    x = np.array([-1.0, 0.0, 2.0], dtype=np.float32)
    assert relu.sigma(x).dtype == np.float32
    assert get_activation("gelu").sigma(x).dtype == np.float32
    np.testing.assert_array_equal(relu.dsigma(x), [0, 0, 1])
    # large arguments: no overflow, correct limits
    big = np.array([-800.0, 800.0])
    for name in ("tanh", "sigmoid", "softplus"):
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            assert np.all(np.isfinite(get_activation(name).sigma(big)))
            assert np.all(np.isfinite(get_activation(name).dsigma(big)))


# --------------------------------------------------------------------------
# bad input
# --------------------------------------------------------------------------
def test_get_activation_names_and_errors():
    assert get_activation("ReLU") is get_activation("relu")
    act = get_activation("tanh")
    assert get_activation(act) is act
    with pytest.raises(ValueError, match="relu, tanh, erf, sigmoid, softplus, gelu"):
        get_activation("swish")
    with pytest.raises(TypeError, match="activation"):
        get_activation(3)


def test_from_callables_validation():
    with pytest.raises(ValueError, match="^dsigma must be finite"):
        Activation.from_callables(np.sin, lambda x: 1.0 / x)  # inf at 0
    with pytest.raises(ValueError, match="^dsigma must be finite"):
        Activation.from_callables(np.sin, lambda x: np.where(x > 50, np.nan, np.cos(x)))
    with pytest.raises(ValueError, match="^sigma must be finite"):
        Activation.from_callables(lambda x: np.exp(x * x), np.cos)
    with pytest.raises(ValueError, match="sigma must be elementwise"):
        Activation.from_callables(np.sum, np.ones_like)
    with pytest.raises(TypeError, match="sigma must be callable"):
        Activation.from_callables(1.0, np.cos)
    with pytest.raises(TypeError, match="name"):
        Activation.from_callables(np.sin, np.cos, name="")


def test_argument_validation():
    act = get_activation("relu")
    with pytest.raises(ValueError, match="jmax must be an integer >= 0"):
        act.hermite_coefficients(-1)
    with pytest.raises(ValueError, match="of must be one of"):
        act.hermite_coefficients(3, of="second")
    with pytest.raises(ValueError, match="layers must be one of"):
        act.kernel_function(0.5, layers="third")
    with pytest.raises(ValueError, match="l must be an integer >= 0"):
        act.gamma(-1)
    with pytest.raises(ValueError, match=r"t must be a correlation in \[-1, 1\]"):
        act.h(1.1)
    with pytest.raises(ValueError, match="finite"):
        act.H(np.array([0.1, np.nan]))
    with pytest.raises(ValueError, match="kmax must be an integer >= 0"):
        act.power_series(-2)
    # rounding slack is clipped, not rejected
    assert float(act.h(1 + 1e-9)) == 0.5


def test_pickle_builtins_resolve_to_registry():
    import pickle

    for name in ALL:
        act = get_activation(name)
        assert pickle.loads(pickle.dumps(act)) is act
    custom = Activation.from_callables(np.sin, np.cos, name="sin")
    back = pickle.loads(pickle.dumps(custom))
    assert back.name == "sin" and float(back.dsigma(0.0)) == 1.0


def test_slow_series_warning_names_the_callers_line():
    # Oracle: for ReLU mu_j^2/j! decays only like j^(-3/2) (kink at 0), so 400 terms
    # leave ~1e-2 near |t| = 1 and the plan must warn; the warning's stacklevel must
    # reach through Activation.h / kernel_function to this file (not ntphase internals).
    for layers in ("h", "first"):
        act = _relu_numeric()  # fresh object: the plan (and its warning) is cached per object
        with pytest.warns(RuntimeWarning, match="converges slowly") as rec:
            act.h(np.array([0.5])) if layers == "h" else act.kernel_function(np.array([0.5]), layers)
        slow = [w for w in rec if "converges slowly" in str(w.message)]
        assert [w.filename for w in slow] == [__file__]
