"""The HTML report of a results directory: figures, theory constants, agreement.

:func:`build_report` reads every experiment directory under ``OUT`` (as written by
:func:`ntphase.experiments.run_experiment`), redraws the figures from the stored
tables, and writes ``OUT/report.html``: one self-contained page (figures embedded
as base64 PNG; PDFs beside them on disk) with

- every experiment's figures, its config and a short description;
- a table of theory constants (:func:`ntphase.theory.theory_summary`) for every
  ``(activation, d, n)`` the configs use;
- a table of theory-vs-simulation agreement: for each prediction, the predicted
  and the measured value and the measured relative error
  ``|predicted - measured| / |measured|``, from each experiment's ``agreement``.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ntphase.experiments import REGISTRY, ExperimentResult, get_experiment, load_experiment_dir
from ntphase.theory import theory_summary

REPORT_FILE = "report.html"
#: largest degree listed in the theory-constants table
THEORY_LMAX = 4

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1250px;margin:2em auto;
padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;font-size:.85em;margin:.8em 0}
th,td{border:1px solid #ccc;padding:.25em .55em;text-align:right}
th{background:#f2f2f2}td.l,th.l{text-align:left}
img{max-width:100%;border:1px solid #eee;margin:.5em 0}
.good{background:#e8f5e9}.fair{background:#fff8e1}.poor{background:#ffebee}
pre{background:#f7f7f7;padding:.6em;font-size:.8em;overflow-x:auto}
.note{color:#555;font-size:.9em}
"""


def experiment_dirs(out: str | Path) -> list[Path]:
    """Experiment output directories under ``out`` (registry order, those with a config)."""
    out = Path(out)
    return [out / name for name in REGISTRY if (out / name / "config.yaml").is_file()]


def theory_settings(config: Any) -> list[tuple[str, int, int]]:
    """The ``(activation, d, n)`` triples a config uses (for the theory-constants table).

    Uses the experiment module's ``theory_settings(config)`` when it has one, else
    the config's ``activation(s)``, ``d``/``dims`` and ``n``/``n_values`` fields.
    """
    module = get_experiment(config.experiment)
    custom = getattr(module, "theory_settings", None)
    if callable(custom):
        return [(str(a), int(d), int(n)) for a, d, n in custom(config)]
    fields = config.model_dump()
    acts = fields.get("activations") or ([fields["activation"]] if "activation" in fields else [])
    dims = fields.get("dims") or ([fields["d"]] if "d" in fields else [])
    ns = fields.get("n_values") or ([fields["n"]] if "n" in fields else [])
    if ns and "n_values" in fields:
        ns = [max(ns)]
    return [(a, int(d), int(n)) for a in acts for d in dims for n in ns]


def _fmt(v: Any) -> str:
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else "no"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        v = float(v)
        if not math.isfinite(v):
            return str(v)
        if v == 0:
            return "0"
        if 1e-3 <= abs(v) < 1e5:
            return f"{v:.4g}"
        return f"{v:.3e}"
    return html.escape(str(v))


def _table(header: Sequence[str], rows: Iterable[Sequence[Any]], left: int = 1, classes: Sequence[str] | None = None) -> str:
    out = ["<table><tr>" + "".join(f'<th class="{"l" if i < left else ""}">{html.escape(h)}</th>'
                                   for i, h in enumerate(header)) + "</tr>"]
    for j, row in enumerate(rows):
        cls = f' class="{classes[j]}"' if classes and classes[j] else ""
        out.append(f"<tr{cls}>" + "".join(f'<td class="{"l" if i < left else ""}">{_fmt(v)}</td>'
                                          for i, v in enumerate(row)) + "</tr>")
    out.append("</table>")
    return "\n".join(out)


def theory_constants_html(settings: Sequence[tuple[str, int, int]], lmax: int = THEORY_LMAX) -> str:
    """One table of :func:`ntphase.theory.theory_summary` values per ``(activation, d, n)``."""
    blocks = []
    head = ["activation", "d", "n", "level l", "H(1)", "E[sigma'(G)^2]", "gamma_l (d=inf)", "gamma_{>l} (d)",
            "lambda_min edge"] + [f"B xi, k={k}" for k in range(lmax + 1)]
    summaries = {key: theory_summary(*key, lmax) for key in sorted(set(settings))}
    rows = []
    for s in summaries.values():
        deg = {g["degree"]: g for g in s["degrees"]}
        rows.append([s["activation"], s["d"], s["n"], s["level"], s["H1"], s["second_moment"],
                     s["gamma_level_d_infinity"], s["gamma_above_level"], s["lambda_min_edge"]]
                    + [deg[k]["multiplicity_times_xi"] if deg[k]["present"] else 0.0 for k in range(lmax + 1)])
    blocks.append(_table(head, rows, left=1))
    spike_rows = []
    for (act, d, n), s in summaries.items():
        for g in s["spikes"]:
            spike_rows.append([act, d, n, g["kind"], "" if g["degree"] is None else g["degree"], g["count"],
                               g["location"]])
    blocks.append("<p class='note'>Predicted spike groups and bulk of K (docs/theory.md, section 3): "
                  "count B(d,k) at n xi_{d,k} + gamma_{>l}; bulk mean gamma_{>l}.</p>")
    blocks.append(_table(["activation", "d", "n", "group", "degree", "count", "location"], spike_rows, left=4))
    return "\n".join(blocks)


