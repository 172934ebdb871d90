"""Experiment 5: lazy training of the real network (docs/theory.md, section 8).

Gradient descent on the first-layer weights of the symmetric two-layer network
with output scale ``alpha`` (:mod:`ntphase.training`) on random labels
(``y_i`` i.i.d. N(0, 1)):

- *Training curves* (one task per ``(ratio, repeat)``, ``alpha = curve_alpha``):
  the training mse relative to its start, ``mse_t / mse_0``, recorded along the run
  (simulation) next to the linearized prediction
  ``(1/n) sum_i (1 - eta lambda_i)^(2t) <v_i, y>^2 / mse_0`` computed from the
  same run's kernel ``K_N(W_0)`` (:func:`ntphase.training.linearized.linearized_loss_curve`).
  ``ratio = p / n`` with ``p = N d / 2`` the number of effective NT parameters of
  the symmetric network (``N/2`` pairs of units share ``w``; see
  :func:`ntphase.training.tangent_dimension`), so the interpolation threshold is
  at ``ratio = 1``; the total number of first-layer weights is ``N d = 2 p``.
  Below it the loss plateaus at the floor ``||(I - P) y||^2 / ||y||^2``, whose
  expectation for isotropic labels is ``1 - ratio`` (theory row
  ``expected_floor``); above it the loss decays to zero at the rate
  ``-2 log(1 - eta lambda_min(K_N))``.
- *Lazy limit* (one task per repeat, all ``alphas`` on the same data and the same
  initialization): the relative L2 distance between the network's test
  predictions and those of the NT min-norm interpolator
  ``K_N(x, X) K_N^+ y`` at the end of training, the relative weight movement and
  the relative kernel movement, against ``alpha``, and the distance between the
  network's test predictions and the linearized model's after the same number of
  steps (:func:`ntphase.training.linearized.linearized_predictions`; free of the
  stopping-tolerance floor ``~ sqrt(tol)`` that the interpolator distance has at
  large ``alpha``). The lazy theory (Chizat, Oyallon & Bach 2019) says they
  vanish as ``alpha -> infinity``: the weights move by ``O(1/alpha)`` and, in
  general, the network deviates from its linearization by ``O(1/alpha)``.

  *Symmetric pairs make the deviation O(1/alpha^2) for smooth sigma.* Write the
  pair's displacements ``Delta_+, Delta_-`` (both ``O(1/alpha)``),
  ``D = Delta_+ - Delta_-``, ``S = Delta_+ + Delta_-``. The linear part of
  ``f`` depends on ``D`` only; ``S`` starts at 0 and its velocity is
  ``~ (1/alpha) sigma''(z) <D, x>``, so ``S = O(1/alpha^2)``. The pair's
  second-order term is ``(alpha/2) sigma''(z) (<Delta_+,x>^2 - <Delta_-,x>^2)
  = (alpha/2) sigma''(z) <S,x><D,x> = O(1/alpha^2)``, the third-order one
  ``alpha O(|Delta|^3) = O(1/alpha^2)``, and the kernel change is
  ``~ sigma' sigma'' <S, x> = O(1/alpha^2)``. Prediction (smooth ``sigma``):
  ``linearized_distance`` and ``kernel_movement`` scale like ``alpha^-2``
  (agreement row: fitted exponent over ``alpha >= LAZY_FIT_MIN_ALPHA``). ReLU has
  ``sigma''`` singular (activation patterns flip), so no exponent is predicted.

Rows (``run_task``): ``quantity`` and ``value`` with the columns ``source``
(``"simulation"`` or ``"linearized"``: a prediction from the run's own kernel),
``p`` (``N d / 2``), ``step`` for curve points and ``alpha`` for the lazy-limit
sweep; the sweep adds the task parameters (``activation, kind, ratio, N, alpha``
for curves, ``alphas`` for the sweep, ...).
"""

from __future__ import annotations

from pathlib import Path
from typing import Final, Literal

import numpy as np
import pandas as pd
from pydantic import Field

