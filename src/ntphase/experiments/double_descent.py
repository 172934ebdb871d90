"""Experiment 3: double descent of NT ridge regression in the width ``N``.

docs/theory.md, section 5: at fixed ``(n, d)`` the test error of the minimum-norm NT
interpolator blows up at the interpolation threshold ``N d = n`` (the norm of the
interpolator diverges there) and comes back down to the kernel ridge regression
(KRR, infinite width) limit for ``N d >> n``; a ridge ``lambda > 0`` tames the peak.
Section 6: the random-features deterministic equivalent with ``p = N d`` features
(``theory.nt_ridge_risk``) predicts the whole curve, and ``theory.krr_risk`` the
``N -> infinity`` limit; ``theory.nt_ridge_norm`` (the same equivalent, through the
leave-one-out and GCV identities) predicts the squared norm of the solution.

One task = one repeat: sample ``X`` (n), ``X_test`` (n_test), the widest ``W``, a
:class:`~ntphase.data.HarmonicTarget` with the configured degree energies, and
noisy labels; then one pass over the widths (``operators.width_path``: ``K_N`` for
every ``N`` from nested neuron blocks) and one eigendecomposition per width for
all ridges (``ridge.ridge_path``). Test error is measured against the noiseless
target on the fresh points, with its standard error.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Final, Literal

import numpy as np
import pandas as pd
from pydantic import Field

from ntphase.data import HarmonicTarget, sample_sphere, sample_weights
from ntphase.experiments import plots
from ntphase.experiments.config import (
    ActivationName,
    ExperimentConfig,
    Ridges,
    TargetCoefficients,
    WeightDistribution,
    WidthRatios,
)
from ntphase.kernels import infinite_kernel, width_path
from ntphase.learning import test_error
from ntphase.linalg import ridge_path
from ntphase.theory import krr_risk, nt_ridge_norm, nt_ridge_risk

NAME: Final = "double_descent"

DEFAULT_RATIOS = [float(2.0 ** (k / 4)) for k in range(-12, 17)]  # 1/8 .. 16, includes 1


class Config(ExperimentConfig):
    """Test error of NT ridge against the width at fixed ``(n, d)``.

    Attributes
    ----------
    activation : str
    d, n, n_test : int
    ratios : list of float
        ``N d / n`` grid (increasing); widths ``N = max(1, round(ratio n / d))``.
    ridges : list of float
        Ridge values ``lambda >= 0`` (kernel units; 0 = minimum-norm interpolator).
    target : dict of int -> float
        Degree ``k`` -> coefficient ``c_k`` of ``f* = sum_k c_k q_k`` (``||P_k f*||^2 = c_k^2``).
    noise : float
        Label noise standard deviation ``tau >= 0``.
    """

    experiment: Literal["double_descent"] = NAME
    activation: ActivationName = "relu"
    d: int = Field(20, ge=2)
    n: int = Field(400, ge=2, le=100_000)
    n_test: int = Field(4000, ge=10)
    ratios: WidthRatios = Field(default_factory=lambda: list(DEFAULT_RATIOS))
    ridges: Ridges = Field(default_factory=lambda: [0.0, 1e-2, 5e-2, 2e-1])
    target: TargetCoefficients = Field(default_factory=lambda: {1: 1.0, 2: 0.6})
    noise: float = Field(0.3, ge=0)
    repeats: int = Field(10, ge=1, le=10_000, description="independent seeds")
    weights: WeightDistribution = "gaussian"

    @property
    def widths(self) -> list[int]:
        return sorted({max(1, int(round(r * self.n / self.d))) for r in self.ratios})


def energies(target: dict[int, float]) -> dict[int, float]:
    """Degree energies ``||P_k f*||^2 = c_k^2`` (docs/theory.md, section 7)."""
    return {int(k): float(c) ** 2 for k, c in target.items()}


def tasks(config: Config) -> list[dict]:
    """One task per repeat; each covers every width and ridge."""
    return [
        {
            "activation": config.activation, "d": config.d, "n": config.n, "n_test": config.n_test,
            "widths": list(config.widths), "ridges": list(config.ridges),
            "target": {str(k): v for k, v in config.target.items()}, "noise": config.noise,
            "weights": config.weights, "repeat": r,
        }
        for r in range(config.repeats)
    ]


def _target_coefficients(params: dict) -> dict[int, float]:
    return {int(k): float(v) for k, v in params["target"].items()}


def evaluate_path(K, y, lambdas, K_test, y_test) -> list[dict]:
    """Ridge path from one eigendecomposition; test error (mean, s.e.), train error, norm."""
    with warnings.catch_warnings():
        # lambda = 0 below / at the threshold is the pseudo-inverse fit: expected here
        warnings.simplefilter("ignore")
        path = ridge_path(K, y, lambdas, K_test=K_test)
    assert path.predictions_test is not None  # K_test was given
    out = []
    for j, lam in enumerate(lambdas):
        err, se = test_error(path.predictions_test[j], y_test)
        out.append({"ridge": float(lam), "test_error": float(err), "test_error_se": float(se),
                    "train_error": float(path.train_error[j]), "norm": float(path.norm[j])})
    return out


def run_task(params: dict, seed: int) -> list[dict]:
    """NT ridge over all widths (one kernel pass) and ridges, and the KRR limit."""
    act, d, n, n_test = params["activation"], int(params["d"]), int(params["n"]), int(params["n_test"])
    widths = [int(N) for N in params["widths"]]
    lambdas = [float(v) for v in params["ridges"]]
    rng = np.random.default_rng(seed)
    X = sample_sphere(n, d, rng)
    X_test = sample_sphere(n_test, d, rng)
    W = sample_weights(max(widths), d, rng, distribution=params.get("weights", "gaussian"))
    target = HarmonicTarget(d, _target_coefficients(params), rng=rng)
    y = target(X) + float(params["noise"]) * rng.standard_normal(n)
    y_test = target(X_test)
    rows = []
    train_path = width_path(X, W, act, widths)
    test_path = width_path(X_test, W, act, widths, X2=X)
    for (N, K), (N2, K_test) in zip(train_path, test_path):
        assert N == N2, "width_path yields widths in the same order"
        for r in evaluate_path(K, y, lambdas, K_test, y_test):
            lam = r.pop("ridge")
            for q, v in r.items():
                rows.append({"quantity": q, "value": v, "model": "NT", "N": int(N), "ratio": N * d / n, "ridge": lam})
    K = infinite_kernel(X, act)
    K_test = infinite_kernel(X_test, act, X2=X)
    for r in evaluate_path(K, y, lambdas, K_test, y_test):
        lam = r.pop("ridge")
        for q, v in r.items():
            rows.append({"quantity": q, "value": v, "model": "KRR", "N": -1, "ratio": float("inf"), "ridge": lam})
    return rows


def theory_rows(config: Config) -> list[dict]:
    """Random-features deterministic equivalents of the test error and of the squared norm on a
    fine width grid, and the KRR limit of the test error, per ridge."""
    e = energies(config.target)
    base = {"activation": config.activation, "d": config.d, "n": config.n}
    # integer widths on a fine log grid (the theory is a function of p = N d)
    Ns = np.unique(np.round(np.geomspace(min(config.ratios), max(config.ratios), 200) * config.n / config.d))
    Ns = Ns[Ns >= 1].astype(int)
    rows = []
    for lam in config.ridges:
        krr = float(np.asarray(krr_risk(config.activation, config.d, config.n, lam, e, noise=config.noise)).item())
        rows.append({**base, "quantity": "krr_risk", "value": krr, "ridge": lam})
        with np.errstate(all="ignore"):
            vals = np.atleast_1d(nt_ridge_risk(config.activation, config.d, config.n, Ns, lam, e, noise=config.noise))
        rows += [{**base, "quantity": "nt_ridge_risk", "value": float(v), "ridge": lam, "N": int(N),
                  "ratio": float(N * config.d / config.n)} for N, v in zip(Ns, vals)]
        with np.errstate(all="ignore"):
            norms = np.atleast_1d(nt_ridge_norm(config.activation, config.d, config.n, Ns, lam, e, noise=config.noise))
        rows += [{**base, "quantity": "nt_ridge_norm", "value": float(v), "ridge": lam, "N": int(N),
                  "ratio": float(N * config.d / config.n)} for N, v in zip(Ns, norms)]
    return rows


def _error_note(rel: np.ndarray, pred: np.ndarray, ratio: np.ndarray) -> str:
    """Mean signed error below and above the threshold, and the worst point."""
    parts = []
    for name, sel in (("below Nd=n", ratio < 1.0), ("above", ratio > 1.0)):
        if sel.any():
            parts.append(f"{name}: mean {np.mean(rel[sel]):+.0%}")
    worst = int(np.argmax(np.abs(rel)))
    return "; ".join(parts) + f"; worst {rel[worst]:+.0%} at Nd/n={ratio[worst]:.3g}"


def agreement(table: pd.DataFrame, theory: pd.DataFrame, config: Config) -> list[dict]:
    """NT ridge vs the random-features deterministic equivalent (away from the
    ``lambda = 0`` peak: ``|log2(Nd/n)| >= 1``), and KRR vs its deterministic equivalent."""
    e = energies(config.target)
    setting = f"{config.activation}, d={config.d}, n={config.n}, tau={config.noise}"
    rows = []
    for lam in config.ridges:
        nt = plots.mean_se(plots.select(table, quantity="test_error", model="NT", ridge=lam), ["N", "ratio"])
        if lam == 0:
            nt = nt[np.abs(np.log2(nt["ratio"])) >= 1.0]
        if len(nt):
            with np.errstate(all="ignore"):
                pred = np.atleast_1d(nt_ridge_risk(config.activation, config.d, config.n,
                                                   nt["N"].to_numpy().astype(int), lam, e, noise=config.noise))
            signed = (pred - nt["mean"].to_numpy()) / nt["mean"].to_numpy()
            rel = np.abs(signed)
            ok = np.isfinite(rel)
            if ok.any():
                rows.append({
                    "prediction": f"NT ridge: random-features det. equiv. (lambda={lam:g}"
                                  + (", |log2 Nd/n| >= 1)" if lam == 0 else ")"),
                    "setting": setting, "predicted": float(np.mean(pred[ok])),
                    "measured": float(nt["mean"][ok].mean()), "relative_error": float(np.mean(rel[ok])),
                    "note": f"{int(ok.sum())} widths; " + _error_note(signed[ok], pred[ok], nt["ratio"].to_numpy()[ok]),
                })
        nrm = plots.mean_se(plots.select(table, quantity="norm", model="NT", ridge=lam), ["N", "ratio"])
        if lam == 0:
            nrm = nrm[np.abs(np.log2(nrm["ratio"])) >= 1.0]
        if len(nrm):
            with np.errstate(all="ignore"):
                pred = np.atleast_1d(nt_ridge_norm(config.activation, config.d, config.n,
                                                   nrm["N"].to_numpy().astype(int), lam, e, noise=config.noise))
            meas = nrm["mean"].to_numpy()
            signed = (pred - meas) / meas
            ok = np.isfinite(signed)
            if ok.any():
                rows.append({
                    "prediction": f"NT ridge squared norm: RF det. equiv. (lambda={lam:g}"
                                  + (", |log2 Nd/n| >= 1)" if lam == 0 else ")"),
                    "setting": setting, "predicted": float(np.mean(pred[ok])), "measured": float(np.mean(meas[ok])),
                    "relative_error": float(np.mean(np.abs(signed[ok]))),
                    "note": _error_note(signed[ok], pred[ok], nrm["ratio"].to_numpy()[ok]),
                })
        krr = plots.select(table, quantity="test_error", model="KRR", ridge=lam)
        th = plots.select(theory, quantity="krr_risk", ridge=lam)
        if len(krr) and len(th):
            m, p = float(krr["value"].mean()), float(th["value"].iloc[0])
            rows.append({"prediction": f"KRR det. equiv. (lambda={lam:g})", "setting": setting, "predicted": p,
                         "measured": m, "relative_error": abs(p - m) / m, "note": f"{len(krr)} seeds"})
    return rows


def _side_errors(table: pd.DataFrame, config: Config) -> list[str]:
    """Mean signed error of the RF equivalents (test error and norm) below / above ``Nd = n``,
    as ranges over the ridges (``lambda = 0``: ``|log2 Nd/n| >= 1``)."""
    e = energies(config.target)
    spans: dict[tuple[str, str], list[float]] = {}
    for lam in config.ridges:
        for quantity, fun, name in (("test_error", nt_ridge_risk, "test error"), ("norm", nt_ridge_norm, "norm")):
            meas = plots.mean_se(plots.select(table, quantity=quantity, model="NT", ridge=lam), ["N", "ratio"])
            if lam == 0:
                meas = meas[np.abs(np.log2(meas["ratio"])) >= 1.0]
            if meas.empty:
                continue
            with np.errstate(all="ignore"):
                pred = np.atleast_1d(fun(config.activation, config.d, config.n, meas["N"].to_numpy().astype(int), lam,
                                         e, noise=config.noise))
            err = (pred - meas["mean"].to_numpy()) / meas["mean"].to_numpy()
            ratio = meas["ratio"].to_numpy()
            for side, sel in (("Nd < n", ratio < 1.0), ("Nd > n", ratio > 1.0)):
                ok = sel & np.isfinite(err)
                if ok.any():
                    spans.setdefault((name, side), []).append(float(np.mean(err[ok])))
    out = []
    for (name, side), vals in spans.items():
        lo, hi = min(vals), max(vals)
        out.append(f"{name}, {side}: {lo:+.0%}" + (f" to {hi:+.0%}" if f"{hi:+.0%}" != f"{lo:+.0%}" else ""))
    return out


def plot(table: pd.DataFrame, config: Config, outdir: str | Path, theory: pd.DataFrame | None = None) -> list[Path]:
    """Figure ``double_descent``: test error and solution norm against ``N d / n``."""
    if theory is None:
        theory = pd.DataFrame(theory_rows(config))
    fig, axes = plots.new_figure(1, 2, width=5.4, height=4.0)
    ax, ax_n = axes[0, 0], axes[0, 1]
    # y range: everything but the lambda = 0 point(s) next to Nd = n, times a margin;
    # points above it are drawn at the top edge as arrows labeled with their value
    means = plots.mean_se(plots.select(table, quantity="test_error", model="NT"), ["ridge", "ratio"])
    near_peak = (means["ridge"] == 0) & (np.abs(np.log2(means["ratio"])) < 0.2)
    rest = means.loc[~near_peak, "mean"]
    ycap = 8.0 * float(rest.max()) if len(rest) else None
    for i, lam in enumerate(config.ridges):
        lab = r"$\lambda=0$ (min-norm)" if lam == 0 else fr"$\lambda={lam:g}$"
        nt = means[means["ridge"] == lam]
        shown = nt if ycap is None else nt[nt["mean"] <= ycap]
        plots.simulation(ax, shown["ratio"], shown["mean"], shown["se"], label=f"NT ridge, {lab}", i=i)
        if ycap is not None:
            for _, row in nt[nt["mean"] > ycap].iterrows():
                ax.plot([row["ratio"]], [ycap * 0.8], "^", color=plots.color(i), ms=8)
                ax.annotate(f"{row['mean']:.2g}", (row["ratio"], ycap * 0.8), textcoords="offset points",
                            xytext=(6, -3), fontsize=7.5, color=plots.color(i))
        th = plots.select(theory, quantity="nt_ridge_risk", ridge=lam)
        th = th[np.isfinite(th["value"])]
        if ycap is not None:
            th = th.assign(value=np.minimum(th["value"], ycap))
        plots.theory(ax, th["ratio"], th["value"], label="RF det. equiv. (theory)" if i == 0 else None, i=i)
        krr_th = plots.select(theory, quantity="krr_risk", ridge=lam)
        if len(krr_th):
            plots.hline(ax, float(krr_th["value"].iloc[0]), label="KRR limit (det. equiv.)" if i == 0 else None,
                        i=i, style="--", lw=0.9)
        krr = plots.select(table, quantity="test_error", model="KRR", ridge=lam)
        if len(krr):
            xr = max(config.ratios) * 1.6
            plots.simulation(ax, [xr], [krr["value"].mean()], [krr["value"].std(ddof=1) / np.sqrt(len(krr))
                                                                  if len(krr) > 1 else 0.0],
                             label="KRR simulation (N = inf)" if i == 0 else None, i=i, filled=False, fmt="*", ms=9)
        nrm = plots.mean_se(plots.select(table, quantity="norm", model="NT", ridge=lam), ["ratio"])
        plots.simulation(ax_n, nrm["ratio"], nrm["mean"], nrm["se"], label=lab, i=i)
        thn = plots.select(theory, quantity="nt_ridge_norm", ridge=lam)
        thn = thn[np.isfinite(thn["value"])]
        if len(thn) and len(nrm):
            # the lambda = 0 norm diverges at Nd = n: cap the line a decade above the measured points
            thn = thn.assign(value=np.minimum(thn["value"], 10.0 * float(nrm["mean"].max())))
            plots.theory(ax_n, thn["ratio"], thn["value"], label="RF det. equiv. (theory)" if i == 0 else None, i=i)
    notes = _side_errors(table, config)
    if notes:
        # room below the norms (two and a half decades) for the note
        low = plots.select(table, quantity="norm", model="NT")["value"]
        if len(low) and float(low.min()) > 0:
            ax_n.set_ylim(bottom=float(low.min()) / 300.0)
        plots.corner_text(ax_n, "RF det. equiv. vs simulation: mean signed error\nover widths (range over the ridges):\n"
                          + "\n".join(notes), "lower right")
    for a in (ax, ax_n):
        a.set_xscale("log", base=2)
        a.set_yscale("log")
        a.axvline(1.0, color="0.6", lw=0.8)
    if ycap is not None:
        ax.set_ylim(top=ycap)
    plots.finish(ax, r"$Nd/n$ (parameters / samples)", r"test error $\|f^*-\hat f\|^2_{L^2}$",
                 f"{config.activation}, d={config.d}, n={config.n}, " + fr"$\tau$={config.noise}", loc="upper right")
    plots.finish(ax_n, r"$Nd/n$", r"$\|\hat a\|_2^2 = \alpha^\top K_N \alpha$ (squared norm)", "solution norm",
                 loc="upper right")
    plots.caption(fig, f"markers: simulation (mean $\\pm$ s.e. over {config.repeats} seeds; all widths of a seed share "
                       "its data, target and nested weights, so seed noise moves whole curves);\nlines: theory; "
                       "stars at right: KRR (infinite width) simulation; arrows: off-scale means (value shown)")
    return plots.save_figure(fig, outdir, NAME)
