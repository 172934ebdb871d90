"""The HTML report's structure: each agreement table once, figures full width and linked
to their PNG, no raw Sphinx roles, absolute values where a prediction is 0, tables that
scroll instead of cutting columns.

Oracles: the experiments' own ``agreement`` rows (each prediction must appear exactly
once on the page); the figure files on disk (each linked once); the rules stated in
``ntphase.experiments.report``.
"""

from __future__ import annotations

import re
from html import escape as html_escape

import pytest

from ntphase.experiments import get_experiment, run_experiment
from ntphase.experiments.config import load_config
from ntphase.experiments.report import agreement_html, build_report, description

TINY_DIGITS = {"experiment": "digits", "n_threshold": 64, "ratios": [0.5, 2.0], "n_values": [16, 32],
               "n_test": 40, "repeats": 1}
TINY_DD = {"experiment": "double_descent", "activation": "relu", "d": 6, "n": 24, "n_test": 50,
           "ratios": [0.5, 2.0], "ridges": [0.0], "repeats": 1}


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    results = [run_experiment(load_config(c), out, progress=False) for c in (TINY_DIGITS, TINY_DD)]
    return out, results, build_report(out, results=results).read_text()


def test_each_agreement_table_and_row_appears_once(page):
    out, results, html = page
    assert html.count("<h3>Agreement") == len(results)
    for res in results:
        for row in get_experiment(res.name).agreement(res.table, res.theory, res.config):
            cell = f'<td class="l">{html_escape(row["prediction"])}</td>'
            assert html.count(cell) == 1, row["prediction"]


def test_figures_are_full_width_and_link_to_their_png(page):
    out, results, html = page
    for res in results:
        for png in (p for p in res.figures if p.suffix == ".png"):
            href = png.relative_to(out).as_posix()
            assert html.count(f'<a href="{href}"') == 1 and (out / href).is_file()
    assert re.search(r"figure img\{max-width:100%", html)
    assert "max-width:1250px" not in html  # the old cap that shrank wide figures


def test_tables_scroll_and_no_raw_roles(page):
    _, _, html = page
    assert html.count('<div class="tables"><table>') == html.count("<table>")
    assert ":mod:`" not in html and ":func:`" not in html and "``" not in html


def test_descriptions_render_roles_and_finish_their_sentences():
    text = description(get_experiment("lazy_training"))
    assert text.endswith(".") and ":mod:" not in text


def test_prediction_zero_shows_the_absolute_value_and_its_bound():
    rows = [
        {"experiment": "x", "prediction": "distance -> 0", "setting": "s", "predicted": 0.0, "measured": 1.4e-5,
         "relative_error": 1.4e-5, "bound": 1e-4, "note": "n"},
        {"experiment": "x", "prediction": "unbounded -> 0", "setting": "s", "predicted": 0.0, "measured": 2e-3,
         "relative_error": 2e-3, "note": "n"},
        {"experiment": "x", "prediction": "too far -> 0", "setting": "s", "predicted": 0.0, "measured": 0.5,
         "relative_error": 0.5, "bound": 1e-4, "note": "n"},
    ]
    html = agreement_html(rows)
    assert "0.0 %" not in html
    assert "absolute 1.4e-05 (within bound 0.0001)" in html
    assert "absolute 0.002" in html and "absolute 0.5 (above bound 0.0001)" in html
    classes = re.findall(r'<tr class="(\w+)">', html)
    assert classes == ["good", "abs", "poor"]


def test_lazy_training_row_with_prediction_zero_carries_a_bound():
    import pandas as pd

    module = get_experiment("lazy_training")
    config = module.Config(activations=["tanh"], alphas=[10.0, 100.0], tol=1e-8)
    table = pd.DataFrame({"activation": "tanh", "kind": "alpha", "quantity": "interpolator_distance", "ratio": 4.0,
                          "alpha": [10.0, 100.0], "value": [1e-2, 3e-4]})
    (row,) = [r for r in module.agreement(table, pd.DataFrame(), config) if r["predicted"] == 0.0]
    assert row["measured"] == 3e-4 and row["bound"] == pytest.approx(module.STOP_BOUND_FACTOR * 1e-4)
