"""Experiment 1: the interpolation phase transition of ``lambda_min(K_N)`` at ``N d = n``.

docs/theory.md, section 4 (Montanari & Zhong 2022, Theorem 1): for ``N d >> n`` the
empirical NT kernel ``K_N`` has ``lambda_min(K_N)`` bounded away from zero, close
to ``lambda_min(K)`` (and to ``gamma_{>l}`` when ``n << B(d, l+1)``); for ``N d < n``,
``rank(K_N) <= N d < n`` so ``lambda_min(K_N) = 0`` and random labels cannot be
interpolated. For ReLU, a sample on which all ``N`` units are inactive is a zero row
of ``K_N`` (probability ``2^-N``), so small ``N`` can be rank deficient even above
the threshold.

One task = one ``(activation, d, N, repeat)``: sample ``X`` (n points on the sphere
of radius sqrt(d)), ``W`` (N first-layer weights) and random labels ``y``;
measure

- ``lambda_min_KN``: smallest eigenvalue of ``K_N`` (dense, float64; may be a
  tiny negative number at the round-off level when ``K_N`` is singular);
- ``lambda_min_K``: smallest eigenvalue of the infinite-width ``K`` on the same ``X``;
- ``rank_KN``: numerical rank of ``K_N`` (eigenvalues above
  ``n * eps * lambda_max``, NumPy's ``matrix_rank`` convention);
- ``rank_deficit``: ``min(n, N d) - rank_KN`` (> 0 only through dead rows);
- ``dead_rows``: samples with every unit inactive (zero diagonal of ``K_N``);
- ``train_error``: relative training error ``||y - y_hat||^2 / ||y||^2`` of the
  minimum-norm NT fit of the random labels (the ``lambda -> 0`` ridge limit).

Theory rows: ``gamma_above`` (``gamma_{>l}``), ``lambda_min_edge`` (Gaussian-equivalent
lower edge of ``K``, docs/theory.md, section 3), ``nt_law_edge`` (the purely theoretical
``lambda_min(K_N)``: lower edge of the law of ``K`` multiplied by Marchenko-Pastur of
ratio ``n/(Nd)``, :func:`ntphase.theory.lambda_min_nt_edge`, from ``(activation, d, n, N)``
alone), ``mp_conjecture`` (the naive Marchenko-Pastur curve
``gamma_{>l} (1 - sqrt(n/(Nd)))^2``, a conjecture) and
``train_error_theory`` ``= max(0, 1 - N d / n)``: the min-norm fit projects ``y`` on
the ``rank(K_N) = min(n, Nd)``-dimensional column space, so for isotropic random
labels ``E ||(I - P) y||^2 / ||y||^2 = 1 - rank/n``.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Final, Literal

import numpy as np
import pandas as pd
from pydantic import Field

from ntphase.data import random_labels, sample_sphere, sample_weights
from ntphase.experiments import plots
from ntphase.experiments.agreement import agreement_row
from ntphase.experiments.config import (
    ActivationNames,
    Dimensions,
    ExperimentConfig,
    WeightDistribution,
    WidthRatios,
)
from ntphase.kernels import infinite_kernel, nt_kernel
from ntphase.linalg import eigenvalues, ridge_path
from ntphase.sphere import gamma_above, level
from ntphase.theory import lambda_min_edge, lambda_min_mp_conjecture, lambda_min_nt_edge, lambda_min_rf_edge

NAME: Final = "phase_transition"

#: default grid of N d / n: 2^(k/2), k = -6..12 (1/8 .. 64), includes 1 exactly
DEFAULT_RATIOS = [float(2.0 ** (k / 2)) for k in range(-6, 13)]
#: points of the K_N-law edge curve above the threshold (plus the measured widths)
NT_EDGE_POINTS = 48


class Config(ExperimentConfig):
    """Phase-transition sweep: ``lambda_min(K_N)`` against ``N d / n``.

    Attributes
    ----------
    activations : list of str
        Activations (e.g. ``relu`` and a smooth one such as ``tanh``).
    dims : list of int
        Input dimensions ``d`` (>= 2).
    n : int
        Sample size (>= 2).
    ratios : list of float
        Target values of ``N d / n`` (increasing, > 0); each gives the width
        ``N = max(1, round(ratio * n / d))`` (duplicate widths are merged).
    weights : {"gaussian", "sphere"}
        First-layer weight distribution.
    """

    experiment: Literal["phase_transition"] = NAME
    activations: ActivationNames = Field(default_factory=lambda: ["relu", "tanh"])
    dims: Dimensions = Field(default_factory=lambda: [20, 80])
    n: int = Field(400, ge=2, le=200_000)
    ratios: WidthRatios = Field(default_factory=lambda: list(DEFAULT_RATIOS))
    weights: WeightDistribution = "gaussian"
    repeats: int = Field(5, ge=1, le=10_000, description="independent seeds per grid point")


def widths(config: Config, d: int) -> list[int]:
    """The distinct widths ``N = max(1, round(ratio n / d))`` of the ratio grid, increasing."""
    return sorted({max(1, int(round(r * config.n / d))) for r in config.ratios})


def tasks(config: Config) -> list[dict]:
    """One task per (activation, d, N, repeat)."""
    return [
        {"activation": act, "d": d, "n": config.n, "N": N, "weights": config.weights, "repeat": r}
        for act in config.activations
        for d in config.dims
        for N in widths(config, d)
        for r in range(config.repeats)
    ]


def numerical_rank(eigs: np.ndarray, n: int) -> int:
    """Eigenvalues above ``n * eps * max|eig|`` (the ``numpy.linalg.matrix_rank`` default)."""
    tol = n * np.finfo(np.float64).eps * float(np.max(np.abs(eigs)))
    return int(np.sum(eigs > tol))


def run_task(params: dict, seed: int) -> list[dict]:
    """Sample data, weights and random labels; measure the spectrum and the min-norm fit."""
    act, d, n, N = params["activation"], int(params["d"]), int(params["n"]), int(params["N"])
    rng = np.random.default_rng(seed)
    X = sample_sphere(n, d, rng)
    W = sample_weights(N, d, rng, distribution=params.get("weights", "gaussian"))
    y = random_labels(n, rng)
    KN = nt_kernel(X, W, act)
    eigs_N = eigenvalues(KN)
    eigs_K = eigenvalues(infinite_kernel(X, act))
    rank = numerical_rank(eigs_N, n)
    with warnings.catch_warnings():
        # below the threshold the lambda = 0 fit is the pseudo-inverse one: expected here
        warnings.simplefilter("ignore")
        path = ridge_path(KN, y, [0.0])
    # RidgePath.train_error is the mean squared residual; relative to mean(y^2)
    train_error = float(path.train_error[0] / np.mean(y**2))
    ratio = N * d / n
    values = {
        "lambda_min_KN": float(eigs_N[0]),
        "lambda_min_K": float(eigs_K[0]),
        "rank_KN": float(rank),
        "rank_deficit": float(min(n, N * d) - rank),
        "dead_rows": float(np.sum(np.diag(KN) == 0.0)),
        "train_error": train_error,
        # random-features edge from the spectrum of K on these data (semi-empirical prediction)
        "rf_edge": float(lambda_min_rf_edge(eigs_K, N, d)) if eigs_K[0] > 0 else float("nan"),
    }
    return [{"quantity": q, "value": v, "ratio": ratio} for q, v in values.items()]


def theory_rows(config: Config) -> list[dict]:
    """``gamma_{>l}``, the Gaussian-equivalent edge, the ``K_N``-law edge (at the measured
    widths and on a fine grid), the MP conjecture and the train-error line."""
    n = config.n
    grid = np.geomspace(min(config.ratios), max(config.ratios), 200)
    rows: list[dict] = []
    for act in config.activations:
        for d in config.dims:
            base = {"activation": act, "d": d, "n": n}
            lev = level(n, d, act)
            rows.append({**base, "quantity": "gamma_above", "value": float(gamma_above(act, d, lev)), "level": lev})
            rows.append({**base, "quantity": "lambda_min_edge", "value": float(lambda_min_edge(act, d, n))})
            Ns = np.union1d(np.round(grid * n / d).astype(int), widths(config, d))
            Ns = Ns[Ns * d > n]
            if len(Ns):
                mp = np.atleast_1d(lambda_min_mp_conjecture(act, d, n, Ns))
                rows += [{**base, "quantity": "mp_conjecture", "ratio": float(N * d / n), "N": int(N),
                          "value": float(v)} for N, v in zip(Ns, mp)]
            fine = np.geomspace(min(1.02, max(config.ratios)), max(config.ratios), NT_EDGE_POINTS)
            Ns = np.union1d(np.round(fine * n / d).astype(int), widths(config, d))
            Ns = Ns[Ns * d > n]
            if len(Ns):
                nt = np.atleast_1d(lambda_min_nt_edge(act, d, n, Ns))
                rows += [{**base, "quantity": "nt_law_edge", "ratio": float(N * d / n), "N": int(N),
                          "value": float(v)} for N, v in zip(Ns, nt)]
            for r in grid:
                rows.append({**base, "quantity": "train_error_theory", "ratio": float(r),
                             "value": float(max(0.0, 1.0 - r))})
    return rows


def _theory_value(theory: pd.DataFrame, quantity: str, act: str, d: int) -> float:
    sel = plots.select(theory, quantity=quantity, activation=act, d=d)
    return float(sel["value"].iloc[0]) if len(sel) else float("nan")


#: the three predictions of lambda_min(K_N): (label, theory quantity or None for the per-seed rf edge)
PREDICTORS = (
    ("K_N-law edge from (d, n, N)", "nt_law_edge"),
    ("random-features edge from spec(K), p = Nd", None),
    ("MP conjecture gamma(1-sqrt(n/Nd))^2", "mp_conjecture"),
)


def predictor_errors(sub: pd.DataFrame, theory: pd.DataFrame, act: str, d: int) -> pd.DataFrame:
    """Per width above the threshold: measured mean ``lambda_min(K_N)`` (round-off zeros set to 0),
    the seeds with dead rows, and each predictor's value and signed relative error (columns
    ``pred_<i>``, ``err_<i>``; ``inf`` where the measured mean is 0)."""
    raw = sub[sub["quantity"] == "lambda_min_KN"]
    # round-off zeros (<= 1e-9 of lambda_min(K); real values here are >= 1e-4 of it) count as exact zeros
    lam_K = sub.loc[sub["quantity"] == "lambda_min_K", "value"]
    zero_tol = 1e-9 * float(lam_K.abs().max()) if len(lam_K) else 0.0
    kn = plots.mean_se(raw.assign(value=np.where(raw["value"] <= zero_tol, 0.0, raw["value"])), ["N", "ratio"])
    kn = kn[kn["ratio"] > 1.0].reset_index(drop=True)
    dead = sub[sub["quantity"] == "dead_rows"]
    dead_seeds = dead[dead["value"] > 0].groupby("N").size() if len(dead) else pd.Series(dtype=int)
    kn["dead_seeds"] = [int(dead_seeds.get(N, 0)) for N in kn["N"]]
    rf = plots.mean_se(sub[sub["quantity"] == "rf_edge"], ["N"])
    for i, (_, quantity) in enumerate(PREDICTORS):
        if quantity is None:
            pred = kn["N"].map(dict(zip(rf["N"], rf["mean"]))).to_numpy(dtype=float)
        else:
            th = plots.select(theory, quantity=quantity, activation=act, d=d)
            pred = kn["N"].map(dict(zip(th["N"], th["value"]))).to_numpy(dtype=float) if len(th) else np.full(len(kn), np.nan)
        kn[f"pred_{i}"] = pred
        meas = kn["mean"].to_numpy()
        with np.errstate(divide="ignore", invalid="ignore"):
            kn[f"err_{i}"] = np.where(meas > 0, (pred - meas) / np.where(meas > 0, meas, 1.0), np.inf)
    return kn


def _predictor_rows(sub: pd.DataFrame, theory: pd.DataFrame, act: str, d: int, n: int, setting: str) -> list[dict]:
    kn = predictor_errors(sub, theory, act, d)
    rows = []

    def row(label: str, part: pd.DataFrame, i: int, note: str) -> None:
        ok = np.isfinite(part[f"err_{i}"].to_numpy())
        if not ok.any():
            return
        err = part[f"err_{i}"].to_numpy()[ok]
        worst = int(np.argmax(np.abs(err)))
        rows.append({"prediction": label, "setting": setting,
                     "predicted": float(part[f"pred_{i}"].to_numpy()[ok].mean()),
                     "measured": float(part["mean"].to_numpy()[ok].mean()),
                     "relative_error": float(np.mean(np.abs(err))),
                     "note": f"{note}; worst {err[worst]:+.0%} at Nd/n={part['ratio'].to_numpy()[ok][worst]:.3g}"})

    far = kn[kn["ratio"] >= 2.0]
    for i, (label, _) in enumerate(PREDICTORS):
        row(f"lambda_min(K_N): {label} (mean over Nd/n >= 2)", far, i, f"{len(far)} widths")
    near = kn[(kn["ratio"] < 2.0) & (kn["dead_seeds"] == 0)]
    row("lambda_min(K_N): K_N-law edge from (d, n, N) (1 < Nd/n < 2)", near, 0,
        f"{len(near)} width(s) without dead rows")
    for _, r in kn[kn["dead_seeds"] > 0].iterrows():
        for i, (label, _) in enumerate(PREDICTORS):
            if np.isfinite(r[f"pred_{i}"]):
                rows.append(agreement_row(
                    f"lambda_min(K_N) at a dead-row width: {label}", f"{setting}, Nd/n={r['ratio']:.3g}",
                    float(r[f"pred_{i}"]), float(r["mean"]),
                    f"{int(r['dead_seeds'])} of {int(r['count'])} seeds have a zero row of K_N (every unit inactive on a "
                    "sample), so lambda_min(K_N) = 0 there; no predictor models dead rows"
                    + ("; measured mean 0: relative error infinite" if r["mean"] == 0 else "")))
    return rows


def agreement(table: pd.DataFrame, theory: pd.DataFrame, config: Config) -> list[dict]:
    """Measured relative errors: edge vs ``lambda_min(K)``, ``K_N`` vs ``K`` at the widest
    grid point; the three predictions of ``lambda_min(K_N)`` (``K_N``-law edge, random-features
    edge from spec(K), MP conjecture) for ``N d >= 2 n``, the ``K_N``-law edge for
    ``1 < N d / n < 2``, and all three at the widths where some seed has dead rows; the
    min-norm training error against ``1 - N d / n`` below the threshold."""
    rows = []
    for act in config.activations:
        for d in config.dims:
            sub = plots.select(table, activation=act, d=d)
            if sub.empty:
                continue
            setting = f"{act}, d={d}, n={config.n}"
            lam_K = float(sub.loc[sub["quantity"] == "lambda_min_K", "value"].mean())
            edge = _theory_value(theory, "lambda_min_edge", act, d)
            rows.append(agreement_row("lambda_min(K): Gaussian-equivalent edge", setting, edge, lam_K))
            gamma = _theory_value(theory, "gamma_above", act, d)
            rows.append(agreement_row("lambda_min(K) vs gamma_{>l}", setting, gamma, lam_K))
            kn = plots.mean_se(sub[sub["quantity"] == "lambda_min_KN"], ["N", "ratio"])
            top = kn.iloc[-1]
            rows.append(agreement_row(f"lambda_min(K_N) -> lambda_min(K) (Nd/n={top['ratio']:.3g})", setting,
                                      lam_K, float(top["mean"])))
            rows += _predictor_rows(sub, theory, act, d, config.n, setting)
            tr = plots.mean_se(sub[sub["quantity"] == "train_error"], ["N", "ratio"])
            below = tr[tr["ratio"] <= 0.5]
            if len(below):
                pred = 1.0 - below["ratio"].to_numpy()
                meas = below["mean"].to_numpy()
                rows.append({
                    "prediction": "min-norm train error 1 - Nd/n (Nd/n <= 1/2)", "setting": setting,
                    "predicted": float(np.mean(pred)), "measured": float(np.mean(meas)),
                    "relative_error": float(np.mean(np.abs(pred - meas) / np.abs(meas))), "note": "mean over grid points",
                })
    return rows


def plot(table: pd.DataFrame, config: Config, outdir: str | Path, theory: pd.DataFrame | None = None) -> list[Path]:
    """Figure ``phase_transition``: one row per activation; one ``lambda_min`` panel per d
    (symlog axis so exact zeros stay visible), the min-norm training error, the rank deficit."""
    if theory is None:
        theory = pd.DataFrame(theory_rows(config))
    acts, dims = config.activations, config.dims
    fig, axes = plots.new_figure(len(acts), len(dims) + 2, width=3.9, height=3.3)
    for a, act in enumerate(acts):
        for j, d in enumerate(dims):
            _lambda_panel(axes[a, j], plots.select(table, activation=act, d=d), theory, act, d, config.n)
        ax_tr, ax_rank = axes[a, len(dims)], axes[a, len(dims) + 1]
        top = 1.0
        for j, d in enumerate(dims):
            sub = plots.select(table, activation=act, d=d)
            tr = plots.mean_se(sub[sub["quantity"] == "train_error"], ["ratio"])
            plots.simulation(ax_tr, tr["ratio"], tr["mean"], tr["se"], label=f"simulation, d={d}", i=j)
            rk = plots.mean_se(sub[sub["quantity"] == "rank_deficit"], ["ratio"])
            plots.simulation(ax_rank, rk["ratio"], rk["mean"], rk["se"], label=f"d={d}", i=j)
            top = max(top, float((rk["mean"] + rk["se"]).max()) if len(rk) else 0.0)
        th = plots.select(theory, quantity="train_error_theory", activation=act, d=dims[0])
        plots.theory(ax_tr, th["ratio"], th["value"], label=r"theory $\max(0, 1 - Nd/n)$", i=6)
        ax_tr.set_xscale("log", base=2)
        ax_tr.axvline(1.0, color="0.6", lw=0.8)
        plots.finish(ax_tr, r"$Nd/n$", r"train error $\|y-\hat y\|^2/\|y\|^2$",
                     f"{act}: min-norm NT fit of random labels", loc="upper right")
        deficits = plots.select(table, activation=act, quantity="rank_deficit")["value"]
        if len(deficits) and float(deficits.abs().max()) == 0.0:
            # nothing to plot: say what was measured instead of drawing a row of zeros
            ax_rank.clear()
            ax_rank.axis("off")
            ax_rank.text(0.5, 0.5, f"{act}: rank deficit\n\n"
                         f"min(n, Nd) - rank(K_N) = 0 at all {len(deficits)} (d, N, seed) points:\n"
                         f"{act}' > 0 everywhere, so no sample has a zero row\n"
                         "of K_N (no dead rows); panel omitted",
                         ha="center", va="center", fontsize=8.5, transform=ax_rank.transAxes, wrap=True)
            continue
        ax_rank.set_xscale("log", base=2)
        ax_rank.set_yscale("symlog", linthresh=1.0)
        ax_rank.set_ylim(-0.3, top * 2.0)
        ax_rank.axvline(1.0, color="0.6", lw=0.8)
        plots.finish(ax_rank, r"$Nd/n$", r"$\min(n, Nd) - \mathrm{rank}(K_N)$",
                     f"{act}: rank deficit (dead rows)", loc="upper right")
    # one legend for the lambda_min panels: the union of their entries (dead-row rings appear in some only)
    handles: dict[str, object] = {}
    for a in range(len(acts)):
        for j in range(len(dims)):
            for h, lab in zip(*axes[a, j].get_legend_handles_labels()):
                handles.setdefault(lab, h)
    if handles:
        fig.legend(list(handles.values()), list(handles.keys()), loc="outside lower center", ncol=3, fontsize=8,
                   frameon=False)
    plots.caption(fig, f"Interpolation threshold Nd = n (grey line); n = {config.n}; markers: simulation "
                       f"(mean $\\pm$ s.e. over {config.repeats} seeds); lines: theory / references; "
                       "x at 0: single seeds where $\\lambda_{\\min}(K_N) = 0$ numerically (symlog axis)")
    return plots.save_figure(fig, outdir, NAME)


def _lambda_panel(ax, sub: pd.DataFrame, theory: pd.DataFrame, act: str, d: int, n: int) -> None:
    kn = sub[sub["quantity"] == "lambda_min_KN"]
    gamma = _theory_value(theory, "gamma_above", act, d)
    edge = _theory_value(theory, "lambda_min_edge", act, d)
    lam_K = float(sub.loc[sub["quantity"] == "lambda_min_K", "value"].mean())
    scale = max(gamma, lam_K) if np.isfinite(gamma) else lam_K
    # an eigenvalue at the round-off level (|value| <= 1e-9 of the scale, while the
    # smallest nonzero values here are >= 1e-4 of it) is an exact zero: plotted at 0
    zero_tol = 1e-9 * scale
    clipped = kn.assign(value=np.where(kn["value"] <= zero_tol, 0.0, kn["value"]))
    agg = plots.mean_se(clipped, ["ratio"])
    plots.simulation(ax, agg["ratio"], agg["mean"], agg["se"], label=r"$\lambda_{\min}(K_N)$ simulation", i=0)
    zeros = clipped[clipped["value"] == 0.0]
    ax.plot(zeros["ratio"], zeros["value"], "x", color=plots.color(1), ms=8, mew=1.6, zorder=5,
            label=r"$\lambda_{\min}(K_N)=0$, single seeds")
    plots.hline(ax, lam_K, label=r"$\lambda_{\min}(K)$ simulation", i=2, style="-.")
    if np.isfinite(edge):
        plots.hline(ax, edge, label=r"$\lambda_{\min}(K)$ theory (Gaussian-equiv. edge)", i=4, style="-")
    if np.isfinite(gamma):
        plots.hline(ax, gamma, label=r"$\gamma_{>\ell}$ (self-induced ridge)", i=6, style="--")
    mp = plots.select(theory, quantity="mp_conjecture", activation=act, d=d)
    if len(mp):
        plots.theory(ax, mp["ratio"], mp["value"], label=r"conjecture: MP $\gamma_{>\ell}(1-\sqrt{n/Nd})^2$",
                     i=3, style=":")
    rf = plots.mean_se(sub[(sub["quantity"] == "rf_edge") & (sub["ratio"] > 1.0)], ["ratio"])
    if len(rf):
        plots.theory(ax, rf["ratio"], rf["mean"], label=r"RF edge from spec$(K)$, $p = Nd$ (semi-empirical)",
                     i=5, style="--")
    law = plots.select(theory, quantity="nt_law_edge", activation=act, d=d)
    if len(law):
        plots.theory(ax, law["ratio"], law["value"],
                     label=r"theory: edge of law($K$) $\boxtimes$ MP$(n/Nd)$, from $(d, n, N)$ alone", i=7,
                     color="0.15", lw=1.3)
    errs = predictor_errors(sub, theory, act, d)
    dead = errs[errs["dead_seeds"] > 0]
    if len(dead):
        ax.plot(dead["ratio"], np.maximum(dead["mean"], 0.0), "o", ms=13, mfc="none", mec=plots.color(1), mew=1.4,
                zorder=6, label="mean over seeds incl. dead rows (zero rows of $K_N$): no predictor models them")
    notes = []
    far = errs[errs["ratio"] >= 2.0]
    short = ("$K_N$ law", "RF edge", "MP conj.")
    if len(far):
        notes.append("|error|, Nd/n $\\geq$ 2: mean / max")
        for i, name in enumerate(short):
            e = np.abs(far[f"err_{i}"].to_numpy())
            e = e[np.isfinite(e)]
            if len(e):
                notes.append(f"{name}: {np.mean(e):.0%} / {np.max(e):.0%}")
    for _, r in dead.iterrows():
        notes.append(f"Nd/n={r['ratio']:.2g}: dead rows, {int(r['dead_seeds'])}/{int(r['count'])} seeds")
        preds = np.array([r[f"pred_{i}"] for i in range(len(short))], dtype=float)
        errs_i = np.array([r[f"err_{i}"] for i in range(len(short))], dtype=float)
        if r["mean"] > 0:
            notes.append(f"errors {np.nanmin(errs_i):+.0%} to {np.nanmax(errs_i):+.0%} (all 3)")
        else:
            notes.append(f"meas. 0; pred. {np.nanmin(preds):.1e}-{np.nanmax(preds):.1e}")
    if notes:
        # lower right: below the curves (lambda_min(K_N) is near its limit there), right of the zeros
        plots.corner_text(ax, "\n".join(notes), "lower right")
    ax.set_xscale("log", base=2)
    linthresh = max(1e-3 * scale, 1e-12)
    ax.set_yscale("symlog", linthresh=linthresh, linscale=0.5)
    ax.set_ylim(-1e-4 * scale, 2.0 * scale)
    # ticks: 0 and the decades at or above linthresh (a decade inside the linear part would sit on top of "0")
    decades = 10.0 ** np.arange(np.ceil(np.log10(linthresh)), np.floor(np.log10(2.0 * scale)) + 1)
    ax.set_yticks([0.0, *decades])
    ax.axvline(1.0, color="0.6", lw=0.8)
    plots.finish(ax, r"$Nd/n$ (parameters / samples)", r"$\lambda_{\min}$", f"{act}, d = {d}, n = {n}", legend=False)
