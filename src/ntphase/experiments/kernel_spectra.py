"""Experiment 2: the spectrum of ``K_N`` and ``K``: spikes per harmonic degree plus a bulk.

docs/theory.md, section 3: in the polynomial regime
``K ~ sum_{k<=l} xi_{d,k} Y_k Y_k^T + gamma_{>l} I``, so the spectrum has, for each
degree ``k <= l`` with ``xi_{d,k} > 0``, a group of about ``B(d,k)`` eigenvalues near
``n xi_{d,k} + gamma_{>l}`` and a bulk of the remaining eigenvalues with mean
``gamma_{>l}`` (the self-induced ridge). For ``N d >> n``, ``K_N`` has the same
structure (section 4). Beyond the spike locations, the deterministic-equivalent laws
of ``K`` and ``K_N`` (:class:`~ntphase.theory.KernelSpectralLaw`,
:class:`~ntphase.theory.NTKernelSpectralLaw`: the law of ``K`` multiplied by
Marchenko-Pastur of ratio ``n/(Nd)``) give the whole spectrum from ``(activation, d, n, N)``:
their densities are drawn over the histograms, their quantiles ``(i - 1/2)/n`` over the
sorted eigenvalues, and the group spreads come from them.

One task = one ``(activation, d, n, N, repeat)``: all eigenvalues of ``K_N`` and of
``K`` on the same sample, and the measured groups: the eigenvalues sorted in
decreasing order are cut into consecutive groups whose sizes are the predicted
multiplicities (ordered by predicted location), the rest being the bulk; each
group's mean is recorded.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Final, Literal

import numpy as np
import pandas as pd
from pydantic import Field

from ntphase.data import sample_sphere, sample_weights
from ntphase.experiments import plots
from ntphase.experiments.agreement import agreement_row
from ntphase.experiments.config import MAX_WIDTH_RATIO, ActivationNames, ExperimentConfig, WeightDistribution
from ntphase.kernels import infinite_kernel, nt_kernel
from ntphase.linalg import eigenvalues
from ntphase.sphere import gamma_above, level
from ntphase.theory import KernelSpectralLaw, NTKernelSpectralLaw, lambda_min_edge, spike_prediction

NAME: Final = "spectrum"
#: density points per support interval of a law (Chebyshev-spaced: dense at the square-root edges)
DENSITY_POINTS = 160


class Config(ExperimentConfig):
    """Spectrum of ``K_N`` and ``K`` at one ``(d, n)`` per activation.

    Attributes
    ----------
    activations : list of str
    d : int
        Input dimension (>= 2).
    n : int
        Sample size (>= 2).
    width_ratio : float
        ``N d / n`` for ``K_N`` (> 0); ``N = max(1, round(width_ratio * n / d))``.
    bins : int
        Histogram bins (log-spaced), >= 5.
    weights : {"gaussian", "sphere"}
    """

    experiment: Literal["spectrum"] = NAME
    activations: ActivationNames = Field(default_factory=lambda: ["relu", "tanh"])
    d: int = Field(30, ge=2)
    n: int = Field(1000, ge=2, le=100_000)
    width_ratio: float = Field(16.0, gt=0, le=MAX_WIDTH_RATIO)
    bins: int = Field(60, ge=5, le=1000)
    repeats: int = Field(3, ge=1, le=10_000, description="independent seeds")
    weights: WeightDistribution = "gaussian"

    @property
    def width(self) -> int:
        return max(1, int(round(self.width_ratio * self.n / self.d)))


def tasks(config: Config) -> list[dict]:
    """One task per (activation, repeat)."""
    return [
        {"activation": act, "d": config.d, "n": config.n, "N": config.width, "weights": config.weights, "repeat": r}
        for act in config.activations
        for r in range(config.repeats)
    ]


def predicted_groups(activation: str, d: int, n: int) -> list[dict]:
    """``theory.spike_prediction`` as a list of ``{"group", "degree", "count", "location",
    "spread_low", "spread_high"}``, spikes first in decreasing location, the bulk last
    (cached per process: the tasks of one setting share it)."""
    return [dict(g) for g in _predicted_groups(activation, d, n)]


@lru_cache(maxsize=16)
def _predicted_groups(activation: str, d: int, n: int) -> tuple[dict, ...]:
    groups: list[dict[str, Any]] = []
    for g in spike_prediction(activation, d, n):
        degree = g.get("degree")
        is_bulk = g.get("kind") == "bulk" or degree is None or degree == "bulk"
        groups.append({
            "group": "bulk" if is_bulk else f"k={int(g['degree'])}",
            "degree": -1 if is_bulk else int(g["degree"]),
            "count": int(round(g["count"])),
            "location": float(g["location"]),
            "spread_low": float(g.get("spread_low", g["location"])),
            "spread_high": float(g.get("spread_high", g["location"])),
        })
    spikes = sorted([g for g in groups if g["group"] != "bulk"], key=lambda g: -g["location"])
    return tuple(spikes + [g for g in groups if g["group"] == "bulk"])


def law_rows(law: Any, base: dict, label: str) -> list[dict]:
    """Theory rows of one spectral law: ``density_<label>`` on Chebyshev points of each support
    interval (column ``x``), ``predicted_eigenvalue_<label>`` (quantile ``(i - 1/2)/n`` of rank
    ``i``, column ``index`` from 0, ascending) and ``law_edge_<label>`` (the smallest point of the law)."""
    rows = []
    t = 0.5 * (1.0 - np.cos(np.linspace(0.0, np.pi, DENSITY_POINTS)))
    for a, b in law.intervals:
        x = a + (b - a) * t
        rows += [{**base, "quantity": f"density_{label}", "x": float(xi), "value": float(v)}
                 for xi, v in zip(x, law.density(x))]
    rows += [{**base, "quantity": f"atom_{label}", "x": float(loc), "value": float(m)} for loc, m in law.atoms]
    rows += [{**base, "quantity": f"predicted_eigenvalue_{label}", "index": i, "value": float(v)}
             for i, v in enumerate(law.predicted_eigenvalues())]
    rows.append({**base, "quantity": f"law_edge_{label}", "value": float(law.lambda_min)})
    return rows


def measured_groups(eigs: np.ndarray, groups: list[dict]) -> list[dict]:
    """Cut the decreasing eigenvalues into the predicted group sizes; mean of each group.

    The spikes take the largest eigenvalues in order of decreasing predicted
    location; everything left is the bulk.
    """
    desc = np.sort(eigs)[::-1]
    out, start = [], 0
    for g in groups:
        if g["group"] == "bulk":
            part = desc[start:]
        else:
            part = desc[start : start + g["count"]]
            start += g["count"]
        if len(part):
            out.append({"group": g["group"], "degree": g["degree"], "mean": float(np.mean(part)),
                        "min": float(np.min(part)), "max": float(np.max(part)), "count": len(part)})
    return out


def run_task(params: dict, seed: int) -> list[dict]:
    """All eigenvalues of ``K_N`` and ``K`` and the measured group means."""
    act, d, n, N = params["activation"], int(params["d"]), int(params["n"]), int(params["N"])
    rng = np.random.default_rng(seed)
    X = sample_sphere(n, d, rng)
    W = sample_weights(N, d, rng, distribution=params.get("weights", "gaussian"))
    groups = predicted_groups(act, d, n)
    rows = []
    for label, K in (("KN", nt_kernel(X, W, act)), ("K", infinite_kernel(X, act))):
        eigs = eigenvalues(K)
        rows += [{"quantity": f"eigenvalue_{label}", "value": float(v), "index": i} for i, v in enumerate(eigs)]
        for g in measured_groups(eigs, groups):
            rows.append({"quantity": f"group_mean_{label}", "value": g["mean"], "group": g["group"],
                         "degree": g["degree"], "count": g["count"]})
    return rows


def theory_rows(config: Config) -> list[dict]:
    """Predicted spike groups (location, multiplicity, spread from the law of ``K``), the bulk,
    ``gamma_{>l}``, the Gaussian-equivalent edge, and the laws of ``K`` and ``K_N``
    (:func:`law_rows`: densities, predicted sorted eigenvalues, smallest points)."""
    rows = []
    for act in config.activations:
        base = {"activation": act, "d": config.d, "n": config.n}
        for g in predicted_groups(act, config.d, config.n):
            rows.append({**base, "quantity": "group_location", "value": g["location"], "group": g["group"],
                         "degree": g["degree"], "count": g["count"], "spread_low": g["spread_low"],
                         "spread_high": g["spread_high"]})
        lev = level(config.n, config.d, act)
        rows.append({**base, "quantity": "gamma_above", "value": float(gamma_above(act, config.d, lev)), "level": lev})
        rows.append({**base, "quantity": "lambda_min_edge", "value": float(lambda_min_edge(act, config.d, config.n))})
        rows += law_rows(KernelSpectralLaw(act, config.d, config.n), base, "K")
        if config.width * config.d != config.n:
            rows += law_rows(NTKernelSpectralLaw(act, config.d, config.n, config.width), base, "KN")
    return rows


def agreement(table: pd.DataFrame, theory: pd.DataFrame, config: Config) -> list[dict]:
    """Group means (spikes and bulk) of ``K_N`` and ``K`` against their predicted locations,
    the sorted eigenvalues against the laws' quantiles, ``lambda_min(K_N)`` against the
    ``K_N`` law's edge and ``lambda_min(K)`` against the Gaussian-equivalent edge."""
    rows = []
    for act in config.activations:
        setting = f"{act}, d={config.d}, n={config.n}, Nd/n={config.width * config.d / config.n:.3g}"
        pred = plots.select(theory, quantity="group_location", activation=act)
        for label in ("KN", "K"):
            meas = plots.mean_se(plots.select(table, quantity=f"group_mean_{label}", activation=act), ["group"])
            for _, p in pred.iterrows():
                m = meas[meas["group"] == p["group"]]
                if m.empty:
                    continue
                what = "bulk mean vs gamma_{>l}" if p["group"] == "bulk" else f"spike {p['group']} (x{int(p['count'])}) location"
                rows.append(agreement_row(f"{what}, {'K_N' if label == 'KN' else 'K'}", setting,
                                          float(p["value"]), float(m["mean"].iloc[0])))
        for label, name in (("KN", "K_N"), ("K", "K")):
            pred = plots.select(theory, quantity=f"predicted_eigenvalue_{label}", activation=act).sort_values("index")
            meas = plots.mean_se(plots.select(table, quantity=f"eigenvalue_{label}", activation=act), ["index"])
            if len(pred) != len(meas) or meas.empty:
                continue
            p_i, m_i = pred["value"].to_numpy(), meas["mean"].to_numpy()
            ok = m_i > 0
            rel = np.abs(p_i[ok] - m_i[ok]) / m_i[ok]
            worst = int(np.argmax(rel))
            rows.append({
                "prediction": f"sorted eigenvalues of {name}: law quantiles (i - 1/2)/n (median over ranks)",
                "setting": setting, "predicted": float(np.mean(p_i)), "measured": float(np.mean(m_i)),
                "relative_error": float(np.median(rel)),
                "note": f"predicted/measured: mean eigenvalues (trace identity); 90th percentile "
                        f"{np.percentile(rel, 90):.1%}, worst {rel[worst]:.0%} at rank {int(np.nonzero(ok)[0][worst]) + 1} "
                        f"from the bottom (measured: mean over seeds of the i-th smallest)",
            })
        lam_N = plots.select(table, quantity="eigenvalue_KN", activation=act, index=0)
        edge_N = plots.select(theory, quantity="law_edge_KN", activation=act)
        if len(lam_N) and len(edge_N):
            rows.append(agreement_row("lambda_min(K_N): edge of the K_N law from (d, n, N)", setting,
                                      float(edge_N["value"].iloc[0]), float(lam_N["value"].mean())))
        lam = plots.select(table, quantity="eigenvalue_K", activation=act, index=0)
        edge = plots.select(theory, quantity="lambda_min_edge", activation=act)
        if len(lam) and len(edge):
            rows.append(agreement_row("lambda_min(K): Gaussian-equivalent edge", setting,
                                      float(edge["value"].iloc[0]), float(lam["value"].mean())))
    return rows


