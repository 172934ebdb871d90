"""What the commands tell the user: refused or implied option combinations, literal help
text, the skip count of a resumed run, and progress lines when output is not a terminal.

Oracles: the option rules stated in ``ntphase theory --help``; the task count of the
config (``module.tasks(config)``) for the skip counts; the sweep's task list for the
progress lines (one line per 10 % of the tasks).
"""

from __future__ import annotations

import json
import re

import yaml
from typer.testing import CliRunner

from ntphase.cli import app
from ntphase.experiments import get_experiment
from ntphase.experiments.config import load_config
from ntphase.experiments.synthetic import run_task
from ntphase.runtime import run_sweep

runner = CliRunner()
THEORY = ["theory", "--activation", "relu", "--d", "10", "--n", "100"]
TINY_DIGITS = {"experiment": "digits", "n_threshold": 64, "ratios": [0.5, 2.0], "n_values": [16, 32], "n_test": 40,
               "repeats": 1}


def test_risk_without_energy_is_refused():
    # without a target every excess risk is 0: the old behaviour printed an all-zero table
    result = runner.invoke(app, [*THEORY, "--risk"])
    assert result.exit_code == 2
    assert "--energy" in result.output and "Traceback" not in result.output


def test_energy_without_risk_implies_risk_and_says_so():
    result = runner.invoke(app, [*THEORY, "--energy", "1=1", "--json"])
    assert result.exit_code == 0, result.output
    assert "--risk" in result.stderr  # the note, on stderr
    risk = json.loads(result.stdout)["risk"]
    assert risk["energies"] == {"1": 1.0}
    # the same numbers as the explicit --risk (oracle: the command with both options)
    explicit = runner.invoke(app, [*THEORY, "--energy", "1=1", "--json", "--risk"])
    assert json.loads(explicit.stdout)["risk"] == risk
    assert risk["rows"][0]["krr_risk"] > 0


def test_noise_or_ridge_without_risk_is_refused():
    for extra in (["--noise", "0.5"], ["--ridge", "0.1"]):
        result = runner.invoke(app, [*THEORY, *extra])
        assert result.exit_code == 2, extra
        assert "--risk" in result.output


def test_help_prints_brackets_literally():
    # rich markup would read [sigma'(G)^2] as a tag and print "E, the Hermite"
    result = runner.invoke(app, ["theory", "--help"], terminal_width=200)
    assert result.exit_code == 0
    assert "E[sigma'(G)^2]" in result.output


def test_resumed_run_says_how_many_tasks_it_skipped(tmp_path):
    config_path = tmp_path / "c.yaml"
    config_path.write_text(yaml.safe_dump(TINY_DIGITS))
    n_tasks = len(get_experiment("digits").tasks(load_config(config_path)))
    args = ["run", str(config_path), "--out", str(tmp_path / "o"), "--workers", "1", "--no-report"]
    first = runner.invoke(app, [*args, "--no-progress"])
    assert first.exit_code == 0, first.output
    assert f"{n_tasks} tasks: 0 already done (skipped), {n_tasks} run" in first.output
    second = runner.invoke(app, args)
    assert second.exit_code == 0, second.output
    assert f"{n_tasks} tasks: {n_tasks} already done (skipped), 0 run" in second.output
    assert f"all {n_tasks} tasks already done (skipped)" in second.output  # the sweep's own line


def test_progress_is_printed_as_lines_when_output_is_not_a_terminal(tmp_path, capsys):
    tasks = [{"p": 3 + i} for i in range(20)]
    run_sweep(run_task, tasks[:5], tmp_path, name="synthetic", executor="serial", progress=True)
    capsys.readouterr()
    table = run_sweep(run_task, tasks, tmp_path, name="synthetic", executor="serial", progress=True)
    out = capsys.readouterr().out  # captured: not a terminal
    assert "synthetic: 15 tasks to run (5 already done, skipped)" in out
    # 15 tasks in steps of 10 %: a line at every task that crosses the next 10 % (1.5 tasks)
    done = [int(m) for m in re.findall(r"synthetic: (\d+)/15 tasks", out)]
    assert done == sorted(done) and done[-1] == 15 and len(done) >= 9
    assert "━" not in out  # no bar characters in a log
    assert table.attrs == {"tasks_total": 20, "tasks_skipped": 5, "tasks_run": 15, "tasks_failed": 0}
