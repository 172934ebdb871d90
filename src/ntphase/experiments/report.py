"""The HTML report of a results directory: figures, theory constants, agreement.

:func:`build_report` reads every experiment directory under ``OUT`` (as written by
:func:`ntphase.experiments.run_experiment`), redraws the figures from the stored
tables, and writes ``OUT/report.html``: one self-contained page (figures embedded
as base64 PNG; PDFs beside them on disk) with

- every experiment's figures, its config and a short description;
- a table of theory constants (:func:`ntphase.theory.theory_summary`) for every
  ``(activation, d, n)`` the configs use;
- in each experiment's section, its table of theory-vs-simulation agreement: for
  each prediction, the predicted and the measured value and the measured relative
  error ``|predicted - measured| / |measured|``, from the experiment's ``agreement``;
  where the prediction is 0 the relative error means nothing, so the absolute
  value is shown, next to the row's ``bound`` (what bounds it) when it gives one.

Figures span the page width and link to their full-resolution PNG beside the
report; tables scroll sideways on narrow screens instead of cutting columns.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import math
import re
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
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;max-width:2100px;
padding:0 1em;color:#222;line-height:1.45}
p,details,h1,h2,h3{max-width:1100px}
h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em;max-width:none}
.tables{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;font-size:.85em;margin:.8em 0}
th,td{border:1px solid #ccc;padding:.25em .55em;text-align:right;vertical-align:top}
th{background:#f2f2f2}td.l,th.l,th.note{text-align:left}td.note{text-align:left;min-width:14em;max-width:28em}
figure{margin:.5em 0}
figure img{max-width:100%;height:auto;border:1px solid #eee;display:block}
figure a{cursor:zoom-in}figcaption{font-size:.8em;color:#555}
.good{background:#e8f5e9}.fair{background:#fff8e1}.poor{background:#ffebee}.abs{background:#eef3fb}
pre{background:#f7f7f7;padding:.6em;font-size:.8em;overflow-x:auto}
.note{color:#555;font-size:.9em}
@media (max-width:900px){body{margin:1em auto;padding:0 .5em}table{font-size:.75em}
th,td{padding:.2em .35em}td.note{min-width:10em}}
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


def _table(header: Sequence[str], rows: Iterable[Sequence[Any]], left: int = 1, classes: Sequence[str] | None = None,
           note_column: int | None = None) -> str:
    """An HTML table in a sideways-scrolling box (wide tables never cut a column)."""
    def cell_class(i: int) -> str:
        return "note" if i == note_column else ("l" if i < left else "")

    out = ['<div class="tables"><table><tr>' + "".join(
        f'<th class="{cell_class(i)}">{html.escape(h)}</th>' for i, h in enumerate(header)) + "</tr>"]
    for j, row in enumerate(rows):
        cls = f' class="{classes[j]}"' if classes and classes[j] else ""
        out.append(f"<tr{cls}>" + "".join(f'<td class="{cell_class(i)}">{_fmt(v)}</td>'
                                          for i, v in enumerate(row)) + "</tr>")
    out.append("</table></div>")
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


def _error_cell(row: dict) -> tuple[str, str]:
    """The error column's text and the row's class.

    A relative error against a prediction of 0 means nothing: such rows show the
    absolute measured value, graded against the row's ``bound`` when it has one
    (green within it, red above) and left ungraded (blue) otherwise. Rows with
    ``kind == "finding"`` compare data with a theory that does not claim to
    describe them (e.g. real data beside the isotropic theory): the gap is shown,
    ungraded (blue).
    """
    if row.get("kind") == "finding":
        rel = float(row["relative_error"])
        return (f"gap {100 * rel:.0f} %" if math.isfinite(rel) else "inf"), "abs"
    if float(row["predicted"]) == 0.0:
        measured = abs(float(row["measured"]))
        bound = row.get("bound")
        if bound is None or not math.isfinite(float(bound)):
            return f"absolute {measured:.2g}", "abs"
        ok = measured <= float(bound)
        return f"absolute {measured:.2g} ({'within' if ok else 'above'} bound {float(bound):.2g})", (
            "good" if ok else "poor")
    rel = float(row["relative_error"])
    return (f"{100 * rel:.1f} %" if math.isfinite(rel) else "inf"), _grade(rel)


def agreement_html(rows: Sequence[dict]) -> str:
    """The agreement table (green <= 5 %, amber <= 20 %, red above; prediction 0: the
    absolute value, see :func:`_error_cell`)."""
    if not rows:
        return "<p class='note'>No agreement rows.</p>"
    cells = [_error_cell(r) for r in rows]
    body = [[r["prediction"], r["setting"], r["predicted"], r["measured"], text, r.get("note", "")]
            for r, (text, _) in zip(rows, cells)]
    return _table(["prediction", "setting", "predicted", "measured", "relative error", "note"], body,
                  left=2, classes=[cls for _, cls in cells], note_column=5)


_ROLE = re.compile(r":[a-z]+:`~?([^`]+)`")


def _inline_code(text: str) -> str:
    """Escape ``text`` for HTML and render its reST ````literal```` spans as ``<code>``."""
    text = _ROLE.sub(lambda m: f"``{m.group(1)}``", text)  # Sphinx roles (:mod:`x`) -> literals
    parts = html.escape(text).split("``")
    return "".join(f"<code>{part}</code>" if i % 2 else part for i, part in enumerate(parts))


def description(module: Any) -> str:
    """The experiment's report text: its ``DESCRIPTION`` when it has one, else the
    second paragraph of its docstring (whitespace collapsed)."""
    custom = getattr(module, "DESCRIPTION", None)
    if isinstance(custom, str) and custom.strip():
        return " ".join(custom.split())
    doc = (module.__doc__ or "").strip().split("\n\n")
    return " ".join(doc[1].split()) if len(doc) > 1 else ""


def _img(path: Path, out: Path) -> str:
    """The PNG embedded (base64), full width, linked to the file itself at full resolution."""
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    img = f'<img alt="{html.escape(path.stem)}" src="data:image/png;base64,{data}">'
    if not path.resolve().is_relative_to(out.resolve()):
        return f"<figure>{img}</figure>"
    href = html.escape(path.resolve().relative_to(out.resolve()).as_posix())
    return (f'<figure><a href="{href}" title="open at full resolution">{img}</a>'
            f"<figcaption>click the figure to open it at full resolution ({html.escape(path.name)})</figcaption>"
            "</figure>")


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
        desc = description(module)
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
            + "".join(_img(p, out) for p in pngs)
            + (f"<h3>Agreement: theory vs simulation, measured relative errors</h3>{agreement_html(rows)}"
               if rows else "")
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
<p class="note">Each section ends with its agreement table: relative error = |predicted &minus; measured| /
|measured|, green &le; 5 %, amber &le; 20 %, red above; measured values are means over seeds. Where the
prediction is 0 the table shows the absolute measured value, green when within the bound the row states,
blue when it states none; blue rows marked "gap" are findings (data beside a theory that does not claim to
describe them), not graded ({len(agreement)} rows in all).</p>
<p>{toc} · <a href="#constants">theory constants</a></p>
{''.join(sections)}
<h2 id="constants">Theory constants</h2>
{constants}
</body></html>
"""
    path = out / REPORT_FILE
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(path)
    return path


__all__ = ["REPORT_FILE", "agreement_html", "agreement_rows", "build_report", "description", "experiment_dirs",
           "theory_constants_html", "theory_settings"]
