"""Lazy training (docs/theory.md, section 8): gradients, symmetric init, linearized dynamics,
memorization rate, floor below the threshold, lazy limit, experiment 5 rows.

Sizes are small (n <= 100, d = 10) so the file runs in well under 90 s on one core.
Every run is seeded; each check names its oracle and justifies its tolerance.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import special

from ntphase import training as tr
from ntphase.data import random_labels, sample_sphere
from ntphase.kernels import nt_features, nt_kernel
from ntphase.training.network import _tangent_kernel

N_SAMPLES, DIM = 100, 10

#: independent closed forms of the activations (gelu: x Phi(x), the exact form)
SIGMA = {
    "tanh": np.tanh,
    "relu": lambda z: np.maximum(z, 0.0),
    "gelu": lambda z: z * 0.5 * (1.0 + special.erf(z / math.sqrt(2.0))),
    "softplus": lambda z: np.logaddexp(0.0, z),
}


def _data(n=N_SAMPLES, d=DIM, n_test=0, seed=0):
    rng = np.random.default_rng(seed)
    X = sample_sphere(n, d, rng)
    y = random_labels(n, rng)
    X_test = sample_sphere(n_test, d, rng) if n_test else None
    return X, y, X_test


# --------------------------------------------------------------------------- model pieces


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_symmetric_initialization_gives_zero_output(activation):
    # Oracle: exact cancellation of the pairs (equal w, opposite b): f(x; W0) == 0 bit for bit.
    X, _, _ = _data(n=50, seed=1)
    W0, b0 = tr.symmetric_initialization(40, DIM, rng=3)
    assert W0.shape == (40, DIM) and b0.shape == (40,)
    np.testing.assert_array_equal(W0[:20], W0[20:])
    np.testing.assert_array_equal(b0, np.r_[np.ones(20), -np.ones(20)])
    f = tr.network_output(X, W0, b0, activation, alpha=1e6)
    assert np.all(f == 0.0)


def test_symmetric_kernel_has_rank_half_width_times_d():
    # Oracle: the pairs' tangent features are +v and -v, so K_N(W0) = K_{N/2}(distinct rows)
    # (identity of nt_kernel) and rank K_N(W0) = (N/2) d when (N/2) d < n.
    X, _, _ = _data(n=80, seed=2)
    W0, _ = tr.symmetric_initialization(8, DIM, rng=4)
    K_full, K_half = nt_kernel(X, W0, "tanh"), nt_kernel(X, W0[:4], "tanh")
    np.testing.assert_allclose(K_full, K_half, rtol=1e-12, atol=1e-14)
    assert np.linalg.matrix_rank(K_full) == tr.tangent_dimension(8, DIM) == 40


@pytest.mark.parametrize("activation", ["tanh", "gelu", "softplus", "relu"])
@pytest.mark.parametrize("second", [False, True])
def test_gradient_matches_central_finite_differences(activation, second):
    # Oracle: central differences (L(theta + h e) - L(theta - h e)) / 2h, h = 1e-6.
    # Truncation error ~ h^2 L''' ~ 1e-12 and rounding ~ eps L / h ~ 1e-10 relative, so the
    # relative error of the whole gradient must be <= 1e-6. For relu a kink within h of
    # some z_ik has probability ~ n N h ~ 1e-3 and would show as a large error (seeded: none).
    rng = np.random.default_rng(5)
    n, N, d, alpha = 12, 6, 4, 3.0
    X = sample_sphere(n, d, rng)
    y = rng.standard_normal(n)
    W = rng.standard_normal((N, d)) / math.sqrt(d)
    b = rng.standard_normal(N)
    loss, gW, gb = tr.loss_and_gradient(W, b, X, y, activation, alpha, train_second_layer=second)
    assert (gb is None) != second
    h = 1e-6

    def L(W_, b_):
        return tr.loss_and_gradient(W_, b_, X, y, activation, alpha)[0]

    fdW = np.zeros_like(W)
    for idx in np.ndindex(W.shape):
        E = np.zeros_like(W)
        E[idx] = h
        fdW[idx] = (L(W + E, b) - L(W - E, b)) / (2 * h)
    assert np.linalg.norm(gW - fdW) <= 1e-6 * np.linalg.norm(fdW)
    if second:
        fdb = np.array([(L(W, b + h * e) - L(W, b - h * e)) / (2 * h) for e in np.eye(N)])
        assert np.linalg.norm(gb - fdb) <= 1e-6 * np.linalg.norm(fdb)
    # loss value oracle: direct formula ||f - y||^2 / (2 n alpha^2)
    f = alpha / math.sqrt(N) * SIGMA[activation](X @ W.T) @ b
    assert loss == pytest.approx(np.sum((f - y) ** 2) / (2 * n * alpha**2), rel=1e-12)


def test_tangent_kernel_equals_jacobian_gram():
    # Oracle: explicit per-unit Jacobians (naive einsum): (J_W J_W^T / d + J_b J_b^T) / alpha^2
    # must equal the private kernel formula for arbitrary b (b_k^2 != 1), and nt_kernel
    # (layers="both") when b_k^2 = 1. Rounding-level agreement (1e-12 relative).
    rng = np.random.default_rng(6)
    n, N, d, alpha = 15, 8, 5, 2.0
    X = sample_sphere(n, d, rng)
    W = rng.standard_normal((N, d)) / math.sqrt(d)
    b = rng.standard_normal(N)
    Z = X @ W.T
    JW = alpha / math.sqrt(N) * np.einsum("k,ik,ij->ikj", b, 1 - np.tanh(Z) ** 2, X).reshape(n, N * d)
    Jb = alpha / math.sqrt(N) * np.tanh(Z)
    naive = (JW @ JW.T / d + Jb @ Jb.T) / alpha**2
    K = _tangent_kernel(X, W, b, "tanh", "both")
    np.testing.assert_allclose(K, naive, rtol=1e-12, atol=1e-14)
    sign = np.sign(b)
    np.testing.assert_allclose(_tangent_kernel(X, W, sign, "tanh", "both"),
                               nt_kernel(X, W, "tanh", layers="both"), rtol=1e-12, atol=1e-14)


# --------------------------------------------------------------------------- training


def test_large_alpha_follows_linearized_dynamics():
    # Oracle: the linearized prediction on the run's own K_N(W0). The deviation of the network
    # from its linearization is O(1/alpha) (Chizat-Oyallon-Bach); at alpha = 1e4 the mse curve
    # must agree to 1e-3 relative at every step (measured ~1e-7 for relu, ~1e-5 for tanh).
    X, y, _ = _data(n=60, seed=8)
    for activation in ("relu", "tanh"):
        res = tr.train_network(X, y, activation, 48, alpha=1e4, steps=400, rng=9, record_kernel=False)
        pred = tr.linearized_loss_curve(res.kernel, y, res.lr, res.loss_steps)
        assert res.steps == 400 and res.loss_curve.size == 401
        np.testing.assert_allclose(res.loss_curve, pred, rtol=1e-3)
        assert res.lr == pytest.approx(1 / np.linalg.eigvalsh(res.kernel)[-1], rel=1e-10)


def test_memorization_above_threshold_rate_and_movement():
    # Random labels, p = (N/2) d = 4n (N d = 8n), alpha = 1e4 (lazy).
    # (1) the loss falls below 1e-8 of its start (Theorem: lambda_min(K_N) > 0 above the threshold);
    # (2) the measured slope of log(loss) between 1e-4 and 1e-8 of the start is within 20% of
    #     -2 log(1 - eta lambda_min) (asymptotic linearized rate; the window is the tail where the
    #     bottom eigendirections dominate; measured ~6%);
    # (3) the weights move < 1% (lazy: movement ~ ||a|| / (alpha sqrt d), here ~1e-4).
    X, y, X_test = _data(n_test=100, seed=10)
    width = 8 * N_SAMPLES // DIM  # p = 4 n
    assert tr.tangent_dimension(width, DIM) == 4 * N_SAMPLES
    res = tr.train_network(X, y, "relu", width, alpha=1e4, steps=20_000, tol=1e-9, rng=11,
                           X_test=X_test, record_every=500)
    assert res.converged and not res.diverged
    assert res.final_loss < 1e-8 * res.initial_loss
    measured = tr.fit_linear_rate(res.loss_curve, window=(1e-4, 1e-8))
    predicted = tr.predicted_rate(res.kernel, res.lr)
    assert abs(measured - predicted) <= 0.2 * predicted, (measured, predicted)
    h = res.history
    assert list(h.columns) == list(tr.HISTORY_COLUMNS)
    assert h["step"].iloc[0] == 0 and h["step"].iloc[-1] == res.steps
    assert h["weight_movement"].max() < 0.01
    # the history's train_loss is the loss curve at the record points
    np.testing.assert_allclose(h["train_loss"], res.loss_curve[h["step"].to_numpy()], rtol=0)


@pytest.mark.parametrize("width", [N_SAMPLES // DIM, 4])
def test_plateau_at_the_floor_below_threshold(width):
    # p = (N/2) d = n/2 (N d = n) and p = n/5 (N d = 0.4 n <= n/2): rank K_N = p < n, the loss must
    # plateau within 5% of ||(I-P)y||^2 / n.
    # Independent oracle for the floor: least squares of y on the explicit NT features of the
    # N/2 distinct units (nt_features), a different computation from the eigen-projector.
    X, y, _ = _data(seed=12)
    res = tr.train_network(X, y, "relu", width, alpha=1e4, steps=4000, rng=13, record_every=1000)
    Phi = nt_features(X, res.W0[: width // 2], "relu")
    resid = y - Phi @ np.linalg.lstsq(Phi, y, rcond=None)[0]
    floor = resid @ resid / N_SAMPLES
    assert tr.linearized_loss_floor(res.kernel, y) == pytest.approx(floor, rel=1e-8)
    assert floor > 0.2 * res.initial_loss  # a real plateau (expected 1 - p/n of the start: 1/2 or 4/5)
    assert abs(res.final_loss - floor) <= 0.05 * floor
    assert not res.converged


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_lazy_limit_reaches_the_nt_interpolator(activation):
    # Oracle: the NT min-norm interpolator K_N(x, X) K_N^+ y on K_N(W0) (ntphase.linalg.ridge); GD on
    # the linearized model from f0 = 0 converges to it. At the largest alpha the test predictions
    # must be within 5% (relative L2); the gap must grow as alpha shrinks (tanh: smooth, the
    # deviation is O(1/alpha), measured 2e-5, 2e-3, 0.1, 0.7 for alpha = 1e3..1).
    X, y, X_test = _data(n=60, n_test=200, seed=14)
    alphas = [1e3, 1e2, 1e1, 1.0] if activation == "tanh" else [1e5, 1e1, 1.0]
    dist, interp = [], None
    for alpha in alphas:
        res = tr.train_network(X, y, activation, 48, alpha=alpha, steps=20_000, tol=1e-10, rng=15,
                               X_test=X_test, record_every=20_000, interpolator_predictions=interp,
                               record_kernel=False)
        assert res.converged, alpha
        interp = res.interpolator_predictions
        dist.append(res.history["interpolator_distance"].iloc[-1])
    assert dist[0] < 0.05, dist
    assert all(a < b for a, b in zip(dist, dist[1:])), dist
    # final predictions field agrees with the recorded distance (same quantity, two code paths)
    assert np.linalg.norm(res.predictions_test - interp) / np.linalg.norm(interp) == pytest.approx(dist[-1])


def test_symmetric_pairs_make_the_lazy_error_order_alpha_minus_two():
    # Prediction (experiments/lazy_training.py docstring): with symmetric pairs and a smooth
    # sigma, the network deviates from its linearization at the same step by O(alpha^-2), and
    # the kernel moves by O(alpha^-2) (the O(alpha^-1) terms cancel within each pair).
    # Oracle: the exponent log10(dist(300) / dist(3000)) must be 2 within 0.05 (next-order
    # corrections are relatively O(1/alpha) ~ 3e-3; measured 1.9999).
    X, y, X_test = _data(n=40, n_test=100, seed=30)
    out = []
    for alpha in (300.0, 3000.0):
        res = tr.train_network(X, y, "tanh", 40, alpha=alpha, steps=500, tol=0.0, rng=31, X_test=X_test,
                               record_every=500)
        last = res.history.iloc[-1]
        out.append((last["linearized_distance"], last["kernel_movement"], last["weight_movement"]))
    ratio = np.log10(np.array(out[0]) / np.array(out[1]))
    assert abs(ratio[0] - 2) < 0.05 and abs(ratio[1] - 2) < 0.05, ratio
    # weights: O(1/alpha) exactly in the linearized picture (||a_t|| / (alpha sqrt(d)))
    assert abs(ratio[2] - 1) < 0.05, ratio


def test_second_layer_training_follows_both_kernel():
    # Oracle: with train_second_layer the linearized kernel is nt_kernel(layers="both");
    # at alpha = 1e4 the mse curve follows its prediction (1e-3 relative, as above).
    X, y, _ = _data(n=60, seed=16)
    res = tr.train_network(X, y, "tanh", 24, alpha=1e4, steps=300, rng=17, train_second_layer=True,
                           record_every=100)
    assert res.layers == "both"
    np.testing.assert_allclose(res.kernel, nt_kernel(X, res.W0, "tanh", layers="both"), rtol=1e-12)
    pred = tr.linearized_loss_curve(res.kernel, y, res.lr, res.loss_steps)
    np.testing.assert_allclose(res.loss_curve, pred, rtol=1e-3)
    assert not np.array_equal(res.b, res.b0)


def test_minibatch_of_all_samples_equals_full_batch_and_sgd_converges():
    # Oracle 1: a "minibatch" of all n samples is the full gradient (in another summation order):
    # the final weights agree with full-batch GD to rounding (1e-9 relative after 200 steps).
    X, y, _ = _data(n=40, seed=18)
    full = tr.train_network(X, y, "tanh", 40, alpha=100.0, steps=200, rng=19, record_every=50)
    mini = tr.train_network(X, y, "tanh", 40, alpha=100.0, steps=200, rng=19, minibatch=40, record_every=50)
    np.testing.assert_allclose(mini.W, full.W, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(mini.history["train_loss"], full.history["train_loss"], rtol=1e-8)
    # Oracle 2: SGD on a consistent linear system (p = 5 n > n, lr < 2/lambda_max(K_BB)) converges
    # linearly (randomized block Kaczmarz): the loss must drop by 1e-6 within 20000 batch steps.
    sgd = tr.train_network(X, y, "relu", 40, alpha=1e4, steps=20_000, rng=20, minibatch=10, tol=1e-6,
                           record_every=200, record_kernel=False)
    assert sgd.converged and sgd.final_loss <= 1e-6 * sgd.initial_loss


def test_divergence_is_loud():
    # eta = 2.5 / lambda_max: the top eigendirection grows like |1 - 2.5|^(2t) = 2.25^t (linearized),
    # passing DIVERGENCE_FACTOR = 1e8 within ~100 steps. alpha = 1e8 keeps the network linear up
    # to that point (at alpha = 1e4 relu escapes: the weights move O(1) once the mse is ~1e7 and
    # the kernel shrinks, a catapult, so the run ends up converging).
    X, y, _ = _data(n=40, seed=21)
    K0 = nt_kernel(X, tr.symmetric_initialization(40, DIM, rng=22)[0], "relu")
    lr = 2.5 / np.linalg.eigvalsh(K0)[-1]
    with pytest.warns(RuntimeWarning, match="diverged"):
        res = tr.train_network(X, y, "relu", 40, alpha=1e8, steps=1000, lr=lr, rng=22)
    assert res.diverged and not res.converged and res.steps < 200


def test_bad_inputs_are_named():
    X, y, _ = _data(n=20, seed=23)
    with pytest.raises(ValueError, match="width must be an even integer"):
        tr.train_network(X, y, "relu", 7, alpha=1.0)
    with pytest.raises(ValueError, match="alpha must be > 0"):
        tr.train_network(X, y, "relu", 8, alpha=0.0)
    with pytest.raises(ValueError, match="y must have length 20"):
        tr.train_network(X, y[:5], "relu", 8, alpha=1.0)
    with pytest.raises(ValueError, match="minibatch must be an integer <= 20"):
        tr.train_network(X, y, "relu", 8, alpha=1.0, minibatch=50)
    with pytest.raises(ValueError, match="X_test must have 10 columns"):
        tr.train_network(X, y, "relu", 8, alpha=1.0, X_test=np.ones((3, 4)))
    with pytest.raises(ValueError, match="requires X_test"):
        tr.train_network(X, y, "relu", 8, alpha=1.0, y_test=np.ones(3))
    X_copy, y_copy = X.copy(), y.copy()
    tr.train_network(X, y, "relu", 8, alpha=1.0, steps=3, rng=0)
    np.testing.assert_array_equal(X, X_copy)  # inputs never mutated
    np.testing.assert_array_equal(y, y_copy)


def test_test_error_is_the_test_mse():
    # Oracle: mean((f(X_test) - y_test)^2) recomputed from the returned weights.
    X, y, X_test = _data(n=30, n_test=25, seed=24)
    y_test = np.sin(X_test[:, 0])
    res = tr.train_network(X, y, "tanh", 20, alpha=10.0, steps=50, rng=25, X_test=X_test, y_test=y_test,
                           record_every=50)
    f = tr.network_output(X_test, res.W, res.b, "tanh", 10.0)
    assert res.history["test_error"].iloc[-1] == pytest.approx(np.mean((f - y_test) ** 2), rel=1e-12)
    np.testing.assert_allclose(res.predictions_test, f, rtol=1e-12)


# --------------------------------------------------------------------------- experiment 5


def test_experiment_rows_schema_and_agreement(tmp_path):
    from ntphase.experiments import lazy_training as lt
    from ntphase.experiments.config import ConfigError, validate_config
    from ntphase.runtime import run_sweep

    cfg = validate_config(lt.Config, {"experiment": "lazy_training", "n": 40, "d": 5, "n_test": 50,
                                      "activations": ["tanh"],
                                      "ratios": [0.5, 4.0], "alphas": [10.0, 1e4], "repeats": 1,
                                      "steps": 3000, "curve_points": 20})
    with pytest.raises(ConfigError, match="unknown key"):
        validate_config(lt.Config, {"experiment": "lazy_training", "nn": 3})
    tasks = lt.tasks(cfg)
    assert len(tasks) == (len(cfg.ratios) + 1) * cfg.repeats
    for params in tasks:
        assert params["kind"] in ("curve", "alpha")
    out = lt.run_task(tasks[0], seed=5)
    for r in out:
        assert isinstance(r["quantity"], str) and isinstance(r["value"], float)
        assert r["source"] in ("simulation", "linearized")
        assert not set(r) & set(tasks[0]) - {"quantity", "value"}, "rows must not repeat task parameters"
    # the real pipeline: the sweep store refuses rows whose columns clash with the parameters
    table = run_sweep(lt.run_task, tasks, tmp_path / "store", name=lt.NAME, executor="serial", progress=False)
    assert {"quantity", "value", "source", "kind", "ratio", "activation", "seed"} <= set(table.columns)
    curve = table[(table["kind"] == "curve") & (table["quantity"] == "relative_train_loss")]
    sim = curve[curve["source"] == "simulation"].sort_values(["ratio", "step"])["value"].to_numpy()
    lin = curve[curve["source"] == "linearized"].sort_values(["ratio", "step"])["value"].to_numpy()
    # alpha = 1e4: simulation follows the linearized curve (1e-3 relative, see above)
    np.testing.assert_allclose(sim, lin, rtol=1e-3)
    theory = pd.DataFrame(lt.theory_rows(cfg))
    np.testing.assert_allclose(theory["value"], [max(0.0, 1 - r) for r in cfg.ratios])
    agree = lt.agreement(table, theory, cfg)
    plateau = [a for a in agree if a["prediction"].startswith("loss plateau")]
    assert plateau and plateau[0]["relative_error"] < 0.05
    sweep = table[(table["kind"] == "alpha") & (table["quantity"] == "interpolator_distance")]
    d_small, d_large = sweep.sort_values("alpha")["value"].to_numpy()
    assert d_large < d_small
    paths = lt.plot(table, cfg, tmp_path, theory=theory)
    assert {p.suffix for p in paths} == {".png", ".pdf"} and all(p.stat().st_size > 0 for p in paths)
    with pytest.raises(ValueError, match="kind"):
        lt.run_task({"kind": "nope"}, 0)


def test_experiment_quick_config_is_registered():
    from ntphase.experiments import REGISTRY, get_experiment

    assert REGISTRY["lazy_training"] == "ntphase.experiments.lazy_training"
    module = get_experiment("lazy_training")
    cfg = module.Config()
    assert cfg.experiment == "lazy_training" and cfg.ratios == [0.5, 1.0, 2.0, 8.0]
    assert "relu" in cfg.activations

