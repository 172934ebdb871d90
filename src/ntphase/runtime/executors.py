"""Executors of a sweep: where tasks run (in this process, or on Dask workers).

Each task runs ``execute_task``, on whichever process executes it: it calls
the task function ``task(params, seed)`` (sent to Dask workers by reference)
under a BLAS thread limit, writes the task's Parquet part itself (so a driver
crash loses no finished task), and returns a small outcome dict (plain types,
never the rows). It never raises on a task error: the traceback travels back
in the outcome and the driver decides on retries.

Executors call ``driver.submit_specs()`` / ``driver.record(outcome)``: the
driver (``ntphase.runtime.sweep._Driver``) owns the manifest, retries and progress.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import time
import traceback
import uuid
from collections.abc import Callable
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
    "BLAS_ENV_VARS",
]

#: Environment variables that fix the BLAS / OpenMP pool size of a worker process.
BLAS_ENV_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


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


def local_cluster(workers: int, blas_threads: int) -> Any:
    """A ``distributed.LocalCluster`` of ``workers`` processes on 127.0.0.1, one
    task thread each, whose processes start with ``blas_threads`` BLAS threads."""
    import dask
    from distributed import LocalCluster

    env = {var: str(blas_threads) for var in BLAS_ENV_VARS}
    # The nanny reads "pre-spawn-environ" (letting the driver's own environment
    # override it) and sets it before spawning, so the BLAS library sees it when
    # NumPy is first imported in the worker; ``env`` is applied again in the worker.
    saved = {var: os.environ.get(var) for var in BLAS_ENV_VARS}
    try:
        os.environ.update(env)
        with dask.config.set({"distributed.nanny.pre-spawn-environ": env}):
            return LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address="127.0.0.1:0",
                silence_logs=logging.ERROR,
                env=env,
            )
    finally:  # the driver's own environment is left as it was
        for var, value in saved.items():
            if value is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = value


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
        with Client(scheduler, set_as_default=False) as client:
            run_dask(driver, client, threads_per_worker)
        return
    n = workers or available_cores()
    blas = threads_per_worker or max(1, available_cores() // n)
    with local_cluster(n, blas) as cluster, Client(cluster, set_as_default=False) as client:
        run_dask(driver, client, blas)
