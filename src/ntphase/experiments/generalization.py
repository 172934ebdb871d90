"""Experiment 4: generalization of NT, kernel and polynomial ridge regression against ``n``.

docs/theory.md, section 5 (Montanari & Zhong 2022, Theorem 2): for ``N d >> n``,
``R_NT(lambda) ~ R_KRR(lambda) ~ R_PRR(lambda + gamma_{>l})``, and the risk tends to
``||P_{>l} f*||^2``: a staircase in ``n`` that drops each time ``n`` fills the next
degree's harmonic space (``n ~ d, d^2, ...``). The minimum-norm interpolator
(``lambda = 0``) generalizes because ``gamma_{>l} > 0`` acts as a ridge. Section 6:
``theory.krr_risk`` is the finite-``n`` deterministic equivalent.

Degrees the kernel cannot learn stay in the error for every ``n``: ReLU has
``xi_{d,k} = 0`` for odd ``k >= 3`` and tanh for even ``k``; a target energy placed in
such a degree is a floor (the default config puts some in degree 3 for ReLU to
show it).

One task = one ``(activation, n, repeat)``: fit NT ridge (width ``N = ratio n / d``),
KRR (infinite-width ``K``) and PRR (``K_{<=l}`` with ridge ``lambda + gamma_{>l}``) on
the same sample and evaluate each on fresh points against the noiseless target,
with the Monte-Carlo standard error (``ridge.split_test_error``: the energy in
degrees the fit provably lacks is added exactly, docs/theory.md, section 7).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Final, Literal

import numpy as np
import pandas as pd
from pydantic import Field

from ntphase.conventions import XI_ZERO_RTOL
from ntphase.data import HarmonicTarget, sample_sphere, sample_weights
from ntphase.experiments import plots
from ntphase.experiments.config import (
    MAX_WIDTH_RATIO,
    ActivationNames,
    ExperimentConfig,
    SampleSizes,
    TargetCoefficients,
    WeightDistribution,
)
from ntphase.experiments.double_descent import energies
from ntphase.kernels import infinite_kernel, nt_kernel, truncated_kernel
from ntphase.learning import split_test_error
from ntphase.linalg import ridge_path
from ntphase.sphere import gamma_above, level, sphere_spectrum
from ntphase.theory import asymptotic_risk, krr_risk, nt_ridge_risk, prr_risk

NAME: Final = "generalization"
MODELS = ("NT", "KRR", "PRR")


class Config(ExperimentConfig):
    """Test error against ``n`` for NT (large width), KRR and PRR.

    Attributes
    ----------
    activations : list of str
    d : int
    n_values : list of int
        Increasing sample sizes (log grid crossing ``d`` and ``d^2``).
    n_test : int
    width_ratio : float
        ``N d / n`` of the NT model (large: the NT model is near its KRR limit).
    ridge : float
        ``lambda >= 0`` (0: minimum-norm interpolation, the paper's main case).
    target : dict of int -> float
        Degree -> coefficient ``c_k`` (energy ``c_k^2``).
    noise : float
    """

    experiment: Literal["generalization"] = NAME
    activations: ActivationNames = Field(default_factory=lambda: ["relu"])
    d: int = Field(20, ge=2)
    n_values: SampleSizes = Field(default_factory=lambda: [8, 16, 32, 64, 128, 256, 512, 1024, 2048])
    n_test: int = Field(5000, ge=10)
    width_ratio: float = Field(8.0, gt=0, le=MAX_WIDTH_RATIO)
    ridge: float = Field(0.0, ge=0)
    target: TargetCoefficients = Field(default_factory=lambda: {1: 1.0, 2: 0.8, 3: 0.35})
    noise: float = Field(0.0, ge=0)
    repeats: int = Field(5, ge=1, le=10_000, description="independent seeds per n")
    weights: WeightDistribution = "gaussian"


def tasks(config: Config) -> list[dict]:
    """One task per (activation, n, repeat)."""
    return [
        {
            "activation": act, "d": config.d, "n": n, "n_test": config.n_test,
            "N": max(1, int(round(config.width_ratio * n / config.d))), "ridge": config.ridge,
            "target": {str(k): v for k, v in config.target.items()}, "noise": config.noise,
            "weights": config.weights, "repeat": r,
        }
        for act in config.activations
        for n in config.n_values
        for r in range(config.repeats)
    ]


def absent_degrees(activation: str, d: int, kmax: int) -> set[int]:
    """Degrees ``k <= kmax`` the kernel cannot learn: ``B(d,k) xi_{d,k} <= XI_ZERO_RTOL * H(1)``
    (``theory.XI_ZERO_RTOL``; e.g. ReLU's odd ``k >= 3``, tanh's even ``k``)."""
    spec = sphere_spectrum(activation, d, kmax)
    weights = np.asarray(spec.multiplicity) * np.asarray(spec.xi)
    return {k for k in range(kmax + 1) if abs(weights[k]) <= XI_ZERO_RTOL * abs(spec.H1)}


def run_task(params: dict, seed: int) -> list[dict]:
    """Fit NT, KRR and PRR on one sample; test error of each."""
    act, d, n, n_test, N = (params["activation"], int(params["d"]), int(params["n"]), int(params["n_test"]),
                            int(params["N"]))
    lam = float(params["ridge"])
    coefs = {int(k): float(v) for k, v in params["target"].items()}
    rng = np.random.default_rng(seed)
    X = sample_sphere(n, d, rng)
    X_test = sample_sphere(n_test, d, rng)
    W = sample_weights(N, d, rng, distribution=params.get("weights", "gaussian"))
    target = HarmonicTarget(d, coefs, rng=rng)
    y = target(X) + float(params["noise"]) * rng.standard_normal(n)
    lev = level(n, d, act)
    gamma = float(gamma_above(act, d, lev))
    # Degrees of the target no fit here can contain, whose energy is added exactly
    # (ridge.split_test_error, docs/theory.md, section 7): xi_{d,k} = 0 for K, and then also
    # for every NT feature map (K = E_w K_N is PSD, so B xi_k = E_w sum_j ||P_k phi_j||^2 = 0
    # forces P_k phi_j = 0 almost surely); PRR has in addition nothing above its level.
    absent = absent_degrees(act, d, max(coefs))
    models = {
        "NT": (nt_kernel(X, W, act), nt_kernel(X_test, W, act, X2=X), lam, absent),
        "KRR": (infinite_kernel(X, act), infinite_kernel(X_test, act, X2=X), lam, absent),
        "PRR": (truncated_kernel(X, act, lev), truncated_kernel(X_test, act, lev, X2=X), lam + gamma,
                absent | {k for k in coefs if k > lev}),
    }
    rows = []
    for model, (K, K_test, ridge, exact) in models.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            path = ridge_path(K, y, [ridge], K_test=K_test)
        assert path.predictions_test is not None  # K_test was given
        err, se = split_test_error(path.predictions_test[0], target, X_test, sorted(exact))
        extra = {"model": model, "level": lev, "fit_ridge": ridge}
        rows.append({"quantity": "test_error", "value": float(err), **extra})
        rows.append({"quantity": "test_error_se", "value": float(se), **extra})
        rows.append({"quantity": "train_error", "value": float(path.train_error[0]), **extra})
    rows.append({"quantity": "gamma_above", "value": gamma, "model": "theory", "level": lev, "fit_ridge": lam})
    return rows


def theory_rows(config: Config) -> list[dict]:
    """Asymptotic staircase ``||P_{>l(n)} f*||^2``, the KRR and NT deterministic equivalents,
    on a fine ``n`` grid."""
    e = energies(config.target)
    grid = np.unique(np.round(np.geomspace(min(config.n_values), max(config.n_values), 120)).astype(int))
    rows = []
    for act in config.activations:
        base = {"activation": act, "d": config.d, "ridge": config.ridge}
        levels = np.array([level(int(n), config.d, act) for n in grid])
        stair = np.atleast_1d(asymptotic_risk(e, levels, activation=act, d=config.d))
        krr = np.atleast_1d(krr_risk(act, config.d, grid, config.ridge, e, noise=config.noise))
        prr = np.atleast_1d(prr_risk(act, config.d, grid, config.ridge, e, noise=config.noise))
        Ns = np.maximum(1, np.round(config.width_ratio * grid / config.d)).astype(int)
        with np.errstate(all="ignore"):
            ntr = np.atleast_1d(nt_ridge_risk(act, config.d, grid, Ns, config.ridge, e, noise=config.noise))
        for n, lev, a, k, pr, N, t in zip(grid, levels, stair, krr, prr, Ns, ntr):
            rows.append({**base, "quantity": "asymptotic_risk", "n": int(n), "level": int(lev), "value": float(a)})
            rows.append({**base, "quantity": "krr_risk", "n": int(n), "value": float(k)})
            rows.append({**base, "quantity": "prr_risk", "n": int(n), "level": int(lev), "value": float(pr)})
            rows.append({**base, "quantity": "nt_ridge_risk", "n": int(n), "N": int(N), "value": float(t)})
    return rows


def agreement(table: pd.DataFrame, theory: pd.DataFrame, config: Config) -> list[dict]:
    """KRR and NT against their deterministic equivalents, PRR against KRR, and the
    asymptotic staircase at the largest ``n``."""
    e = energies(config.target)
    rows = []
    for act in config.activations:
        setting = f"{act}, d={config.d}, lambda={config.ridge:g}, tau={config.noise}"
        agg = {m: plots.mean_se(plots.select(table, quantity="test_error", model=m, activation=act), ["n"])
               for m in MODELS}
        krr = agg["KRR"]
        if len(krr):
            pred = np.atleast_1d(krr_risk(act, config.d, krr["n"].to_numpy().astype(int), config.ridge, e,
                                          noise=config.noise))
            rows.append(_summary("KRR det. equiv. vs KRR", setting, pred, krr))
        nt = agg["NT"]
        if len(nt):
            ns = nt["n"].to_numpy().astype(int)
            Ns = np.maximum(1, np.round(config.width_ratio * ns / config.d)).astype(int)
            with np.errstate(all="ignore"):
                pred = np.atleast_1d(nt_ridge_risk(act, config.d, ns, Ns, config.ridge, e, noise=config.noise))
            rows.append(_summary(f"NT RF det. equiv. vs NT (Nd/n={config.width_ratio:g})", setting, pred, nt))
        prr = agg["PRR"]
        if len(prr):
            pred = np.atleast_1d(prr_risk(act, config.d, prr["n"].to_numpy().astype(int), config.ridge, e,
                                          noise=config.noise))
            rows.append(_summary("PRR det. equiv. vs PRR(lambda+gamma_{>l})", setting, pred, prr))
        if len(krr) and len(agg["PRR"]):
            rows.append(_summary("PRR(lambda+gamma_{>l}) vs KRR (KRR measured as 'predicted')", setting,
                                 krr["mean"].to_numpy(), agg["PRR"]))
        if len(krr):
            n_max = int(krr["n"].iloc[-1])
            lev = level(n_max, config.d, act)
            p = float(np.asarray(asymptotic_risk(e, lev, activation=act, d=config.d)).item())
            m = float(krr["mean"].iloc[-1])
            rows.append({"prediction": f"asymptotic ||P_>l f*||^2 vs KRR at n={n_max} (l={lev})", "setting": setting,
                         "predicted": p, "measured": m, "relative_error": abs(p - m) / m, "note": "largest n"})
    return rows


def _summary(prediction: str, setting: str, pred: np.ndarray, meas: pd.DataFrame) -> dict:
    m = meas["mean"].to_numpy()
    rel = np.abs(pred - m) / m
    ok = np.isfinite(rel)
    worst = int(np.argmax(np.where(ok, rel, -1.0)))
    return {"prediction": prediction, "setting": setting, "predicted": float(np.mean(pred[ok])),
            "measured": float(np.mean(m[ok])), "relative_error": float(np.mean(rel[ok])),
            "note": f"mean over {int(ok.sum())} n; worst {rel[worst]:.0%} at n={int(meas['n'].iloc[worst])}"}


def plot(table: pd.DataFrame, config: Config, outdir: str | Path, theory: pd.DataFrame | None = None) -> list[Path]:
    """Figure ``generalization``: test error against ``n`` for NT, KRR and PRR with the
    staircase and the deterministic equivalents; one panel per activation."""
    if theory is None:
        theory = pd.DataFrame(theory_rows(config))
    acts = config.activations
    fig, axes = plots.new_figure(1, len(acts), width=6.0, height=4.3)
    e = energies(config.target)
    for a, act in enumerate(acts):
        ax = axes[0, a]
        labels = {"NT": fr"NT ridge ($Nd/n$={config.width_ratio:g})", "KRR": "KRR (infinite width)",
                  "PRR": r"PRR($\lambda+\gamma_{>\ell}$)"}
        for i, m in enumerate(MODELS):
            agg = plots.mean_se(plots.select(table, quantity="test_error", model=m, activation=act), ["n"])
            shift = {"NT": 0.96, "KRR": 1.0, "PRR": 1.04}[m]  # small x offsets so error bars do not overlap
            plots.simulation(ax, agg["n"] * shift, agg["mean"], agg["se"], label=labels[m], i=i, filled=(m != "PRR"))
        st = plots.select(theory, quantity="asymptotic_risk", activation=act)
        ax.step(st["n"], st["value"], where="post", color="0.2", ls="--", lw=1.4,
                label=r"asymptotic $\|P_{>\ell} f^*\|^2$")
        kr = plots.select(theory, quantity="krr_risk", activation=act)
        plots.theory(ax, kr["n"], kr["value"], label="KRR det. equiv.", i=1)
        pr = plots.select(theory, quantity="prr_risk", activation=act)
        if len(pr):
            plots.theory(ax, pr["n"], pr["value"], label="PRR det. equiv.", i=2, style="--", lw=1.0)
        ntr = plots.select(theory, quantity="nt_ridge_risk", activation=act)
        ntr = ntr[np.isfinite(ntr["value"])]
        plots.theory(ax, ntr["n"], ntr["value"], label="NT RF det. equiv.", i=0, style="-.", lw=1.1)
        unlearnable = sorted(k for k in absent_degrees(act, config.d, max(e)) if e.get(k, 0.0) > 0)
        for x, name in ((config.d, r"$n=d$"), (config.d**2, r"$n=d^2$")):
            if min(config.n_values) <= x <= max(config.n_values):
                ax.axvline(x, color="0.6", lw=0.8, ls=":")
                ax.text(x, 0.02, name, transform=ax.get_xaxis_transform(), ha="center", va="bottom", fontsize=8,
                        bbox={"fc": "white", "ec": "none", "alpha": 0.8, "pad": 1})
        ax.set_xscale("log")
        ax.set_yscale("log")
        plots.plain_log_ticks(ax, "y")  # less than two decades: 0.2, 0.5, 1, 2 rather than mixed powers
        title = f"{act}, d={config.d}, " + r"$\lambda$" + f"={config.ridge:g}, " + r"$\tau$" + f"={config.noise:g}"
        if unlearnable:
            title += f"\nenergy in degree(s) {unlearnable} is unlearnable ($\\xi_{{d,k}}=0$): floor"
        plots.finish(ax, r"sample size $n$", r"test error $\|f^*-\hat f\|^2_{L^2}$", title, loc="upper right")
    tgt = ", ".join(f"$c_{k}$={c:g}" for k, c in config.target.items())
    # two short lines: one long line is wider than a one-panel figure and runs off its left edge
    plots.caption(fig, f"target $f^*=\\sum_k c_k q_k$ with {tgt}\nmarkers: simulation (mean $\\pm$ s.e. over "
                       f"{config.repeats} seeds); lines: theory")
    return plots.save_figure(fig, outdir, NAME)
