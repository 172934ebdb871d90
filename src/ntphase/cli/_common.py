"""Helpers shared by the commands: output default, help strings, errors, the executor.

Lazy imports (``ntphase.runtime``, ``ntphase.experiments``, ``distributed``) are
kept inside the functions so that ``ntphase --help`` and the light commands start
fast: the runtime and the experiments import pandas, SciPy and matplotlib.
"""

from __future__ import annotations

import contextlib
import shlex
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import typer

__all__ = [
    "DEFAULT_OUT",
    "DEVICE_HELP",
    "SCHEDULER_HELP",
    "WORKERS_HELP",
    "check_device",
    "command_line",
    "executor",
    "fail",
    "report_failures",
    "run_one",
    "task_counts",
]

DEFAULT_OUT = Path("ntphase-results")

WORKERS_HELP = (
    "Parallel workers. Default: the available cores. 1 runs serially in this process (BLAS uses the "
    "cores); more starts one local Dask cluster on 127.0.0.1 with that many single-threaded processes "
    "(many small tasks run much faster this way than with threaded BLAS)."
)
SCHEDULER_HELP = (
    "Address of a running Dask scheduler (tcp://host:port or tls://host:port) to run the tasks on "
    "(shared filesystem). TLS credentials come from Dask's configuration (docs/sweeps.md)."
)


def command_line() -> str:
    """The command line of this process, for run.yaml."""
    return " ".join(shlex.quote(a) for a in ["ntphase", *sys.argv[1:]])


def fail(message: str, code: int = 2) -> NoReturn:
    """Print an error and exit with ``code``."""
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code=code)


@contextlib.contextmanager
def executor(workers: int | None, scheduler: str | None) -> Iterator[Any]:
    """Yield what to pass as ``scheduler`` to the sweeps: the address given, ``None``
    (serial, for one worker), or a client of one local Dask cluster shared by every
    experiment of the command (started once, closed at the end)."""
    from ntphase.runtime import available_cores, connect  # CLI start-up: see the module docstring

    if scheduler is not None:
        try:  # a bad address or an unreachable scheduler: one line, in seconds
            remote = connect(scheduler)
        except (ValueError, TypeError, ConnectionError) as exc:
            fail(str(exc))
        try:
            yield remote
        finally:
            remote.close()
        return
    cores = available_cores()
    workers = cores if workers is None else workers
    if workers <= 1:
        yield None
        return
    from distributed import Client

    from ntphase.runtime import local_cluster

    cluster = local_cluster(workers, max(1, cores // workers))
    client = Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


DEVICE_HELP = (
    "Where kernels, spectra and solves compute: 'cpu' (NumPy, the default), 'cuda', 'cuda:1' (the first of "
    "PyTorch, CuPy, JAX that sees the GPU) or '<library>:<device>' ('jax:cpu', 'torch:cuda'); float64 always."
)


def check_device(device: str) -> None:
    """Exit with one line (code 2) when ``--device`` names a malformed or missing device."""
    from ntphase._util.backend import DeviceUnavailableError, resolve_device

    try:
        resolve_device(device)
    except DeviceUnavailableError as exc:
        fail(f"--device {device}: {exc.reason}")
    except ValueError as exc:
        fail(f"--device: {exc}")


def run_one(config, out: Path, scheduler: Any, progress: bool = True, device: str = "cpu"):
    """Run one config (sweep + theory + figures) and return ``(result, seconds)``.

    An unusable output directory (a file, read-only, corrupt ``manifest.json`` or
    ``plan.json``, locked by another driver) exits with one line, code 2."""
    from ntphase.experiments import run_experiment  # CLI start-up: see the module docstring
    from ntphase.runtime.store import StoreError

    start = time.perf_counter()
    try:
        with warnings.catch_warnings():  # failed tasks are reported by report_failures
            warnings.filterwarnings("ignore", message=r".* tasks failed after", category=RuntimeWarning)
            result = run_experiment(config, out, executor="serial" if scheduler is None else "dask",
                                    scheduler=scheduler, progress=progress, command=command_line(),
                                    device=device)
    except (OSError, StoreError) as exc:
        fail(f"{out / config.experiment}: {exc}")
    return result, time.perf_counter() - start


def task_counts(table: Any) -> str:
    """``"40 tasks: 12 already done (skipped), 28 run"`` from the counts the sweep left in
    ``table.attrs`` (empty string when they are missing)."""
    attrs = getattr(table, "attrs", {}) or {}
    if "tasks_total" not in attrs:
        return ""
    total, skipped, ran = attrs["tasks_total"], attrs["tasks_skipped"], attrs["tasks_run"]
    return f"{total} tasks: {skipped} already done (skipped), {ran} run"


def report_failures(directory: Path) -> int:
    """Print how many tasks of the sweep in ``directory`` failed and where the
    tracebacks are; return that number."""
    from ntphase.runtime.store import sweep_status

    info = sweep_status(directory)
    n_failed = len(info["failed"])
    if n_failed:
        typer.secho(
            f"error: {n_failed} of {info['total']} tasks of {info['experiment']} failed after every "
            f"attempt; tracebacks in {directory / 'manifest.json'} (summary: ntphase status {directory})",
            fg=typer.colors.RED, err=True,
        )
    return n_failed