def plot(table: pd.DataFrame, config: Config, outdir: str | Path, theory: pd.DataFrame | None = None) -> list[Path]:
    """Figure ``spectrum``: per activation, a log-binned histogram of the eigenvalues of
    ``K_N`` and ``K`` with the laws' densities and the predicted groups (location,
    multiplicity, spread from the law of ``K``), and the sorted eigenvalues against their rank
    with the laws' predicted sorted eigenvalues."""
    if theory is None:
        theory = pd.DataFrame(theory_rows(config))
    acts = config.activations
    fig, axes = plots.new_figure(len(acts), 2, width=5.6, height=3.5)
    nrep = max(1, config.repeats)
    for a, act in enumerate(acts):
        ax_h, ax_r = axes[a, 0], axes[a, 1]
        eN = plots.select(table, quantity="eigenvalue_KN", activation=act)["value"].to_numpy()
        eK = plots.select(table, quantity="eigenvalue_K", activation=act)["value"].to_numpy()
        pred = plots.select(theory, quantity="group_location", activation=act)
        pos = np.concatenate([eN[eN > 0], eK[eK > 0], pred["value"].to_numpy()])
        if len(pos) == 0:
            continue
        bins = np.geomspace(pos.min() / 1.2, pos.max() * 1.2, config.bins + 1)
        ax_h.hist(eN[eN > 0], bins=bins, weights=np.full((eN > 0).sum(), 1.0 / nrep), histtype="stepfilled",
                  alpha=0.35, color=plots.color(0), label=fr"$K_N$ simulation ($N={config.width}$)")
        ax_h.hist(eK[eK > 0], bins=bins, weights=np.full((eK > 0).sum(), 1.0 / nrep), histtype="step", lw=1.4,
                  color=plots.color(1), label=r"$K$ simulation (infinite width)")
        ax_h.set_xscale("log")
        ax_h.set_yscale("log")
        ax_h.set_ylim(0.5 / nrep, None)
        top = ax_h.get_ylim()[1] * 8
        ax_h.set_ylim(None, top)
        first_spike = True
        for _, g in pred.iterrows():
            is_bulk = g["group"] == "bulk"
            if is_bulk:
                ax_h.axvline(g["value"], color=plots.color(6), ls="--", lw=1.2, label=r"bulk mean $\gamma_{>\ell}$")
            else:
                ax_h.axvline(g["value"], color=plots.color(2), lw=1.4,
                             label=r"spike $n\xi_{d,k}+\gamma_{>\ell}$" if first_spike else None)
                if "spread_low" in g and np.isfinite(g["spread_low"]) and g["spread_high"] > g["spread_low"]:
                    ax_h.axvspan(g["spread_low"], g["spread_high"], color=plots.color(2), alpha=0.08, lw=0,
                                 label="spread of the group (law of K)" if first_spike else None)
                first_spike = False
            txt = f"bulk\n×{int(g['count'])}" if is_bulk else f"{g['group']}\n×{int(g['count'])}"
            ax_h.text(g["value"], top * 0.7, txt, fontsize=7, ha="center", va="top",
                      bbox={"fc": "white", "ec": "none", "alpha": 0.8, "pad": 1})
        edge = plots.select(theory, quantity="lambda_min_edge", activation=act)
        if len(edge):
            ax_h.axvline(float(edge["value"].iloc[0]), color=plots.color(4), ls=":", lw=1.5,
                         label="predicted lower edge of K (Gaussian equiv.)")
        # law densities in the histogram's units: expected count per log bin = n rho(x) x log(bin ratio)
        per_bin = config.n * np.log(bins[1] / bins[0])
        for label, name, i, style in (("KN", r"$K_N$", 0, "-"), ("K", r"$K$", 1, "--")):
            dens = plots.select(theory, quantity=f"density_{label}", activation=act).sort_values("x")
            if len(dens):
                x = dens["x"].to_numpy()
                ax_h.plot(x, np.maximum(per_bin * dens["value"].to_numpy() * x, 1e-300), style, color=plots.color(i),
                          lw=1.1, alpha=0.9, label=f"law of {name} (theory, density)")
        plots.finish(ax_h, r"eigenvalue $\lambda$", "count per sample (log)",
                     f"{act}: spectrum, d={config.d}, n={config.n}, Nd/n={config.width * config.d / config.n:.3g}",
                     legend=False)
        # rank plot with the laws' predicted sorted eigenvalues
        idx = np.arange(1, config.n + 1)
        for i, (label, name) in enumerate((("KN", r"$K_N$"), ("K", r"$K$"))):
            e = plots.select(table, quantity=f"eigenvalue_{label}", activation=act)
            first = e[e["seed"] == e["seed"].iloc[0]] if "seed" in e and len(e) else e
            vals = np.sort(first["value"].to_numpy())[::-1]
            ax_r.plot(idx[: len(vals)], np.clip(vals, 1e-16, None), plots.marker(i), ms=2.2, color=plots.color(i),
                      mfc="none" if i else plots.color(i), lw=0, label=f"{name} simulation (one seed)")
        for i, (label, name) in enumerate((("KN", r"$K_N$"), ("K", r"$K$"))):
            q = plots.select(theory, quantity=f"predicted_eigenvalue_{label}", activation=act).sort_values("index")
            if len(q):
                desc = q["value"].to_numpy()[::-1]
                plots.theory(ax_r, np.arange(1, len(desc) + 1), np.clip(desc, 1e-16, None),
                             label=f"law of {name}: quantile $(i-1/2)/n$", i=i, style="-" if i == 0 else "--", lw=1.2)
        ax_r.set_xscale("log")
        ax_r.set_yscale("log")
        plots.finish(ax_r, r"rank $i$ (decreasing order)", r"eigenvalue $\lambda_i$", f"{act}: sorted eigenvalues",
                     loc="lower left")
    plots.shared_legend(fig, axes[0, 0], ncol=3)
    plots.caption(fig, "Spikes of B(d,k) eigenvalues per degree k <= l, bulk with mean "
                       r"$\gamma_{>\ell}$ (docs/theory.md, section 3); histograms / markers: simulation, lines: theory "
                       r"(laws of $K$ and $K_N$ from $(d, n, N)$ alone)")
    return plots.save_figure(fig, outdir, NAME)
