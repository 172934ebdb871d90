"""Plot helpers shared by the experiments: theory as lines, simulation as markers.

Figures are built on :class:`matplotlib.figure.Figure` with the Agg canvas, never
through ``pyplot``: no global state, no backend switch, no change to
``matplotlib.rcParams``. Every helper takes and returns explicit objects.

Conventions (so every figure reads the same way):

- simulation: markers with error bars (mean +- one standard error over seeds);
- theory: lines (solid for proven / deterministic-equivalent predictions, dashed
  for reference levels, dotted for conjectures, which are labeled "conjecture").
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

#: colour-blind safe palette (Okabe-Ito), cycled by index
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
FIGURE_DPI = 130


def color(i: int) -> str:
    """Colour number ``i`` of :data:`PALETTE` (cycled)."""
    return PALETTE[i % len(PALETTE)]


def marker(i: int) -> str:
    """Marker number ``i`` of :data:`MARKERS` (cycled)."""
    return MARKERS[i % len(MARKERS)]


def new_figure(nrows: int = 1, ncols: int = 1, width: float = 5.0, height: float = 3.8, **kwargs):
    """A ``Figure`` on an Agg canvas with an ``(nrows, ncols)`` grid of axes.

    Returns ``(fig, axes)`` with ``axes`` a 2-D object array (``squeeze=False``).
    """
    fig = Figure(figsize=(width * ncols, height * nrows), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False, **kwargs)
    return fig, axes


def save_figure(fig: Figure, outdir: str | Path, stem: str) -> list[Path]:
    """Save ``fig`` as ``outdir/stem.png`` and ``outdir/stem.pdf``; return both paths."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    paths = []
    for ext in ("png", "pdf"):
        path = outdir / f"{stem}.{ext}"
        fig.savefig(path, dpi=FIGURE_DPI)
        paths.append(path)
    return paths


def mean_se(table: pd.DataFrame, by: Sequence[str], value: str = "value") -> pd.DataFrame:
    """Mean, standard error and count of ``value`` over seeds, grouped by ``by``.

    ``se = std(ddof=1) / sqrt(count)`` (0 when a group has one row). Groups are
    sorted by ``by``. Missing values are dropped before aggregating.
    """
    by = list(by)
    data = table.dropna(subset=[value])
    grouped = data.groupby(by, sort=True, dropna=False)[value]
    out = grouped.agg(["mean", "std", "count"]).reset_index()
    out["se"] = np.where(out["count"] > 1, out["std"].fillna(0.0) / np.sqrt(out["count"]), 0.0)
    return out.drop(columns="std")


def select(table: pd.DataFrame, **equal) -> pd.DataFrame:
    """Rows of ``table`` whose columns equal the given values (missing columns match nothing)."""
    mask = np.ones(len(table), dtype=bool)
    for col, val in equal.items():
        if col not in table.columns:
            return table.iloc[0:0]
        mask &= (table[col] == val).to_numpy()
    return table[mask]


def simulation(ax: Axes, x, mean, se=None, *, label: str | None, i: int = 0, filled: bool = True, **kwargs):
    """Simulation points: markers with error bars (no connecting line)."""
    col = kwargs.pop("color", color(i))
    return ax.errorbar(
        np.asarray(x),
        np.asarray(mean),
        yerr=None if se is None else np.asarray(se),
        fmt=kwargs.pop("fmt", marker(i)),
        color=col,
        mfc=col if filled else "white",
        ms=kwargs.pop("ms", 5),
        capsize=2.5,
        lw=0,
        elinewidth=1.0,
        label=label,
        **kwargs,
    )


def theory(ax: Axes, x, y, *, label: str | None, i: int = 0, style: str = "-", **kwargs):
    """A theory curve: a line (``style`` "-" prediction, "--" reference, ":" conjecture)."""
    return ax.plot(np.asarray(x), np.asarray(y), style, color=kwargs.pop("color", color(i)), lw=kwargs.pop("lw", 1.6),
                   label=label, **kwargs)