def agreement_rows(result: ExperimentResult) -> list[dict]:
    """The experiment's ``agreement(table, theory, config)`` rows (empty if it has none)."""
    module = get_experiment(result.name)
    fn = getattr(module, "agreement", None)
    if not callable(fn) or result.table is None or len(result.table) == 0:
        return []
    rows = fn(result.table, result.theory, result.config)
    for r in rows:
        r.setdefault("experiment", result.name)
        r.setdefault("note", "")
    return rows


def _grade(rel: float) -> str:
    if not math.isfinite(rel):
        return "poor"
    return "good" if rel <= 0.05 else ("fair" if rel <= 0.2 else "poor")


def agreement_html(rows: Sequence[dict]) -> str:
    """The agreement table (green <= 5 %, amber <= 20 %, red above)."""
    if not rows:
        return "<p class='note'>No agreement rows.</p>"
    body = [[r["experiment"], r["prediction"], r["setting"], r["predicted"], r["measured"],
             f"{100 * r['relative_error']:.1f} %" if math.isfinite(r["relative_error"]) else "inf", r.get("note", "")]
            for r in rows]
    return _table(["experiment", "prediction", "setting", "predicted", "measured", "relative error", "note"], body,
                  left=3, classes=[_grade(float(r["relative_error"])) for r in rows])


def _inline_code(text: str) -> str:
    """Escape ``text`` for HTML and render its reST ````literal```` spans as ``<code>``."""
    parts = html.escape(text).split("``")
    return "".join(f"<code>{part}</code>" if i % 2 else part for i, part in enumerate(parts))


def _img(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(path.stem)}" src="data:image/png;base64,{data}">'


def build_report(
    out: str | Path,
    redraw: bool = True,
    results: Sequence[ExperimentResult] | None = None,
    timings: dict[str, float] | None = None,
    title: str = "ntphase: the interpolation phase transition, theory beside simulation",
) -> Path:
    """Write ``out/report.html`` from the experiment directories under ``out``.

    Parameters
    ----------
    out : path
        Results root holding ``<experiment>/config.yaml``, ``results.parquet``, ...
    redraw : bool
        Redraw every figure from the stored tables (else reuse existing PNGs).
    results : sequence of ExperimentResult, optional
        Already-loaded results (default: read from ``out``).
    timings : dict, optional
        Wall-clock seconds per experiment, shown in the report.

    Returns
    -------
    Path of the report.
    """
    out = Path(out)
    if results is None:
        results = [load_experiment_dir(p) for p in experiment_dirs(out)]
    if not results:
        raise FileNotFoundError(
            f"no experiment results under {str(out)!r} (expected <experiment>/config.yaml); "
            "run `ntphase reproduce --out DIR` or `ntphase run CONFIG.yaml --out DIR` first"
        )
    sections, agreement, settings = [], [], []
    for res in results:
        module = get_experiment(res.name)
        figdir = res.directory / "figures"
        if redraw or not res.figures:
            res.figures = module.plot(res.table, res.config, figdir, theory=res.theory)
        pngs = [p for p in res.figures if p.suffix == ".png"]
        doc = (module.__doc__ or "").strip().split("\n\n")
        desc = " ".join(doc[1].split()) if len(doc) > 1 else ""
        rows = agreement_rows(res)
        agreement += rows
        settings += theory_settings(res.config)
        n_tasks = int(res.table["task_key"].nunique()) if "task_key" in res.table else 0
        meta = f"{n_tasks} tasks, {len(res.table)} rows"
        if timings and res.name in timings:
            meta += f", {timings[res.name]:.1f} s"
        pdfs = ", ".join(f'<a href="{html.escape(str(p.relative_to(out)))}">{html.escape(p.name)}</a>'
                         for p in res.figures if p.suffix == ".pdf" and p.is_relative_to(out))
        sections.append(
            f'<h2 id="{res.name}">{html.escape(res.name.replace("_", " "))}</h2>'
            f"<p>{_inline_code(desc)}</p><p class='note'>{meta}. PDF: {pdfs or 'n/a'}</p>"
            + "".join(_img(p) for p in pngs)
            + (f"<h3>Agreement</h3>{agreement_html(rows)}" if rows else "")
            + f"<details><summary>config</summary><pre>{html.escape(res.config.to_yaml())}</pre></details>"
        )
    try:
        constants = theory_constants_html(settings)
    except Exception as exc:  # theory tables are informative; a failure must not lose the figures
        constants = f"<p class='note'>theory constants unavailable: {html.escape(repr(exc))}</p>"
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    toc = " · ".join(f'<a href="#{r.name}">{r.name}</a>' for r in results)
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title><style>{_CSS}</style></head>
<body><h1>{html.escape(title)}</h1>
<p class="note">Montanari &amp; Zhong, <i>The interpolation phase transition in neural networks</i>,
Ann. Statist. 2022. Generated {now} from {html.escape(str(out))}. Figures: markers are simulation
(mean &plusmn; one standard error over seeds), lines are theory; dotted lines are conjectures.</p>
<p>{toc} · <a href="#agreement">agreement</a> · <a href="#constants">theory constants</a></p>
{''.join(sections)}
<h2 id="agreement">Theory vs simulation: measured relative errors</h2>
<p class="note">relative error = |predicted &minus; measured| / |measured|; green &le; 5 %, amber &le; 20 %,
red above. Measured values are means over seeds.</p>
{agreement_html(agreement)}
<h2 id="constants">Theory constants</h2>
{constants}
</body></html>
"""
    path = out / REPORT_FILE
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(path)
    return path


__all__ = ["REPORT_FILE", "agreement_html", "agreement_rows", "build_report", "experiment_dirs",
           "theory_constants_html", "theory_settings"]
