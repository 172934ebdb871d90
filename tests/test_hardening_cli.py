"""Hardening of the command line: failed tasks, bad scheduler addresses and unusable
output directories end in one line and a non-zero exit status, never a traceback.

Oracles: the exit codes and messages the commands document (1: tasks failed after
every attempt; 2: bad option, config or output directory); the memory guard's
refusal of ``n = 200000`` (``K`` alone would need 298 GiB), so every task fails;
wall-clock bounds for "fails in seconds".
"""

from __future__ import annotations

import os
import time

import pytest
from typer.testing import CliRunner

from ntphase.cli import app

pytestmark = pytest.mark.timeout(60)

SMALL = "experiment: spectrum\nactivations: [relu]\nd: 5\nn: 20\nwidth_ratio: 2\nbins: 5\nrepeats: 1\n"
HUGE = "experiment: phase_transition\nactivations: [relu]\ndims: [20]\nn: 200000\nratios: [1.0]\nrepeats: 1\n"


def _invoke(tmp_path, text, *options):
    config = tmp_path / "config.yaml"
    config.write_text(text)
    args = ["run", str(config), "--out", str(tmp_path / "out"), "--workers", "1", "--no-report",
            "--no-progress", *options]
    return CliRunner().invoke(app, args)


def _one_line_error(result):
    lines = [ln for ln in result.output.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    return lines[0]


def test_every_task_failing_exits_1_with_the_count_and_no_plot_error(tmp_path):
    result = _invoke(tmp_path, HUGE)  # was: KeyError 'ratio' from the plot of an empty table
    assert result.exit_code == 1, result.output
    line = _one_line_error(result)
    directory = tmp_path / "out" / "phase_transition"
    assert "1 of 1 tasks of phase_transition failed" in line
    assert str(directory / "manifest.json") in line
    assert not (directory / "figures").exists()


def test_successful_run_exits_0(tmp_path):
    result = _invoke(tmp_path, SMALL)
    assert result.exit_code == 0, result.output
    assert "error:" not in result.output


@pytest.mark.parametrize("address", ["not a url", "http://127.0.0.1:8786", "tcp://127.0.0.1", "tcp://h:99999"])
def test_malformed_scheduler_address_fails_at_once(tmp_path, address):
    start = time.monotonic()
    result = _invoke(tmp_path, SMALL, "--scheduler", address)
    assert time.monotonic() - start < 5  # was: 60 s of retries
    assert result.exit_code == 2, result.output
    assert "tcp://host:port or tls://host:port" in _one_line_error(result)


def test_unreachable_scheduler_fails_within_the_timeout(tmp_path, monkeypatch):
    from ntphase.runtime import executors

    monkeypatch.setattr(executors, "CONNECT_TIMEOUT_S", 1.0)
    start = time.monotonic()
    result = _invoke(tmp_path, SMALL, "--scheduler", "tcp://127.0.0.1:1")
    assert time.monotonic() - start < 10  # was: 30 s and a 200-line traceback
    assert result.exit_code == 2, result.output
    assert "cannot connect to the Dask scheduler at tcp://127.0.0.1:1 within 1 s" in _one_line_error(result)


def test_output_directory_that_is_a_file(tmp_path):
    (tmp_path / "out").write_text("not a directory")
    result = _invoke(tmp_path, SMALL)
    assert result.exit_code == 2, result.output
    _one_line_error(result)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root ignores permission bits")
def test_read_only_output_directory(tmp_path):
    (tmp_path / "out" / "spectrum").mkdir(parents=True)
    (tmp_path / "out" / "spectrum").chmod(0o500)
    try:
        result = _invoke(tmp_path, SMALL)
    finally:
        (tmp_path / "out" / "spectrum").chmod(0o700)
    assert result.exit_code == 2, result.output
    assert "Permission denied" in _one_line_error(result)


@pytest.mark.parametrize("name", ["manifest.json", "plan.json"])
def test_corrupt_manifest_or_plan_is_one_line(tmp_path, name):
    assert _invoke(tmp_path, SMALL).exit_code == 0
    directory = tmp_path / "out" / "spectrum"
    (directory / name).write_bytes(b'{"tasks": [oops')
    result = _invoke(tmp_path, SMALL)
    assert result.exit_code == 2, result.output
    assert f"{directory / name} is not valid JSON" in _one_line_error(result)
    status = CliRunner().invoke(app, ["status", str(directory)])
    assert status.exit_code == 2, status.output
    assert "is not valid JSON" in _one_line_error(status)
