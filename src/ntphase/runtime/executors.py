"""Executors of a sweep: where tasks run (in this process, or on Dask workers).

Each task runs ``execute_task``, on whichever process executes it: it calls
the task function ``task(params, seed)`` (sent to Dask workers by reference)
under a BLAS thread limit, writes the task's Parquet part itself (so a driver
crash loses no finished task), and returns a small outcome dict (plain types,
never the rows). It never raises on a task error: the traceback travels back
in the outcome and the driver decides on retries.

Executors call ``driver.submit_specs()`` / ``driver.record(outcome)``: the
driver (``ntphase.runtime.sweep._Driver``) owns the manifest, retries and progress.

Security: a local cluster (``local_cluster``) listens on 127.0.0.1 only and
speaks TLS with mutual authentication, using temporary credentials made for it
(``distributed.security.Security.temporary``), so another user of the machine
cannot connect to it and run code as the sweep's user. Its credentials are kept
in a private connection file (``<runtime dir>/ntphase-<uid>/``, mode 0700/0600)
while it runs, so a process of the same user can reach it by address. A remote
scheduler's credentials come from Dask's configuration (``distributed.comm.tls.*``,
see docs/sweeps.md).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import socket
import tempfile
import time
import traceback
import uuid
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

from threadpoolctl import threadpool_limits

from ntphase.runtime.store import write_part

# dask / distributed are imported inside the Dask executors only: they are heavy
# and a serial sweep (the default on one core) never needs them.

__all__ = [
    "execute_task",
    "run_serial",
    "run_dask",
    "run_on_dask",
    "local_cluster",
    "available_cores",
    "check_scheduler_address",
    "connect",
    "BLAS_ENV_VARS",
    "CONNECT_TIMEOUT_S",
]

#: Environment variables that fix the BLAS / OpenMP pool size of a worker process.
BLAS_ENV_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
#: Seconds to wait for a Dask scheduler to answer before giving up with one line.
CONNECT_TIMEOUT_S = 5.0
_SCHEMES = ("tcp", "tls")
_HOST = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+)$")


def check_scheduler_address(address: Any) -> str:
    """Return ``address`` if it reads ``tcp://host:port`` or ``tls://host:port``, else raise.

    Raises
    ------
    TypeError
        ``address`` is not a string.
    ValueError
        Another scheme, no port, a port outside 1..65535, or a malformed host.
    """
    if not isinstance(address, str):
        raise TypeError(f"scheduler must be an address string or a Client, got {address!r}")
    scheme, sep, rest = address.strip().partition("://")
    host, colon, port = rest.rpartition(":")
    if (
        not sep
        or scheme not in _SCHEMES
        or not colon
        or not _HOST.match(host)
        or not port.isdigit()
        or not 1 <= int(port) <= 65535
    ):
        raise ValueError(
            f"scheduler must be an address like tcp://host:port or tls://host:port "
            f"(port 1-65535), got {address[:200]!r}"
        )
    return address.strip()


def _runtime_dir(create: bool = False) -> Path | None:
    """This user's private directory for connection files, or None if it is not safe."""
    getuid = getattr(os, "getuid", None)
    if getuid is None:  # pragma: no cover - Windows
        return None
    base = os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
    path = Path(base) / f"ntphase-{getuid()}"
    try:
        if create:
            path.mkdir(mode=0o700, exist_ok=True)
        st = path.lstat()
    except OSError:
        return None
    import stat

    if not stat.S_ISDIR(st.st_mode) or st.st_uid != getuid() or st.st_mode & 0o077:
        return None  # not ours, or readable by others: never trust it
    return path


def _connection_file(address: str, create: bool = False) -> Path | None:
    directory = _runtime_dir(create)
    if directory is None:
        return None
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", f"{socket.gethostname()}-{address}")
    return directory / f"dask-{name}.json"


def _save_credentials(address: str, security: Any) -> Path | None:
    """Write the local cluster's credentials (mode 0600) for same-user processes."""
    path = _connection_file(address, create=True)
    if path is None:
        return None
    data = {"address": address, "cert": security.tls_client_cert, "key": security.tls_client_key,
            "ca": security.tls_ca_file}
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh)
    return path