def hline(ax: Axes, y: float, *, label: str | None, i: int = 0, style: str = "--", **kwargs):
    """A horizontal theory / reference level."""
    return ax.axhline(float(y), ls=style, color=kwargs.pop("color", color(i)), lw=kwargs.pop("lw", 1.2),
                      label=label, **kwargs)


def finish(ax: Axes, xlabel: str, ylabel: str, title: str | None = None, legend: bool = True, **legend_kwargs):
    """Axis labels, optional title and a legend (if anything is labeled)."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, fontsize=10)
    if legend:
        handles, labels = ax.get_legend_handles_labels()
        if handles:
            ax.legend(fontsize=legend_kwargs.pop("fontsize", 7), **legend_kwargs)
    ax.grid(True, which="major", alpha=0.25)


def caption(fig: Figure, text: str) -> None:
    """A small caption above the axes (what is theory, what is simulation)."""
    fig.suptitle(text, fontsize=8, color="0.3")


def shared_legend(fig: Figure, ax: Axes, ncol: int = 4, **kwargs) -> None:
    """One legend for the whole figure, below the axes, from the handles of ``ax``."""
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="outside lower center", ncol=ncol, fontsize=kwargs.pop("fontsize", 8),
                   frameon=False, **kwargs)


def corner_text(ax: Axes, text: str, where: str = "upper left") -> None:
    """A small boxed note in a corner of ``ax`` (axes coordinates)."""
    y, va = {"upper": (0.97, "top"), "lower": (0.03, "bottom"), "center": (0.5, "center")}[where.split()[0]]
    x, ha = (0.03, "left") if where.endswith("left") else (0.97, "right")
    ax.text(x, y, text, transform=ax.transAxes, fontsize=7.5, va=va, ha=ha,
            bbox={"fc": "white", "ec": "0.8", "alpha": 0.85, "pad": 2})


# --- log-axis helpers (simulation values that a log axis cannot show as such) -----

#: on log axes, a lower error bar is cut at mean / LOG_ERROR_CUT when mean - s.e. <= 0
LOG_ERROR_CUT = 10.0


def log_error_bars(mean, se) -> np.ndarray:
    """Asymmetric ``yerr`` (shape ``(2, m)``) for a log axis: the upper bar is ``se``,
    the lower one ``se`` cut at ``mean (1 - 1/LOG_ERROR_CUT)`` so that a bar reaching 0
    (or below) ends at ``mean / LOG_ERROR_CUT`` instead of running off the axis (say
    so in the caption). ``mean > 0`` elementwise."""
    mean, se = np.asarray(mean, dtype=float), np.asarray(se, dtype=float)
    lower = np.minimum(se, mean * (1.0 - 1.0 / LOG_ERROR_CUT))
    return np.vstack([lower, se])


def zero_markers(ax: Axes, x, *, i: int = 0, label: str | None = None, y: float = 0.03, **kwargs):
    """Values that are exactly 0, which a log axis drops: open downward triangles at
    the bottom edge of ``ax`` (``y`` in axes coordinates) at data abscissae ``x``."""
    x = np.asarray(x, dtype=float)
    if x.size == 0:
        return None
    col = kwargs.pop("color", color(i))
    return ax.plot(x, np.full(x.size, y), "v", transform=ax.get_xaxis_transform(), color=col, mfc="white",
                   ms=kwargs.pop("ms", 7), mew=1.4, ls="none", label=label, clip_on=False, **kwargs)


def plain_log_ticks(ax: Axes, axis: str = "y") -> None:
    """Plain-number tick labels on a log ``axis`` (``0.2, 0.5, 1, 2``), no minor labels:
    avoids mixing ``2x10^0`` with ``6x10^-1`` when the axis spans less than two decades."""
    target = ax.yaxis if axis == "y" else ax.xaxis
    target.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    target.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    target.set_minor_formatter(NullFormatter())


__all__ = [
    "LOG_ERROR_CUT",
    "PALETTE",
    "caption",
    "color",
    "corner_text",
    "finish",
    "hline",
    "log_error_bars",
    "marker",
    "mean_se",
    "new_figure",
    "plain_log_ticks",
    "save_figure",
    "select",
    "shared_legend",
    "simulation",
    "theory",
    "zero_markers",
]
