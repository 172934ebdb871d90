"""Hardening of the sweep store: damaged parts, the driver lock, file modes, corrupt
bookkeeping files.

Oracles: an undamaged run of the same tasks (``assert_frame_equal``, exact: same
seeds, same float64 numbers); the documented layout (``ntphase.runtime.store``); POSIX
permission bits ``0o666 & ~umask`` (what ``open`` gives a new file); the pid of the
process that holds the lock.
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys

import pandas as pd
import pytest

from ntphase.experiments.synthetic import run_task as SYN  # noqa: E402, N812 - the synthetic task
from ntphase.runtime.store import (
    StoreError,
    load_manifest,
    load_plan,
    part_path,
    sweep_status,
    task_key,
    verify_part,
)
from ntphase.runtime.sweep import run_sweep, task_name

TASKS = [{"p": 3}, {"p": 4}, {"p": 5}]
pytestmark = pytest.mark.timeout(60)


def _run(outdir, tasks=TASKS, **kw):
    return run_sweep(SYN, tasks, outdir, executor="serial", progress=False, **kw)


# ---------------------------------------------------------------- damaged parts
def test_invalid_utf8_in_part_footer_means_recompute(tmp_path):
    reference = _run(tmp_path / "ref")
    out = tmp_path / "damaged"
    _run(out)
    path = part_path(out, task_key(task_name(SYN), TASKS[0]))
    data = bytearray(path.read_bytes())
    # the first "quantity" is the column name in the Thrift footer: one byte -> invalid UTF-8
    where = data.find(b"quantity")
    data[where + 1] = 0xFF
    path.write_bytes(bytes(data))
    key = task_key(task_name(SYN), TASKS[0])
    assert not verify_part(out, key, full=False)  # was: UnicodeDecodeError
    assert not verify_part(out, key, full=True)
    info = sweep_status(out)
    assert info["remaining"] == [key] and len(info["done"]) == 2
    resumed = _run(out)  # recomputes the damaged part
    pd.testing.assert_frame_equal(resumed, reference)
    assert verify_part(out, key)


# ---------------------------------------------------------------- one driver per directory
_HOLDER = (
    "import sys, time\n"
    "from ntphase.runtime.sweep import lock_directory\n"
    "with lock_directory(sys.argv[1]):\n"
    "    print('locked', flush=True)\n"
    "    time.sleep(60)\n"
)


def _hold_lock(outdir):
    proc = subprocess.Popen([sys.executable, "-c", _HOLDER, str(outdir)], stdout=subprocess.PIPE,
                            text=True, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_second_driver_is_refused_naming_the_holder_and_a_killed_one_does_not_block(tmp_path):
    out = tmp_path / "exp"
    proc = _hold_lock(out)
    try:
        with pytest.raises(StoreError, match=rf"in use by another ntphase driver \(pid {proc.pid} on "):
            _run(out)
        # nothing was written by the refused driver
        assert not (out / "plan.json").exists() and not (out / "manifest.json").exists()
    finally:
        proc.kill()  # SIGKILL: the lock file stays behind, its OS lock dies with the process
        proc.wait()
    df = _run(out)  # the stale lock does not block the resume
    assert df["task_key"].nunique() == len(TASKS)
    holder = json.loads((out / "driver.json").read_text())
    assert holder["pid"] == os.getpid()


# ---------------------------------------------------------------- permissions
@pytest.mark.parametrize("mask", [0o022, 0o077])
def test_files_follow_the_umask(tmp_path, mask):
    old = os.umask(mask)
    try:
        _run(tmp_path)
    finally:
        os.umask(old)
    expected = 0o666 & ~mask  # what open() gives a new file under this umask
    files = [tmp_path / "plan.json", tmp_path / "manifest.json", tmp_path / "results.parquet",
             tmp_path / "driver.json", *(tmp_path / "parts").glob("*.parquet")]
    assert len(files) == 4 + len(TASKS)
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == expected, path.name


# ---------------------------------------------------------------- corrupt bookkeeping
@pytest.mark.parametrize(
    ("name", "content", "match"),
    [
        ("manifest.json", b"{not json", "is not valid JSON"),
        ("manifest.json", b"\xff\xfe{}", "is not valid JSON"),
        ("manifest.json", b"[1, 2]", "is not a valid ntphase manifest"),
        ("manifest.json", b'{"tasks": 3}', "is not a valid ntphase manifest"),
        ("plan.json", b'{"tasks": [{"key": 1}]}', "is not a valid ntphase plan"),
        ("plan.json", b'"text"', "is not a valid ntphase plan"),
    ],
)
def test_corrupt_manifest_or_plan_is_one_clear_error(tmp_path, name, content, match):
    _run(tmp_path)
    (tmp_path / name).write_bytes(content)
    with pytest.raises(StoreError, match=match) as info:
        load_manifest(tmp_path) if name == "manifest.json" else load_plan(tmp_path)
    message = str(info.value)
    assert "\n" not in message and "delete it to rebuild" in message
    with pytest.raises(StoreError, match=re.escape(str(tmp_path / name))):
        _run(tmp_path)


# ---------------------------------------------------------------- Dask: TLS by default
@pytest.fixture(scope="module")
def tls_cluster():
    from ntphase.runtime.executors import local_cluster

    with local_cluster(1, 1) as cluster:
        yield cluster


def _refused(address, security=None):
    """Whether a client with ``security`` fails to connect within 2 s (loopback only)."""
    from distributed import Client

    try:
        client = Client(address, timeout=2, set_as_default=False, security=security)
    except (OSError, TimeoutError, ValueError, TypeError):
        return True
    client.close()
    return False


def test_local_cluster_speaks_tls_and_refuses_clients_without_its_credentials(tls_cluster):
    from distributed import Client
    from distributed.security import Security

    address = tls_cluster.scheduler_address
    assert address.startswith("tls://127.0.0.1:")  # was: tcp://, no authentication
    with Client(tls_cluster, set_as_default=False) as client:  # the cluster's own credentials
        assert client.submit(pow, 3, 4).result(timeout=10) == 81
    assert _refused(address.replace("tls://", "tcp://"))  # plain TCP: no handshake
    assert _refused(address, Security.temporary())  # TLS, but a certificate it did not issue


def test_local_cluster_credentials_are_private_to_the_user(tls_cluster):
    from ntphase.runtime.executors import _connection_file

    path = _connection_file(tls_cluster.scheduler_address)
    assert path is not None and path.is_file()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_remote_tls_scheduler_with_credentials_from_dask_config(tmp_path):
    """docs/sweeps.md: a remote scheduler's credentials come from distributed.comm.tls.*"""
    import dask
    from distributed import LocalCluster
    from distributed.security import Security

    sec = Security.temporary()
    (tmp_path / "ca.pem").write_text(sec.tls_ca_file)
    (tmp_path / "cert.pem").write_text(sec.tls_client_cert)
    (tmp_path / "key.pem").write_text(sec.tls_client_key)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, host="127.0.0.1",
                      dashboard_address=None, security=sec, protocol="tls://") as cluster:
        address = cluster.scheduler_address
        with pytest.raises(ConnectionError, match="cannot connect to the Dask scheduler"):
            from ntphase.runtime import executors

            executors.connect(address, timeout=2)  # no credentials configured: refused
        config = {
            "distributed.comm.tls.ca-file": str(tmp_path / "ca.pem"),
            "distributed.comm.tls.client.cert": str(tmp_path / "cert.pem"),
            "distributed.comm.tls.client.key": str(tmp_path / "key.pem"),
        }
        with dask.config.set(config):
            df = run_sweep(SYN, TASKS, tmp_path / "out", scheduler=address, progress=False)
    # oracle: the serial run of the same tasks
    pd.testing.assert_frame_equal(df, _run(tmp_path / "serial"))