def _load_credentials(address: str) -> Any:
    """The ``Security`` of a running local cluster of this user at ``address``, or None."""
    path = _connection_file(address)
    if path is None or not address.startswith("tls://"):
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("address") != address:
        return None
    from distributed.security import Security

    return Security(require_encryption=True, tls_ca_file=data["ca"], tls_client_cert=data["cert"],
                    tls_client_key=data["key"])


def connect(address: str, timeout: float | None = None) -> Any:
    """A ``distributed.Client`` of the scheduler at ``address``, or one clear error.

    Credentials: a local cluster of this user started by ``local_cluster`` (its
    connection file), else Dask's configuration (``distributed.comm.tls.ca-file``,
    ``distributed.comm.tls.client.cert``, ``distributed.comm.tls.client.key``).

    Raises
    ------
    ValueError
        A malformed address (``check_scheduler_address``).
    ConnectionError
        No answer within ``timeout`` seconds (default ``CONNECT_TIMEOUT_S``), or
        the TLS handshake failed (wrong or missing credentials).
    """
    from distributed import Client

    address = check_scheduler_address(address)
    timeout = CONNECT_TIMEOUT_S if timeout is None else float(timeout)
    security = _load_credentials(address)
    try:
        return Client(address, timeout=timeout, set_as_default=False, security=security)
    except (OSError, TimeoutError, ValueError, TypeError) as exc:
        reason = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise ConnectionError(
            f"cannot connect to the Dask scheduler at {address} within {timeout:g} s ({reason}); "
            f"check that it runs, the address and port, and the TLS credentials (docs/sweeps.md)"
        ) from None