from ntphase.data import random_labels, sample_sphere
from ntphase.experiments import plots
from ntphase.experiments.agreement import agreement_row
from ntphase.experiments.config import ActivationNames, ExperimentConfig, IncreasingPositive, WidthRatios
from ntphase.training import (
    fit_linear_rate,
    linearized_loss_curve,
    linearized_loss_floor,
    predicted_rate,
    tangent_dimension,
    train_network,
)

NAME: Final = "lazy_training"

DESCRIPTION = (
    "Gradient descent on the first-layer weights of the symmetric two-layer network with output scale alpha "
    "(``ntphase.training``), on random labels. Left: the training loss against the step for several p/n "
    "(p = N d / 2 NT parameters), beside the linearized dynamics on the same run's kernel ``K_N(W_0)``: below "
    "the threshold p = n it plateaus at the floor ``||(I - P) y||^2 / ||y||^2``, above it it decays to 0 at the "
    "rate ``-2 log(1 - eta lambda_min(K_N))``. Middle and right: as alpha grows the network approaches its "
    "linearization and the NT minimum-norm interpolator, and its weights and kernel stop moving (the lazy limit, "
    "Chizat, Oyallon & Bach 2019); with symmetric pairs the deviation is O(alpha^-2) for a smooth activation. "
    "ReLU is piecewise linear in the weights: once no activation pattern flips, the network equals its "
    "linearization up to rounding and the kernel does not move at all."
)

#: the network's distance to the NT interpolator at the largest alpha is graded against
#: STOP_BOUND_FACTOR * sqrt(tol): runs stop at mse <= tol mse_0, a training residual of
#: sqrt(tol) relative, which the test points may amplify (by this factor, at most, in the runs
#: measured)
STOP_BOUND_FACTOR = 10.0

#: smallest alpha used to fit the lazy-limit exponent (below it the run is not lazy)
LAZY_FIT_MIN_ALPHA = 10.0

#: activations with a singular sigma'' (no alpha^-2 prediction)
NONSMOOTH = ("relu",)

#: relative-loss window of the measured linear rate (the tail of the run, where
#: the slowest eigendirection of K_N dominates the residual)
RATE_WINDOW = (1e-4, 1e-8)


class Config(ExperimentConfig):
    """Lazy training of random labels (defaults: the quick preset, ~25 s on one core).

    Attributes
    ----------
    activations : list of str
        Activations of the network (relu: the paper's; tanh: smooth, the clean
        ``1/alpha`` lazy limit).
    n, d : int
        Training samples (on the sphere of radius ``sqrt(d)``) and input dimension.
    n_test : int
        Test points for the distance to the NT interpolator.
    ratios : list of float
        Values of ``p / n = (N/2) d / n`` for the training curves (increasing, > 0);
        each gives ``N = 2 max(1, round(ratio n / d))`` units.
    curve_alpha : float
        Output scale of the training-curve runs (large: lazy).
    alphas : list of float
        Output scales of the lazy-limit sweep (increasing, > 0).
    alpha_ratio : float
        ``p / n`` of the lazy-limit sweep (> 1, so the labels can be interpolated).
    steps : int
        Step budget of every run.
    tol : float
        Runs stop at ``mse <= tol * mse_0``.
    curve_points : int
        Recorded points per training curve.
    weights : {"gaussian", "sphere"}
        First-layer initialization.
    """

    experiment: Literal["lazy_training"] = NAME
    repeats: int = Field(2, ge=1, le=10_000, description="independent seeds per grid point")
    activations: ActivationNames = Field(default_factory=lambda: ["relu", "tanh"])
    n: int = Field(60, ge=2, le=20_000)
    d: int = Field(10, ge=2, le=10_000)
    n_test: int = Field(400, ge=1, le=200_000)
    ratios: WidthRatios = Field(default_factory=lambda: [0.5, 1.0, 2.0, 8.0])
    curve_alpha: float = Field(1e4, gt=0)
    alphas: IncreasingPositive = Field(default_factory=lambda: [1.0, 3.0, 10.0, 30.0, 100.0, 1e3, 1e4])
    alpha_ratio: float = Field(4.0, gt=1.0)
    steps: int = Field(12_000, ge=1, le=10_000_000)
    tol: float = Field(1e-10, ge=1e-14, lt=1, description="relative loss at which a run stops (>= 1e-14: float64)")
    curve_points: int = Field(60, ge=2, le=100_000)
    weights: Literal["gaussian", "sphere"] = "gaussian"


