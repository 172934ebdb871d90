"""Sweeps end to end, serially and on a local Dask cluster (loopback only).

Oracles: the rows of a direct ``run_task(params, task_seed(key))`` call; an
uninterrupted run for every interrupted / corrupted one (pandas
``assert_frame_equal``, exact: the same seeds give the same float64 numbers);
file modification times and the manifest for "skipped, not recomputed".
One 2-worker cluster is shared by the module (cluster start-up dominates).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pandas as pd
import pytest

from ntphase.experiments import synthetic
from ntphase.experiments.synthetic import run_task
from ntphase.runtime import available_cores, expand_grid, run_sweep, task_key, task_seed
from ntphase.runtime import local_cluster as _local_cluster
from ntphase.runtime.store import part_path

SYN = "ntphase.experiments.synthetic.run_task"  # the default sweep name of run_task
pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def client():
    from distributed import Client

    with _local_cluster(2, 1) as cluster, Client(cluster, set_as_default=False) as c:
        yield c


@pytest.fixture(params=["serial", "dask"])
def sweep(request):
    """run_sweep on the synthetic experiment with each executor (same checks for both)."""
    if request.param == "serial":
        def run(tasks, outdir, **kw):
            return run_sweep(run_task, tasks, outdir, executor="serial", progress=False, **kw)
    else:
        client = request.getfixturevalue("client")  # a Client object (an address elsewhere)

        def run(tasks, outdir, **kw):
            return run_sweep(run_task, tasks, outdir, scheduler=client, progress=False, **kw)
    return run


def _direct_table(tasks):
    """The expected values: run_task called directly with the documented seed."""
    out = []
    for params in tasks:
        key = task_key(SYN, params)
        for row in synthetic.run_task(dict(params), task_seed(key)):
            out.append((key, row["quantity"], row["value"]))
    return sorted(out, key=lambda r: r[0])  # stable: keeps row order within a task


def _manifest(outdir):
    return json.loads((outdir / "manifest.json").read_text())["tasks"]


def _mtimes(outdir):
    return {p.stem: p.stat().st_mtime_ns for p in (outdir / "parts").glob("*.parquet")}


GRID = expand_grid({"p": [3, 5], "m": [6, 9]}, replicates=2)


# ---------------------------------------------------------------- contract, per executor
def test_table_equals_direct_calls(sweep, tmp_path):
    df = sweep(GRID, tmp_path)
    expected = _direct_table(GRID)
    assert list(zip(df["task_key"], df["quantity"], df["value"])) == expected
    assert list(df.columns[:6]) == ["experiment", "task_key", "seed", "p", "m", "replicate"]
    assert (df["seed"] == df["task_key"].map(task_seed)).all()
    assert df.groupby("task_key").size().eq(3).all() and df["task_key"].nunique() == len(GRID)
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "results.parquet"), df)
    plan = json.loads((tmp_path / "plan.json").read_text())
    assert [t["key"] for t in plan["tasks"]] == [task_key(SYN, t) for t in GRID]


def test_rerun_skips_finished_tasks(sweep, tmp_path):
    first = sweep(GRID, tmp_path)
    before = _mtimes(tmp_path)
    time.sleep(0.01)
    second = sweep(GRID, tmp_path)
    assert _mtimes(tmp_path) == before  # no part rewritten
    assert all(e["attempts"] == 1 for e in _manifest(tmp_path).values())
    pd.testing.assert_frame_equal(first, second)


def test_corrupt_parts_are_recomputed(sweep, tmp_path):
    first = sweep(GRID, tmp_path)
    keys = sorted(_mtimes(tmp_path))
    truncated, wrong, source = keys[0], keys[1], keys[2]
    path = part_path(tmp_path, truncated)
    with open(path, "r+b") as fh:
        fh.truncate(path.stat().st_size - 20)
    part_path(tmp_path, wrong).write_bytes(part_path(tmp_path, source).read_bytes())
    leftover = tmp_path / "parts" / ".tmp-deadbeef.parquet.x"  # a killed writer's temp file
    leftover.write_bytes(b"PAR1")
    second = sweep(GRID, tmp_path)
    pd.testing.assert_frame_equal(first, second)
    manifest = _manifest(tmp_path)
    assert manifest[truncated]["attempts"] == 2 and manifest[wrong]["attempts"] == 2
    assert manifest[source]["attempts"] == 1
    assert not leftover.exists()


def test_failure_retried_then_done(sweep, tmp_path):
    markers = tmp_path / "markers"
    markers.mkdir()
    tasks = [{"p": 4, "fail_once_dir": str(markers)}, {"p": 5}]
    df = sweep(tasks, tmp_path / "out", retries=2)
    assert df["task_key"].nunique() == 2
    entry = _manifest(tmp_path / "out")[task_key(SYN, tasks[0])]
    assert entry["status"] == "done" and entry["attempts"] == 2
    assert "RuntimeError: synthetic failure (first attempt)" in entry["last_error"]


def test_failure_exhausts_retries(sweep, tmp_path):
    tasks = [{"p": 4, "always_fail": True}, {"p": 5}]
    with pytest.warns(RuntimeWarning, match="1 of 2 tasks failed after 2 attempts"):
        df = sweep(tasks, tmp_path, retries=1)
    bad = task_key(SYN, tasks[0])
    assert bad not in set(df["task_key"]) and df["task_key"].nunique() == 1
    entry = _manifest(tmp_path)[bad]
    assert entry["status"] == "failed" and entry["attempts"] == 2
    assert entry["error"].startswith("Traceback")
    assert entry["error"].strip().endswith("RuntimeError: synthetic failure (always_fail)")


# ---------------------------------------------------------------- Dask specifics
def test_serial_and_two_local_workers_identical(tmp_path):
    tasks = expand_grid({"p": [4, 7], "m": [8, 20]}, fixed={"report_threads": True}, replicates=2)
    serial = run_sweep(run_task, tasks, tmp_path / "serial", executor="serial", progress=False,
                       threads_per_worker=1)
    local = run_sweep(run_task, tasks, tmp_path / "dask", workers=2, progress=False)  # own cluster
    pd.testing.assert_frame_equal(serial, local)
    # workers x BLAS threads = cores, seen from inside the tasks
    threads = local.loc[local["quantity"] == "blas_threads", "value"]
    assert (threads == max(1, available_cores() // 2)).all()
    workers = {e["worker"] for e in _manifest(tmp_path / "dask").values()}
    assert len(workers) >= 1 and all(w.split(":")[1] != str(os.getpid()) for w in workers)


def test_local_cluster_sets_worker_blas_env():
    # the worker processes start with the BLAS pool size we asked for (not dask's default 1)
    from distributed import Client
    from threadpoolctl import threadpool_info

    def blas_state():
        pools = [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]
        return os.environ.get("OPENBLAS_NUM_THREADS"), os.environ.get("OMP_NUM_THREADS"), pools

    with _local_cluster(1, 2) as cluster, Client(cluster, set_as_default=False) as c:
        (state,) = c.run(blas_state).values()
    assert state[0] == "2" and state[1] == "2"
    assert all(n == 2 for n in state[2])


def test_driver_killed_then_resumed(client, tmp_path):
    address = client.scheduler.address
    tasks = expand_grid({"p": [3, 4, 5, 6], "m": [7, 8, 9, 10]}, fixed={"sleep": 0.4})
    reference = run_sweep(run_task, tasks, tmp_path / "ref", scheduler=address, progress=False)
    out = tmp_path / "killed"
    code = (
        "from ntphase.experiments.synthetic import run_task\n"
        "from ntphase.runtime import run_sweep\n"
        f"run_sweep(run_task, {tasks!r}, {str(out)!r}, scheduler={address!r}, progress=False)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code])
    deadline = time.monotonic() + 60
    while len(list((out / "parts").glob("*.parquet"))) < 3:
        assert proc.poll() is None, "the driver finished or died before it could be killed"
        assert time.monotonic() < deadline, "no parts appeared within 60 s"
        time.sleep(0.05)
    proc.kill()  # SIGKILL: no cleanup, no final manifest
    proc.wait()
    before = _mtimes(out)
    assert 3 <= len(before) < len(tasks)
    resumed = run_sweep(run_task, tasks, out, scheduler=address, progress=False)
    pd.testing.assert_frame_equal(resumed, reference)
    assert resumed.groupby("task_key").size().eq(3).all()
    assert resumed["task_key"].nunique() == len(tasks)
    after = _mtimes(out)
    assert all(after[k] == t for k, t in before.items())  # finished parts were not redone


def test_worker_killed_mid_task(client, tmp_path):
    markers = tmp_path / "markers"
    markers.mkdir()
    tasks = [{"p": p, "sleep": 0.1} for p in (3, 4, 5, 6)]
    tasks.append({"p": 8, "crash_once_dir": str(markers)})
    pids_before = set(client.run(os.getpid).values())
    df = run_sweep(run_task, tasks, tmp_path / "dask", scheduler=client.scheduler.address,
                   progress=False)
    marker = markers / f"crash-{task_seed(task_key(SYN, tasks[-1]))}"
    assert marker.exists()  # the first attempt reached os._exit
    client.wait_for_workers(2, timeout=30)
    assert set(client.run(os.getpid).values()) != pids_before  # a worker was replaced
    # oracle: a serial run (the marker now exists, so nothing crashes)
    serial = run_sweep(run_task, tasks, tmp_path / "serial", executor="serial", progress=False)
    pd.testing.assert_frame_equal(df, serial)
    assert df["task_key"].nunique() == len(tasks)


# ---------------------------------------------------------------- status command
def _status_app():
    import typer

    from ntphase.cli import status

    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """test app"""

    status.register(app)
    return app


def test_status_command_counts(tmp_path):
    from typer.testing import CliRunner

    out = tmp_path / "exp"
    tasks = [{"p": 3}, {"p": 4}, {"p": 5}, {"p": 6, "always_fail": True}]
    with pytest.warns(RuntimeWarning):
        run_sweep(run_task, tasks, out, executor="serial", progress=False, retries=0)
    with open(part_path(out, task_key(SYN, tasks[0])), "r+b") as fh:
        fh.truncate(30)  # a corrupt part counts as remaining
    result = CliRunner().invoke(_status_app(), ["status", str(out)])
    assert result.exit_code == 0, result.output
    assert "total: 4  done: 2  failed: 1  remaining: 1" in result.output
    assert "RuntimeError: synthetic failure (always_fail)" in result.output
    assert task_key(SYN, tasks[3]) in result.output
    # an output root with one sweep per subdirectory
    from_root = CliRunner().invoke(_status_app(), ["status", str(tmp_path)])
    assert from_root.exit_code == 0 and "done: 2  failed: 1  remaining: 1" in from_root.output
    missing = CliRunner().invoke(_status_app(), ["status", str(out / "nothing")])
    assert missing.exit_code == 2 and "plan.json" in missing.output


# ---------------------------------------------------------------- validation
def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="repeats tasks\\[0\\]"):
        run_sweep(run_task, [{"p": 3}, {"p": 3}], tmp_path, progress=False)
    with pytest.raises(TypeError, match="task must be a callable"):
        run_sweep("ntphase.experiments.synthetic", [{"p": 3}], tmp_path, progress=False)
    with pytest.raises(TypeError, match="name must be a non-empty string"):
        run_sweep(run_task, [{"p": 3}], tmp_path, name="", progress=False)
    with pytest.raises(ValueError, match="executor must be one of"):
        run_sweep(run_task, [{"p": 3}], tmp_path, executor="threads", progress=False)
    with pytest.raises(ValueError, match="scheduler"):
        run_sweep(run_task, [{"p": 3}], tmp_path, executor="serial", scheduler="tcp://x:1")
    with pytest.raises(TypeError, match="tasks must be a list"):
        run_sweep(run_task, {"p": 3}, tmp_path, progress=False)


def test_one_sweep_per_directory(tmp_path):
    run_sweep(run_task, [{"p": 3}], tmp_path, executor="serial", progress=False)
    with pytest.raises(ValueError, match="one directory per sweep"):
        run_sweep(run_task, [{"p": 3}], tmp_path, name="other_experiment", progress=False)


def test_progress_bar_counts_done_and_failed(tmp_path, capsys):
    tasks = [{"p": 3}, {"p": 4}, {"p": 5, "always_fail": True}]
    with pytest.warns(RuntimeWarning):
        run_sweep(run_task, tasks, tmp_path, executor="serial", progress=True, retries=0)
    out = capsys.readouterr().out
    assert "3/3" in out and "failed 1" in out
    run_sweep(run_task, tasks[:2], tmp_path, executor="auto", progress=True)  # all done: no bar
    assert "/2" not in capsys.readouterr().out