def available_cores() -> int:
    """CPU cores this process may use (the affinity mask where available)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return max(1, os.cpu_count() or 1)


def execute_task(
    task: Callable[[dict, int], Any],
    experiment: str,
    key: str,
    params: dict,
    seed: int,
    outdir: str,
    blas_threads: int | None = None,
    attempt: int = 1,
) -> dict[str, Any]:
    """Run one task and write its part; return the outcome (never raises on task errors).

    Returns
    -------
    dict
        ``key``, ``attempt``, ``status`` (``"done"`` or ``"failed"``),
        ``n_rows``, ``error`` (the traceback text, or None), ``elapsed_s``,
        ``cpu_s`` (CPU seconds of the executing process meanwhile), ``worker``
        (``host:pid``).
    """
    start = time.perf_counter()
    cpu_start = time.process_time()
    outcome: dict[str, Any] = {
        "key": key,
        "attempt": attempt,
        "worker": f"{socket.gethostname()}:{os.getpid()}",
        "n_rows": 0,
        "error": None,
    }
    try:
        if blas_threads is not None:
            limiter: Any = threadpool_limits(limits=int(blas_threads))
        else:
            limiter = contextlib.nullcontext()
        with limiter:
            rows = task(dict(params), int(seed))
        rows = list(rows)
        write_part(outdir, experiment, key, seed, params, rows)
        outcome["status"] = "done"
        outcome["n_rows"] = len(rows)
    except Exception:  # noqa: BLE001 - any task error is recorded, then retried
        outcome["status"] = "failed"
        outcome["error"] = traceback.format_exc()
    outcome["elapsed_s"] = time.perf_counter() - start
    outcome["cpu_s"] = time.process_time() - cpu_start
    return outcome


def run_serial(driver: Any, blas_threads: int | None) -> None:
    """Run every pending task in this process, one after the other, with retries."""
    queue = list(driver.initial_specs())
    while queue:
        spec = queue.pop(0)
        task, name, key, params, seed, outdir = driver.call_args(spec)
        outcome = execute_task(task, name, key, params, seed, outdir, blas_threads=blas_threads,
                               attempt=spec["attempt"])
        retry = driver.record(outcome)
        if retry is not None:
            queue.insert(0, retry)


def _failure_from_exception(spec: dict, exc: BaseException) -> dict[str, Any]:
    return {
        "key": spec["key"],
        "attempt": spec["attempt"],
        "status": "failed",
        "n_rows": 0,
        "error": "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)),
        "elapsed_s": None,
        "cpu_s": None,
        "worker": None,
    }


def run_dask(driver: Any, client: Any, blas_threads: int | None) -> None:
    """Submit every pending task to a ``distributed.Client`` and collect outcomes.

    Outcomes are collected with ``distributed.as_completed`` as they finish.
    A worker that dies mid-task is handled by Dask (the scheduler reschedules
    its tasks on the others, up to ``distributed.scheduler.allowed-failures``
    times); a task that exhausts that raises ``KilledWorker`` here and counts
    as one failed attempt of the sweep, retried like any other failure.
    """
    from distributed import as_completed

    token = uuid.uuid4().hex[:8]  # never reuse a stale future of an earlier driver

    def submit(spec: dict) -> Any:
        fut = client.submit(
            execute_task,
            *driver.call_args(spec),
            blas_threads=blas_threads,
            attempt=spec["attempt"],
            key=f"ntphase-{spec['key']}-{spec['attempt']}-{token}",
            retries=0,
        )
        specs[fut.key] = spec
        return fut

    specs: dict[Any, dict] = {}
    futures = [submit(spec) for spec in driver.initial_specs()]
    if not futures:
        return
    completed = as_completed(futures, loop=client.loop)
    for fut in completed:
        spec = specs.pop(fut.key)
        try:
            outcome = fut.result()
        except Exception as exc:  # noqa: BLE001 - KilledWorker, CommClosedError, ...
            outcome = _failure_from_exception(spec, exc)
        fut.release()
        retry = driver.record(outcome)
        if retry is not None:
            completed.add(submit(retry))


def local_cluster(workers: int, blas_threads: int, security: Any = True) -> Any:
    """A ``distributed.LocalCluster`` of ``workers`` processes on 127.0.0.1, one
    task thread each, whose processes start with ``blas_threads`` BLAS threads.

    ``security=True`` (default): TLS with mutual authentication and temporary
    credentials (``Security.temporary()``; a client needs them, ``Client(cluster)``
    has them, other processes of this user find them by address); a
    ``distributed.security.Security`` is used as given; ``False``: plain TCP,
    no authentication (any local user can connect: avoid on shared machines).
    """
    import dask
    from distributed import LocalCluster
    from distributed.security import Security

    if security is True:
        security = Security.temporary()
    elif security is False:
        security = None
    elif not isinstance(security, Security):
        raise TypeError(f"security must be True, False or a distributed Security, got {security!r}")

    env = {var: str(blas_threads) for var in BLAS_ENV_VARS}
    # The nanny reads "pre-spawn-environ" (letting the driver's own environment
    # override it) and sets it before spawning, so the BLAS library sees it when
    # NumPy is first imported in the worker; ``env`` is applied again in the worker.
    saved = {var: os.environ.get(var) for var in BLAS_ENV_VARS}
    try:
        os.environ.update(env)
        with dask.config.set({"distributed.nanny.pre-spawn-environ": env}):
            cluster = LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address="127.0.0.1:0",
                silence_logs=logging.ERROR,
                env=env,
                security=security,
                protocol="tls://" if security is not None else None,
            )
        if security is not None:
            with contextlib.suppress(OSError):
                path = _save_credentials(cluster.scheduler_address, security)
                if path is not None:
                    weakref.finalize(cluster, _remove_file, path)
        return cluster
    finally:  # the driver's own environment is left as it was
        for var, value in saved.items():
            if value is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = value


def _remove_file(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


def run_on_dask(driver: Any, workers: int | None, scheduler: Any,
                threads_per_worker: int | None) -> None:
    """Run the driver's tasks on ``scheduler`` (address or Client), or on a new local cluster
    of ``workers`` processes (default: the available cores) with
    ``threads_per_worker`` BLAS threads each (default: ``cores // workers``)."""
    from distributed import Client

    if scheduler is not None:
        if isinstance(scheduler, Client):
            run_dask(driver, scheduler, threads_per_worker)
            return
        if not isinstance(scheduler, str):
            raise TypeError(f"scheduler must be an address string or a Client, got {scheduler!r}")
        with connect(scheduler) as client:
            run_dask(driver, client, threads_per_worker)
        return
    n = workers or available_cores()
    blas = threads_per_worker or max(1, available_cores() // n)
    with local_cluster(n, blas) as cluster, Client(cluster, set_as_default=False) as client:
        run_dask(driver, client, blas)