def width_for(ratio: float, n: int, d: int) -> int:
    """Even width ``N = 2 max(1, round(ratio n / d))`` so that ``(N/2) d / n ~ ratio``."""
    return 2 * max(1, int(round(ratio * n / d)))


def tasks(config: Config) -> list[dict]:
    """Per activation: one task per (ratio, repeat) for the curves, one per repeat for the alpha sweep."""
    out = []
    for act in config.activations:
        base = {"activation": act, "n": config.n, "d": config.d, "n_test": config.n_test,
                "steps": config.steps, "tol": config.tol, "weights": config.weights}
        for ratio in config.ratios:
            N = width_for(ratio, config.n, config.d)
            for r in range(config.repeats):
                out.append({**base, "kind": "curve", "ratio": float(ratio), "N": N,
                            "alpha": float(config.curve_alpha), "curve_points": config.curve_points, "repeat": r})
        N = width_for(config.alpha_ratio, config.n, config.d)
        for r in range(config.repeats):
            out.append({**base, "kind": "alpha", "ratio": float(config.alpha_ratio), "N": N,
                        "alphas": [float(a) for a in config.alphas], "repeat": r})
    return out


def _sample(params: dict, rng: np.random.Generator):
    n, d = int(params["n"]), int(params["d"])
    X = sample_sphere(n, d, rng)
    y = random_labels(n, rng)
    X_test = sample_sphere(int(params["n_test"]), d, rng)
    return X, y, X_test


def _train(params: dict, X, y, X_test, alpha: float, rng, **options):
    """``train_network`` with the task's activation, width ``N``, step budget, tolerance and init."""
    return train_network(X, y, params["activation"], int(params["N"]), float(alpha), steps=int(params["steps"]),
                         tol=float(params["tol"]), rng=rng, X_test=X_test,
                         weights=params.get("weights", "gaussian"), **options)


