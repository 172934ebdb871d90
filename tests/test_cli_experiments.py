"""The experiment commands through the real Typer app: ``run``, ``report``, ``reproduce``."""

from __future__ import annotations

import re

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from ntphase.cli import app

runner = CliRunner()

TINY_SPECTRUM = {"experiment": "spectrum", "activations": ["tanh"], "d": 8, "n": 120, "width_ratio": 8.0,
                 "repeats": 1}
TINY_DD = {"experiment": "double_descent", "activation": "relu", "d": 8, "n": 64, "n_test": 200,
           "ratios": [0.5, 1.0, 2.0, 8.0], "ridges": [0.0, 0.1], "repeats": 1}


def _write(path, data):
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture(scope="module")
def ran(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cli")
    out = tmp / "out"
    for i, cfg in enumerate((TINY_SPECTRUM, TINY_DD)):
        result = runner.invoke(app, ["run", str(_write(tmp / f"c{i}.yaml", cfg)), "--out", str(out), "--no-progress",
                                     "--workers", "1"])
        assert result.exit_code == 0, result.output
    return out


def test_run_writes_table_config_theory_figures_and_report(ran):
    for name in ("spectrum", "double_descent"):
        d = ran / name
        table = pd.read_parquet(d / "results.parquet")
        assert set(table["experiment"]) == {name}
        assert {"quantity", "value", "seed", "task_key"} <= set(table.columns)
        assert yaml.safe_load((d / "config.yaml").read_text())["experiment"] == name
        assert (d / "theory.parquet").is_file()
        assert (d / "figures" / f"{name}.png").is_file() and (d / "figures" / f"{name}.pdf").is_file()
    page = (ran / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 2


def test_report_rebuilds_figures_and_html_from_stored_tables(ran):
    png = ran / "spectrum" / "figures" / "spectrum.png"
    png.unlink()
    (ran / "report.html").unlink()
    result = runner.invoke(app, ["report", str(ran)])
    assert result.exit_code == 0, result.output
    assert png.is_file()
    page = (ran / "report.html").read_text()
    assert len(re.findall(r'<img alt="[^"]+" src="data:image/png;base64,', page)) == 2
    assert "Theory constants" in page and "measured relative errors" in page
    assert "KRR det. equiv." in page  # double-descent agreement row


def test_run_on_a_two_worker_dask_cluster_gives_the_serial_numbers(ran, tmp_path):
    # task seeds come from the task keys, so the executor must not change any number
    path = _write(tmp_path / "c.yaml", TINY_SPECTRUM)
    result = runner.invoke(app, ["run", str(path), "--out", str(tmp_path / "o"), "--no-progress", "--workers", "2",
                                 "--no-report"])
    assert result.exit_code == 0, result.output
    dask_table = pd.read_parquet(tmp_path / "o" / "spectrum" / "results.parquet")
    serial_table = pd.read_parquet(ran / "spectrum" / "results.parquet")
    pd.testing.assert_frame_equal(dask_table, serial_table)


def test_run_with_unknown_key_fails_naming_it(tmp_path):
    path = _write(tmp_path / "bad.yaml", {**TINY_SPECTRUM, "nn": 5})
    result = runner.invoke(app, ["run", str(path), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "unknown key 'nn'" in result.output
    assert not (tmp_path / "o").exists()


def test_run_with_bad_value_fails_naming_key_and_value(tmp_path):
    path = _write(tmp_path / "bad.yaml", {**TINY_SPECTRUM, "n": 1})
    result = runner.invoke(app, ["run", str(path), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "key 'n'" in result.output and "got 1" in result.output


def test_run_missing_file_and_report_of_empty_dir(tmp_path):
    result = runner.invoke(app, ["run", str(tmp_path / "none.yaml")])
    assert result.exit_code == 2 and "does not exist" in result.output
    result = runner.invoke(app, ["report", str(tmp_path)])
    assert result.exit_code == 2 and "no experiment results" in result.output


def test_reproduce_rejects_unknown_only(tmp_path):
    result = runner.invoke(app, ["reproduce", "--only", "nope", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "nope" in result.output and "phase_transition" in result.output


@pytest.mark.parametrize(
    ("command", "words"),
    [
        ("reproduce", ["--quick", "--full", "--out", "--workers", "--scheduler", "--only"]),
        ("run", ["CONFIG.yaml", "--out", "--workers", "--scheduler"]),
        ("report", ["DIR", "report.html", "results.parquet"]),
    ],
)
def test_help_is_useful(command, words):
    result = runner.invoke(app, [command, "--help"], terminal_width=200)
    assert result.exit_code == 0
    text = re.sub(r"\s+", " ", re.sub(r"\x1b\[[0-9;]*m", "", result.output))
    for word in words:
        assert word in text, (command, word)
