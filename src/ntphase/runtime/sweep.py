"""Sweeps: grids of independent tasks, run serially or on Dask, with a resumable store.

A sweep runs one *task function* ``task(params, seed) -> rows`` (a plain
module-level callable, so Dask can send it by reference) over a list of
parameter dicts. A task's key is a stable hash of the sweep's name and the
parameters (``task_key``) and its seed is
derived from the key only (``task_seed``), so a grid gives the same numbers
serially, on any number of Dask workers, and after a resume. Each finished
task's rows are written atomically as ``DIR/parts/<key>.parquet`` by the
process that computed them; rerunning the same sweep skips every task whose
part verifies, and recomputes missing, truncated or inconsistent ones.

Executors: ``"serial"`` (this process); ``"dask"`` on a local cluster of
``workers`` processes bound to 127.0.0.1 (TLS with temporary credentials), or on
any running scheduler given by ``scheduler="tcp://host:port"`` or ``"tls://host:port"``
(an SSH or SLURM cluster: see docs/sweeps.md);
``"auto"`` picks Dask when a scheduler is given or ``workers > 1``.

See ``ntphase.runtime.store`` for the directory layout and the part format.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import functools
import importlib.metadata
import itertools
import json
import os
import platform
import socket
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from rich import get_console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from ntphase._util.atomic import atomic_write_bytes, remove_temp_files
from ntphase._util.validation import check_choice, check_int
from ntphase.runtime.executors import run_on_dask, run_serial
from ntphase.runtime.store import (
    StoreError,
    assemble,
    load_manifest,
    load_plan,
    save_manifest,
    save_plan,
    verify_part,
)
from ntphase.runtime.task_keys import canonical_json, task_key, task_seed

__all__ = ["REPLICATE", "expand_grid", "lock_directory", "run_sweep", "task_name", "write_run_info"]

#: Name of the replicate parameter added by ``expand_grid(..., replicates=r)``.
REPLICATE = "replicate"
#: Least seconds between two manifest writes while a sweep runs (also written at the end).
MANIFEST_INTERVAL_S = 2.0


# ---------------------------------------------------------------- grids
def expand_grid(
    grid: Mapping[str, Sequence[Any]],
    fixed: Mapping[str, Any] | None = None,
    replicates: int | None = None,
) -> list[dict[str, Any]]:
    """Cartesian product of a parameter grid, as a list of task dicts.

    ``tasks = [fixed | dict(zip(grid, values)) for values in product(*grid.values())]``
    in the order of ``itertools.product`` (last parameter fastest), each task's
    items ordered as ``fixed`` then ``grid``.

    Parameters
    ----------
    grid : mapping of str to sequence
        Each parameter's values (a non-empty list or tuple; a ``range`` is fine).
    fixed : mapping, optional
        Parameters shared by every task; may not repeat a name of ``grid``.
    replicates : int, optional
        If given, each grid point is repeated ``replicates`` times with a
        parameter ``replicate = 0, ..., replicates - 1`` (the fastest index).
        The replicate is part of the task key, so each replicate gets its own
        seed ``task_seed(task_key(...))``: independent repetitions that are
        still reproducible. A grid may also list ``replicate`` itself.

    Returns
    -------
    list of dict
        ``prod(len(v) for v in grid.values()) * (replicates or 1)`` tasks.

    Examples
    --------
    >>> expand_grid({"n": [10, 20]}, fixed={"d": 5}, replicates=2)[:2]
    [{'d': 5, 'n': 10, 'replicate': 0}, {'d': 5, 'n': 10, 'replicate': 1}]
    """
    if not isinstance(grid, Mapping):
        raise TypeError(f"grid must be a dict of parameter -> list of values, got {type(grid).__name__}")
    fixed = dict(fixed or {})
    grid = {k: v for k, v in grid.items()}
    if replicates is not None:
        replicates = check_int("replicates", replicates, minimum=1)
        if REPLICATE in grid or REPLICATE in fixed:
            raise ValueError(f"replicates={replicates} given but {REPLICATE!r} is already a parameter")
        grid[REPLICATE] = list(range(replicates))
    overlap = sorted(set(grid) & set(fixed))
    if overlap:
        raise ValueError(f"parameters {overlap} appear both in grid and in fixed; give each once")
    values = []
    for name, vals in grid.items():
        if not isinstance(name, str):
            raise TypeError(f"grid keys must be strings, got {name!r}")
        if isinstance(vals, (str, bytes)) or not isinstance(vals, (Sequence, range)):
            raise TypeError(
                f"grid[{name!r}] must be a list of values, got {vals!r}; "
                f"put single values in fixed"
            )
        if len(vals) == 0:
            raise ValueError(f"grid[{name!r}] must have at least one value, got an empty list")
        values.append(list(vals))
    tasks = [{**fixed, **dict(zip(grid, combo))} for combo in itertools.product(*values)]
    for t in tasks[:1]:
        canonical_json(t, "task")  # fail early on unsupported value types
    return tasks


def task_name(task: Callable[..., Any]) -> str:
    """Default name of a task function: ``module.qualname`` (e.g. ``pkg.mod.run_task``)."""
    return f"{getattr(task, '__module__', '?')}.{getattr(task, '__qualname__', repr(task))}"


# ---------------------------------------------------------------- the driver
class _Driver:
    """Bookkeeping of one sweep run: pending tasks, manifest, retries, progress."""

    def __init__(self, name: str, task: Callable[..., Any], outdir: Path, todo: list[tuple[str, dict]],
                 manifest: dict, retries: int, progress: Any) -> None:
        self.name, self.task, self.outdir = name, task, outdir
        self.todo = todo
        self.params = dict(todo)
        self.manifest = manifest
        self.retries = retries
        self.progress = progress
        self.n_done = 0
        self.n_failed = 0
        self._last_save = time.monotonic()
        self._save_cost = 0.0

    def initial_specs(self) -> Iterator[dict]:
        for key, _ in self.todo:
            yield {"key": key, "attempt": 1}

    def call_args(self, spec: dict) -> tuple[Callable[..., Any], str, str, dict, int, str]:
        key = spec["key"]
        return (self.task, self.name, key, self.params[key], task_seed(key), str(self.outdir))

    def record(self, outcome: dict) -> dict | None:
        """Record one outcome; return the spec of a retry, or None."""
        key = outcome["key"]
        entry = self.manifest["tasks"].setdefault(key, {"attempts": 0})
        entry["attempts"] = int(entry.get("attempts") or 0) + 1
        entry["params"] = self.params[key]
        entry["seed"] = task_seed(key)
        entry["worker"] = outcome.get("worker")
        entry["elapsed_s"] = outcome.get("elapsed_s")
        entry["cpu_s"] = outcome.get("cpu_s")
        retry = None
        if outcome["status"] == "done":
            entry["status"] = "done"
            entry["n_rows"] = outcome.get("n_rows")
            if entry.get("error"):
                entry["last_error"] = entry.pop("error")
            self.n_done += 1
            self._advance()
        else:
            entry["status"] = "failed"
            entry["error"] = outcome.get("error")
            if outcome["attempt"] <= self.retries:
                retry = {"key": key, "attempt": outcome["attempt"] + 1}
            else:
                self.n_failed += 1
                self._advance()
        # rewriting the manifest is O(tasks): keep it under ~5% of the driver's time
        if time.monotonic() - self._last_save > max(MANIFEST_INTERVAL_S, 20 * self._save_cost):
            self.save()
        return retry

    def _advance(self) -> None:
        if self.progress is not None:
            progress, task_id = self.progress
            progress.update(task_id, advance=1, failed=self.n_failed)

    def save(self) -> None:
        start = time.monotonic()
        save_manifest(self.outdir, self.manifest)
        self._last_save = time.monotonic()
        self._save_cost = self._last_save - start


#: in line mode (output not a terminal), print a progress line each time this
#: fraction of the tasks has finished (and at the end)
PROGRESS_LINE_STEP = 0.1


class _LineProgress:
    """Progress for output that is not a terminal (a log file, a pipe, CI): plain lines.

    Same calls as the rich ``Progress`` the driver uses (``start``, ``update``,
    ``stop``); prints ``name: done/total tasks (pct %), failed k, elapsed`` each time
    another :data:`PROGRESS_LINE_STEP` of the tasks has finished, and at the end, so
    a long sweep shows signs of life in a log instead of one bar at the end.
    """

    def __init__(self, name: str, total: int, skipped: int, file: Any = None) -> None:
        self.name, self.total, self.skipped = name, total, skipped
        self.file = file
        self.done = 0
        self.failed = 0
        self._next = PROGRESS_LINE_STEP
        self._start = time.monotonic()

    def _print(self, text: str) -> None:
        print(text, file=self.file if self.file is not None else sys.stdout, flush=True)

    def start(self) -> None:
        self._start = time.monotonic()
        skipped = f" ({self.skipped} already done, skipped)" if self.skipped else ""
        self._print(f"{self.name}: {self.total} tasks to run{skipped}")

    def update(self, task_id: Any, advance: int = 1, failed: int = 0) -> None:
        self.done += advance
        self.failed = failed
        if self.done >= self.total or self.done >= self._next * self.total:
            while self._next * self.total <= self.done and self._next < 1.0 + 1e-9:
                self._next += PROGRESS_LINE_STEP
            elapsed = time.monotonic() - self._start
            eta = elapsed / self.done * (self.total - self.done) if self.done else float("nan")
            self._print(f"{self.name}: {self.done}/{self.total} tasks ({100 * self.done / self.total:.0f} %), "
                        f"failed {self.failed}, {elapsed:.0f} s elapsed, ETA {eta:.0f} s")

    def stop(self) -> None:
        pass


def _make_progress(name: str, total: int, skipped: int) -> Any:
    """A rich progress bar on a terminal, :class:`_LineProgress` lines otherwise."""
    if not get_console().is_terminal:
        return _LineProgress(name, total, skipped), None
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("failed {task.fields[failed]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
    desc = f"{name}" + (f" ({skipped} already done, skipped)" if skipped else "")
    task_id = progress.add_task(desc, total=total, failed=0)
    return progress, task_id


@contextlib.contextmanager
def lock_directory(outdir: str | os.PathLike) -> Iterator[Path]:
    """Hold ``outdir/driver.lock`` while a driver works in ``outdir`` (created if needed).

    One driver per results directory: a second one (another process) is refused
    at once with a :class:`ntphase.runtime.store.StoreError` naming the holder (host,
    pid, start time, command, from ``outdir/driver.json``). The lock is an OS
    file lock (``filelock``): it dies with its process, so the lock file left
    by a killed driver never blocks a resume. Re-entrant within one process
    (``run_experiment`` holds it around ``run_sweep``).

    Raises
    ------
    StoreError
        Another driver holds the lock.
    OSError
        ``outdir`` cannot be created or written (a file, read-only, ...).
    """
    from filelock import FileLock, Timeout

    outdir = Path(outdir).resolve()
    outdir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(outdir / "driver.lock", timeout=0, is_singleton=True)
    try:
        lock.acquire()
    except Timeout:
        try:
            holder = json.loads((outdir / "driver.json").read_text(encoding="utf-8"))
            who = (f"pid {holder.get('pid')} on {holder.get('host')}, started "
                   f"{holder.get('started_utc')}: {str(holder.get('command'))[:200]}")
        except (OSError, ValueError, AttributeError):
            who = "holder unknown"
        raise StoreError(
            f"{outdir} is in use by another ntphase driver ({who}); wait for it to finish, "
            f"stop it, or use another output directory"
        ) from None
    try:
        if lock.lock_counter == 1:  # the outermost holder records itself
            holder = {
                "host": socket.gethostname(),
                "pid": os.getpid(),
                "started_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                "command": " ".join(sys.argv),
            }
            atomic_write_bytes(outdir / "driver.json", json.dumps(holder).encode("utf-8"))
        yield outdir
    finally:
        lock.release()


def _locked(func: Any) -> Any:
    """Run ``func(experiment, tasks, outdir, ...)`` holding ``lock_directory(outdir)``."""

    @functools.wraps(func)
    def wrapper(experiment: Any, tasks: Any, outdir: str | os.PathLike, *args: Any, **kwargs: Any) -> Any:
        with lock_directory(outdir):
            return func(experiment, tasks, outdir, *args, **kwargs)

    return wrapper


@_locked
def run_sweep(
    task: Callable[[dict, int], Any],
    tasks: Sequence[Mapping[str, Any]],
    outdir: str | os.PathLike,
    name: str | None = None,
    executor: str = "auto",
    workers: int | None = None,
    scheduler: Any = None,
    retries: int = 2,
    progress: bool = True,
    threads_per_worker: int | None = None,
) -> pd.DataFrame:
    """Run ``task(params, task_seed(key))`` for every task not done yet.

    Each task's rows are written by the process that ran it to
    ``outdir/parts/<key>.parquet`` (atomically); the driver records outcomes in
    ``outdir/manifest.json`` and retries failed tasks up to ``retries`` times.
    Tasks whose part already verifies are skipped, so rerunning after a crash
    or an interruption only computes what is missing.

    Parameters
    ----------
    task : callable
        ``task(params: dict, seed: int) -> list[dict]`` whose rows each have
        ``quantity`` (str) and ``value`` (float). A module-level function, so
        that Dask workers can import it by reference.
    tasks : sequence of dict
        The parameters of each task (e.g. from ``expand_grid``). Two tasks with
        the same parameters are an error.
    outdir : path
        The results directory (created if needed). With a remote scheduler it
        must be a path every worker can write (a shared filesystem). One
        sweep per directory; one driver at a time (``lock_directory``: a
        second driver is refused with a ``StoreError`` naming the holder).
    name : str, optional
        The sweep's name: part of every task key (hence of every seed) and the
        ``experiment`` column. Default :func:`task_name` of ``task``.
    executor : {"auto", "serial", "dask"}
        ``"auto"``: Dask if ``scheduler`` is given or ``workers > 1``, else serial.
    workers : int, optional
        Local Dask cluster size (default: the available cores). Ignored with
        ``scheduler``.
    scheduler : str or distributed.Client, optional
        Address of a running Dask scheduler (``"tcp://host:port"`` or
        ``"tls://host:port"``, TLS credentials from Dask's configuration) or a
        client. A malformed address is a ``ValueError``; a scheduler that does
        not answer within ``ntphase.runtime.executors.CONNECT_TIMEOUT_S`` a ``ConnectionError``.
    retries : int
        Extra attempts for a failed task (so at most ``retries + 1`` in a run).
    progress : bool
        Show progress: a bar (done / total, failed, elapsed, ETA) on a terminal,
        otherwise a line each time another 10 % of the tasks has finished; the
        number of tasks skipped as already done is said in either case.
    threads_per_worker : int, optional
        BLAS / OpenMP threads each task may use (set with threadpoolctl around
        ``run_task``; for a local cluster also the workers' ``OMP_NUM_THREADS``,
        ``OPENBLAS_NUM_THREADS``, ``MKL_NUM_THREADS``). Default: local cluster
        ``max(1, cores // workers)`` so workers x threads = cores; serial and
        remote scheduler: unchanged (the library's / cluster's setting). For
        bitwise-identical results across executors, give the same value.

    Returns
    -------
    pandas.DataFrame
        ``assemble(outdir, keys of tasks)``: the tidy table of the tasks that
        succeeded (columns ``experiment, task_key, seed``, the parameters, the
        rows' columns), sorted by ``task_key`` then row order; also written to
        ``outdir/results.parquet``. Tasks that failed every attempt are absent
        from it and listed as failed in the manifest (a warning says how many).
        ``table.attrs`` holds the counts of this run: ``tasks_total``,
        ``tasks_skipped`` (already done, not recomputed), ``tasks_run`` and
        ``tasks_failed``.

    Notes
    -----
    Cost: one ``run_task`` per missing task, plus verifying every existing
    part (reading it) and assembling the table (``O(total rows)``).
    """
    executor = check_choice("executor", executor, ("auto", "serial", "dask"))
    retries = check_int("retries", retries, minimum=0)
    if workers is not None:
        workers = check_int("workers", workers, minimum=1)
    if threads_per_worker is not None:
        threads_per_worker = check_int("threads_per_worker", threads_per_worker, minimum=1)
    if scheduler is not None and executor == "serial":
        raise ValueError("scheduler is given but executor='serial'; use executor='dask' or 'auto'")
    if executor == "auto":
        executor = "dask" if (scheduler is not None or (workers or 1) > 1) else "serial"
    if not callable(task):
        raise TypeError(f"task must be a callable task(params, seed) -> rows, got {task!r}")
    if name is None:
        name = task_name(task)
    elif not isinstance(name, str) or not name:
        raise TypeError(f"name must be a non-empty string, got {name!r}")

    if isinstance(tasks, Mapping) or not isinstance(tasks, Sequence):
        raise TypeError(f"tasks must be a list of dicts, got {type(tasks).__name__}")
    planned: list[tuple[str, dict]] = []
    seen: dict[str, int] = {}
    for i, params in enumerate(tasks):
        if not isinstance(params, Mapping):
            raise TypeError(f"tasks[{i}] must be a dict of parameters, got {type(params).__name__}")
        key = task_key(name, params)
        if key in seen:
            raise ValueError(f"tasks[{i}] repeats tasks[{seen[key]}] (same parameters {dict(params)})")
        seen[key] = i
        planned.append((key, dict(params)))

    outdir = Path(outdir).resolve()
    (outdir / "parts").mkdir(parents=True, exist_ok=True)
    old_plan = load_plan(outdir)
    manifest = load_manifest(outdir)
    for source, exp in (("plan.json", (old_plan or {}).get("experiment")),
                        ("manifest.json", manifest.get("experiment"))):
        if exp is not None and exp != name:
            raise ValueError(
                f"outdir {outdir} holds a sweep of experiment {exp!r} ({source}), not {name!r}; "
                f"use one directory per sweep"
            )
    manifest["experiment"] = name
    save_plan(outdir, name, task_name(task), planned)
    remove_temp_files(outdir / "parts")

    todo = []
    for key, params in planned:
        if verify_part(outdir, key):
            entry = manifest["tasks"].setdefault(key, {"attempts": 1, "params": params,
                                                       "seed": task_seed(key)})
            entry["status"] = "done"
        else:
            todo.append((key, params))
    save_manifest(outdir, manifest)

    n_skipped = len(planned) - len(todo)
    if progress and not todo:
        print(f"{name}: all {n_skipped} tasks already done (skipped)", flush=True)
    bar = _make_progress(name, len(todo), n_skipped) if progress and todo else None
    driver = _Driver(name, task, outdir, todo, manifest, retries, bar)
    try:
        if bar is not None:
            bar[0].start()
        if not todo:
            pass
        elif executor == "serial":
            run_serial(driver, threads_per_worker)
        else:
            run_on_dask(driver, workers, scheduler, threads_per_worker)
    finally:
        if bar is not None:
            bar[0].stop()
        driver.save()
    if driver.n_failed:
        warnings.warn(
            f"{driver.n_failed} of {len(planned)} tasks failed after {retries + 1} attempts; "
            f"see {outdir / 'manifest.json'} or `ntphase status {outdir}`",
            RuntimeWarning,
            stacklevel=2,
        )
    table = assemble(outdir, keys=[k for k, _ in planned])
    table.attrs.update(tasks_total=len(planned), tasks_skipped=n_skipped, tasks_run=len(todo),
                       tasks_failed=driver.n_failed)
    return table


# ---------------------------------------------------------------- run info
def _versions() -> dict[str, str]:
    metadata = importlib.metadata
    out = {"python": sys.version.split()[0]}
    for dist in (
        "ntphase", "numpy", "scipy", "pandas", "pyarrow", "dask", "distributed", "scikit-learn"
    ):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


def write_run_info(outdir: str | os.PathLike, config: Any, command: str) -> tuple[Path, Path]:
    """Record exactly what ran: ``config.yaml`` and ``run.yaml`` in ``outdir``.

    ``config.yaml`` is the config itself (a dict, or a pydantic model dumped in
    JSON mode), so that ``ntphase run outdir/config.yaml`` reruns it.
    ``run.yaml`` holds the command line, the UTC time, the host, the platform
    and the versions of Python, ntphase, NumPy, SciPy, pandas, PyArrow, Dask.
    Both are written atomically. Returns their paths.
    """
    if hasattr(config, "model_dump"):
        config = config.model_dump(mode="json")
    if not isinstance(config, Mapping):
        raise TypeError(f"config must be a dict or a pydantic model, got {type(config).__name__}")
    if not isinstance(command, str):
        raise TypeError(f"command must be a string, got {type(command).__name__}")
    config = json.loads(json.dumps(dict(config)))  # plain types only; raises on objects
    outdir = Path(outdir)
    info = {
        "command": command,
        "time_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "versions": _versions(),
    }
    p1 = atomic_write_bytes(
        outdir / "config.yaml", yaml.safe_dump(config, sort_keys=False).encode("utf-8")
    )
    p2 = atomic_write_bytes(
        outdir / "run.yaml", yaml.safe_dump(info, sort_keys=False).encode("utf-8")
    )
    return p1, p2