def _curve_rows(params: dict, seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    X, y, X_test = _sample(params, rng)
    res = _train(params, X, y, X_test, params["alpha"], rng, record_every=max(1, int(params["steps"]) // 10))
    mse0 = res.initial_loss
    npts = int(params.get("curve_points", 60))
    idx = np.unique(np.round(np.linspace(0, res.loss_steps.size - 1, npts)).astype(int))
    at = res.loss_steps[idx]
    lin = linearized_loss_curve(res.kernel, y, res.lr, at)
    common = {"p": tangent_dimension(int(params["N"]), X.shape[1])}
    rows = []
    for s, v_sim, v_lin in zip(at, res.loss_curve[idx], lin):
        rows.append({**common, "quantity": "relative_train_loss", "source": "simulation", "step": int(s),
                     "value": float(v_sim / mse0)})
        rows.append({**common, "quantity": "relative_train_loss", "source": "linearized", "step": int(s),
                     "value": float(v_lin / mse0)})
    eigs = np.linalg.eigvalsh(res.kernel)
    last = res.history.iloc[-1]
    scalars = [
        ("final_relative_loss", "simulation", res.final_loss / mse0),
        ("floor", "linearized", linearized_loss_floor(res.kernel, y) / mse0),
        ("predicted_rate", "linearized", predicted_rate(eigs, res.lr)),
        ("lambda_min", "linearized", float(eigs[0])),
        ("lambda_max", "linearized", float(eigs[-1])),
        ("lr", "simulation", res.lr),
        ("steps_run", "simulation", float(res.steps)),
        ("weight_movement", "simulation", float(last["weight_movement"])),
        ("kernel_movement", "simulation", float(last["kernel_movement"])),
        ("interpolator_distance", "simulation", float(last["interpolator_distance"])),
    ]
    try:
        scalars.append(("measured_rate", "simulation", fit_linear_rate(res.loss_curve, res.loss_steps, RATE_WINDOW)))
        # the same fit on the exact linearized curve: separates the finite-window effect
        # (bottom eigenvalues of K_N close to lambda_min) from any non-lazy effect
        lin_all = linearized_loss_curve(res.kernel, y, res.lr, res.loss_steps)
        scalars.append(("window_rate", "linearized", fit_linear_rate(lin_all, res.loss_steps, RATE_WINDOW)))
    except ValueError:
        pass  # the run did not reach the rate window (plateau below the threshold)
    rows += [{**common, "quantity": q, "source": src, "value": float(v)} for q, src, v in scalars]
    return rows


def _alpha_rows(params: dict, seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    X, y, X_test = _sample(params, rng)
    init_seed = int(rng.integers(2**63 - 1))
    common = {"p": tangent_dimension(int(params["N"]), X.shape[1]), "source": "simulation"}
    rows: list[dict] = []
    interp = None
    for alpha in params["alphas"]:
        # same data and the same initialization (init_seed) for every alpha
        res = _train(params, X, y, X_test, alpha, init_seed, record_every=int(params["steps"]),
                     interpolator_predictions=interp)
        interp = res.interpolator_predictions
        last = res.history.iloc[-1]
        for q, v in [("interpolator_distance", last["interpolator_distance"]),
                     ("linearized_distance", last["linearized_distance"]),
                     ("weight_movement", last["weight_movement"]),
                     ("kernel_movement", last["kernel_movement"]),
                     ("final_relative_loss", res.final_loss / res.initial_loss),
                     ("steps_run", float(res.steps))]:
            rows.append({**common, "alpha": float(alpha), "quantity": q, "value": float(v)})
    return rows


def run_task(params: dict, seed: int) -> list[dict]:
    """Train on fresh random labels; tidy rows (``quantity``, ``value``, ``source``, ...)."""
    kind = params.get("kind")
    if kind == "curve":
        return _curve_rows(params, seed)
    if kind == "alpha":
        return _alpha_rows(params, seed)
    raise ValueError(f"params['kind'] must be 'curve' or 'alpha', got {kind!r}")


def theory_rows(config: Config) -> list[dict]:
    """Expected relative floor ``max(0, 1 - p/n)`` of each training curve.

    For ``y`` with i.i.d. N(0, 1) entries and a kernel of rank ``min(n, p)``,
    ``E ||(I - P) y||^2 = n - rank`` and ``E ||y||^2 = n``, so the ratio of
    expectations is ``1 - min(1, p/n)`` (ReLU dead samples can raise the rank
    deficit slightly, docs/theory.md, section 4).
    """
    rows = []
    for act in config.activations:
        for ratio in config.ratios:
            N = width_for(ratio, config.n, config.d)
            p = N * config.d // 2
            rows.append({"quantity": "expected_floor", "activation": act, "kind": "curve", "ratio": float(ratio),
                         "N": N, "p": p, "source": "theory", "value": float(max(0.0, 1.0 - p / config.n))})
    return rows


def agreement(table: pd.DataFrame, theory: pd.DataFrame, config: Config) -> list[dict]:
    """Measured vs predicted, per activation: plateau vs the linearized floor (``p < n``),
    measured vs predicted linear rate (``p > n``), and the distance to the NT interpolator
    at the largest ``alpha`` (prediction 0; the relative error column is the distance)."""
    rows = []
    for act in config.activations:
        curves = plots.select(table, activation=act, kind="curve")
        setting = f"{act}, n={config.n}, d={config.d}, alpha={config.curve_alpha:g}"
        for ratio in config.ratios:
            sub = curves[curves["ratio"] == ratio]
            if sub.empty:
                continue
            final = sub.loc[sub["quantity"] == "final_relative_loss", "value"].mean()
            floor = sub.loc[sub["quantity"] == "floor", "value"].mean()
            if ratio < 1 and floor > 0:
                rows.append(agreement_row(f"loss plateau = linearized floor ||(I-P)y||^2/||y||^2 (p/n={ratio:g})",
                                    setting, floor, final, "mean over seeds"))
            meas = sub.loc[sub["quantity"] == "measured_rate", "value"]
            pred = sub.loc[sub["quantity"] == "predicted_rate", "value"]
            if ratio > 1 and len(meas) and float(pred.mean()) > 0:
                rows.append(agreement_row(f"linear rate -2 log(1 - eta lambda_min(K_N)) (p/n={ratio:g})", setting,
                                    pred.mean(), meas.mean(),
                                    f"asymptotic rate vs slope of log loss for relative loss in {RATE_WINDOW}"))
                window = sub.loc[sub["quantity"] == "window_rate", "value"]
                if len(window):
                    rows.append(agreement_row(f"linearized curve's slope in the same window (p/n={ratio:g})", setting,
                                        window.mean(), meas.mean(),
                                        "isolates the lazy dynamics from the finite-window effect"))
        for q in ("linearized_distance", "kernel_movement"):
            agg = _positive_means(plots.select(table, activation=act, kind="alpha"), q)
            agg = agg[agg["alpha"] >= LAZY_FIT_MIN_ALPHA]
            if len(agg) >= 2 and act not in NONSMOOTH:  # relu: sigma'' singular, no prediction
                slope = float(np.polyfit(np.log(agg["alpha"]), np.log(agg["mean"]), 1)[0])
                rows.append({"prediction": f"lazy-limit exponent of {q} vs alpha (symmetric init)",
                             "setting": f"{act}, p/n={config.alpha_ratio:g}, alpha>={LAZY_FIT_MIN_ALPHA:g}",
                             "predicted": -2.0, "measured": slope, "relative_error": abs(slope + 2.0) / abs(slope),
                             "note": "O(alpha^-2) for smooth sigma (module docstring)"})
        sweep = plots.select(table, activation=act, kind="alpha", quantity="interpolator_distance")
        if len(sweep):
            top_alpha = float(sweep["alpha"].max())
            top = float(sweep.loc[sweep["alpha"] == top_alpha, "value"].mean())
            bound = STOP_BOUND_FACTOR * float(np.sqrt(config.tol))
            rows.append({"prediction": "network -> NT min-norm interpolator (relative L2 on test points)",
                         "setting": f"{act}, p/n={config.alpha_ratio:g}, alpha={top_alpha:g}",
                         "predicted": 0.0, "measured": top, "relative_error": top, "bound": bound,
                         "note": f"0 as alpha -> infinity; runs stop at mse <= tol mse_0 (tol={config.tol:g}), "
                                 f"a residual of sqrt(tol) = {np.sqrt(config.tol):.0e}: bound "
                                 f"{STOP_BOUND_FACTOR:g} sqrt(tol)"})
    return rows


def _positive_means(frame: pd.DataFrame, quantity: str) -> pd.DataFrame:
    """Mean and s.e. over seeds of ``quantity`` per ``alpha``, positive means only (for log axes)."""
    agg = plots.mean_se(plots.select(frame, quantity=quantity), ["alpha"])
    return agg[agg["mean"] > 0]


def plot(table: pd.DataFrame, config: Config, outdir: str | Path, theory: pd.DataFrame | None = None) -> list[Path]:
    """Figure ``lazy_training``, one row per activation: (a) relative training loss vs
    step for each ``p/n`` (markers: simulation; lines: linearized prediction from the
    run's kernel; dashed: expected floor ``1 - p/n``), (b) distance to the NT
    interpolator vs ``alpha`` (log-log, ``1/alpha`` reference), (c) weight and kernel
    movement vs ``alpha``."""
    if theory is None:
        theory = pd.DataFrame(theory_rows(config))
    acts = config.activations
    fig, axes = plots.new_figure(len(acts), 3, width=4.4, height=3.6)
    for a, act in enumerate(acts):
        _curves_panel(axes[a, 0], plots.select(table, activation=act, kind="curve"), theory, config, act)
        sweep = plots.select(table, activation=act, kind="alpha")
        ax = axes[a, 1]
        for i, (q, lab) in ((1, ("linearized_distance", "to the linearized model (same $t$)")),
                            (0, ("interpolator_distance", "to the NT min-norm interpolator"))):
            dist = _positive_means(sweep, q)
            if len(dist):
                plots.simulation(ax, dist["alpha"], dist["mean"], plots.log_error_bars(dist["mean"], dist["se"]),
                                 label=lab, i=i, filled=i == 0, ms=7 if i == 1 else 4)
                if i == 1:
                    _reference_slope(ax, dist["alpha"].to_numpy(), dist["mean"].to_numpy(), power=2)
                    _reference_slope(ax, dist["alpha"].to_numpy(), dist["mean"].to_numpy(), power=1)
        ax.set_xscale("log")
        ax.set_yscale("log")
        if act in NONSMOOTH:
            _piecewise_linear_note(ax, sweep)
        plots.finish(ax, r"output scale $\alpha$",
                     r"$\|f_\alpha - f_{\mathrm{NT}}\|_2 / \|f_{\mathrm{NT}}\|_2$ (test)",
                     rf"{act}: lazy limit, $p/n$ = {config.alpha_ratio:g}")
        ax = axes[a, 2]
        for i, (q, lab) in enumerate([("weight_movement", r"$\|W_t - W_0\|_F / \|W_0\|_F$"),
                                      ("kernel_movement", r"$\|K_t - K_0\|_{op} / \|K_0\|_{op}$")]):
            agg = _positive_means(sweep, q)
            if len(agg):
                plots.simulation(ax, agg["alpha"], agg["mean"], plots.log_error_bars(agg["mean"], agg["se"]),
                                 label=lab, i=i + 1)
                _reference_slope(ax, agg["alpha"].to_numpy(), agg["mean"].to_numpy(), power=i + 1)
            zeros = _zero_means(sweep, q)
            plots.zero_markers(ax, zeros, i=i + 1, label=f"{lab} = 0 exactly" if len(zeros) else None)
        ax.set_xscale("log")
        ax.set_yscale("log")
        plots.finish(ax, r"output scale $\alpha$", "relative movement (end of training)",
                     f"{act}: weights and kernel")
    plots.caption(fig, f"random labels, n={config.n}, d={config.d}; p = N d / 2 NT parameters (N/2 symmetric "
                       f"pairs); markers: simulation ({config.repeats} seeds, mean $\\pm$ s.e.; lower bars reaching 0 "
                       f"cut at mean/{plots.LOG_ERROR_CUT:g}); lines: linearized GD on the run's $K_N(W_0)$;\n"
                       f"dashed / dotted: $1/\\alpha$ / $\\alpha^{{-2}}$ references; open triangles on the bottom "
                       f"edge: values that are exactly 0")
    return plots.save_figure(fig, outdir, NAME)


def _zero_means(frame: pd.DataFrame, quantity: str) -> np.ndarray:
    """The alphas at which ``quantity`` is exactly 0 in every seed (a log axis drops them)."""
    agg = plots.mean_se(plots.select(frame, quantity=quantity), ["alpha"])
    return agg.loc[agg["mean"] == 0, "alpha"].to_numpy()


def _piecewise_linear_note(ax, sweep: pd.DataFrame) -> None:
    """Explain ReLU's drop of the distance to the linearized model at large alpha."""
    lin = plots.mean_se(plots.select(sweep, quantity="linearized_distance"), ["alpha"])
    kern = plots.mean_se(plots.select(sweep, quantity="kernel_movement"), ["alpha"])
    still = kern.loc[kern["mean"] == 0, "alpha"]
    if lin.empty or still.empty:
        return
    a0 = float(still.min())
    before = lin[lin["alpha"] < a0]
    at = float(lin.loc[lin["alpha"] == a0, "mean"].iloc[0])
    text = (f"relu is piecewise linear in W: at $\\alpha$ = {a0:g} no activation\npattern flips, so the network "
            f"equals its linearization\nup to rounding ({at:.0e}) and $K_t = K_0$ exactly")
    if len(before):
        b = before.iloc[-1]
        text += f";\nat $\\alpha$ = {b['alpha']:g} some flip ({b['mean']:.1e})"
    plots.corner_text(ax, text, "lower left")


def _curves_panel(ax, curves: pd.DataFrame, theory: pd.DataFrame, config: Config, act: str) -> None:
    loss = curves[curves["quantity"] == "relative_train_loss"]
    # x range: up to 1.3 x the longest run that reached the tolerance (the plateaus go on flat)
    steps_run = curves[(curves["quantity"] == "steps_run") & (curves["ratio"] > 1)]["value"]
    xmax = 1.3 * float(steps_run.max()) if len(steps_run) else None
    group = "task_key" if "task_key" in loss.columns else "repeat"
    for i, ratio in enumerate(config.ratios):
        sub = loss[loss["ratio"] == ratio]
        for r, (_, run) in enumerate(sub.groupby(group, sort=True)):
            sim = run[run["source"] == "simulation"].sort_values("step")
            lin = run[run["source"] == "linearized"].sort_values("step")
            if xmax is not None:
                sim, lin = sim[sim["step"] <= xmax], lin[lin["step"] <= xmax]
            plots.theory(ax, lin["step"], lin["value"], i=i, lw=1.2,
                         label="linearized (same $K_N$)" if r == 0 and i == 0 else None)
            plots.simulation(ax, sim["step"], sim["value"], i=i, ms=3.5, filled=False,
                             label=f"$p/n$ = {ratio:g}" if r == 0 else None)
        th = plots.select(theory, quantity="expected_floor", ratio=float(ratio))
        if len(th) and float(th["value"].iloc[0]) > 0:
            plots.hline(ax, float(th["value"].iloc[0]), label="$1 - p/n$ (expected floor)" if i == 0 else None,
                        i=i, lw=0.9)
    below = [r for r in config.ratios if r < 1]
    if below:
        ratio = below[0]
        floors = curves[(curves["ratio"] == ratio) & (curves["quantity"] == "floor")]
        sub = floors["value"]
        if len(sub):
            n = config.n
            q = float(floors["p"].iloc[0]) / n if "p" in floors.columns else ratio
            sd = float(np.sqrt(2 * q * (1 - q) / (n + 2)))
            runs = ", ".join(f"{v:.2f}" for v in sub)
            # between the plateaus (top) and the decaying curves (bottom left): free in every run
            ax.text(0.97, 0.6, f"$p/n$ = {ratio:g}: each run plateaus\nat its own floor "
                                f"$\\|(I-P)y\\|^2/\\|y\\|^2$\n= {runs}; $1 - p/n$ is its\nmean over label "
                                f"draws, s.d.\n$\\sqrt{{2q(1-q)/(n+2)}}$ = {sd:.2f} ($q$ = $p/n$)",
                    transform=ax.transAxes, fontsize=7, va="center", ha="right",
                    bbox={"fc": "white", "ec": "0.8", "alpha": 0.85, "pad": 2})
    ax.set_yscale("log")
    if xmax is not None:
        ax.set_xlim(-0.02 * xmax, xmax)
    plots.finish(ax, "step $t$", r"$\mathrm{mse}_t / \mathrm{mse}_0$",
                 rf"{act}: training curves, $\alpha$ = {config.curve_alpha:g}", loc="lower left")


def _reference_slope(ax, x: np.ndarray, y: np.ndarray, power: int = 1, label: bool = True) -> None:
    """Reference ``alpha^-power`` through the point at the median alpha (dashed: 1, dotted: 2)."""
    good = np.isfinite(y) & (y > 0)
    if not np.any(good):
        return
    xs, ys = x[good], y[good]
    k = len(xs) // 2
    grid = np.geomspace(x.min(), x.max(), 50)
    text = r"$\propto 1/\alpha$" if power == 1 else rf"$\propto \alpha^{{-{power}}}$"
    plots.theory(ax, grid, ys[k] * (xs[k] / grid) ** power, label=f"{text} (reference)" if label else None,
                 i=6, style="--" if power == 1 else ":", lw=1.0)
