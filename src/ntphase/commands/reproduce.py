"""``ntphase reproduce``: run every experiment and write ``DIR/report.html``."""

from __future__ import annotations

import contextlib
import shlex
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer

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


def fail(message: str, code: int = 2) -> None:
    """Print an error and exit with ``code``."""
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code=code)


@contextlib.contextmanager
def executor(workers: int | None, scheduler: str | None) -> Iterator[Any]:
    """Yield what to pass as ``scheduler`` to the sweeps: the address given, ``None``
    (serial, for one worker), or a client of one local Dask cluster shared by every
    experiment of the command (started once, closed at the end)."""
    from ntphase.executors import available_cores, connect

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

    from ntphase.executors import local_cluster

    cluster = local_cluster(workers, max(1, cores // workers))
    client = Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


def run_one(config, out: Path, scheduler: Any, progress: bool = True):
    """Run one config (sweep + theory + figures) and return ``(result, seconds)``.

    An unusable output directory (a file, read-only, corrupt ``manifest.json`` or
    ``plan.json``, locked by another driver) exits with one line, code 2."""
    import warnings

    from ntphase.experiments import run_experiment
    from ntphase.store import StoreError

    start = time.perf_counter()
    try:
        with warnings.catch_warnings():  # failed tasks are reported by report_failures
            warnings.filterwarnings("ignore", message=r".* tasks failed after", category=RuntimeWarning)
            result = run_experiment(config, out, executor="serial" if scheduler is None else "dask",
                                    scheduler=scheduler, progress=progress, command=command_line())
    except (OSError, StoreError) as exc:
        fail(f"{out / config.experiment}: {exc}")
    return result, time.perf_counter() - start


def report_failures(directory: Path) -> int:
    """Print how many tasks of the sweep in ``directory`` failed and where the
    tracebacks are; return that number."""
    from ntphase.store import sweep_status

    info = sweep_status(directory)
    n_failed = len(info["failed"])
    if n_failed:
        typer.secho(
            f"error: {n_failed} of {info['total']} tasks of {info['experiment']} failed after every "
            f"attempt; tracebacks in {directory / 'manifest.json'} (summary: ntphase status {directory})",
            fg=typer.colors.RED, err=True,
        )
    return n_failed


HELP = (
    "Reproduce the paper's phenomena: run every experiment, then write OUT/report.html.\n\n"
    "Experiments: (1) phase_transition: lambda_min(K_N) against Nd/n; (2) spectrum: spikes and bulk of "
    "K_N and K; (3) double_descent: NT ridge test error against the width; (4) generalization: NT / KRR / "
    "PRR test error against n; (5) lazy_training: gradient descent on the real network.\n\n"
    "Each experiment writes OUT/<experiment>/ (results.parquet, theory.parquet, config.yaml, run.yaml, "
    "figures/*.png|pdf). Resumable: rerunning skips finished tasks."
)


def reproduce(
    quick: bool = typer.Option(
        True, "--quick/--full",
        help="--quick (default): small sizes, about 5 minutes on 2 cores, every phenomenon visible. "
             "--full: paper-scale sizes (hours; use --workers or --scheduler).",
    ),
    out: Path = typer.Option(DEFAULT_OUT, "--out", "-o", help="Output directory (one subdirectory per experiment)."),
    workers: int | None = typer.Option(None, "--workers", "-w", min=1, help=WORKERS_HELP),
    scheduler: str | None = typer.Option(None, "--scheduler", help=SCHEDULER_HELP),
    only: list[str] | None = typer.Option(
        None, "--only",
        help="Run only this experiment (repeatable): phase_transition, spectrum, double_descent, "
             "generalization, lazy_training.",
    ),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show progress bars."),
) -> None:
    """Reproduce the paper's phenomena: run every experiment, then write DIR/report.html (see HELP)."""
    from ntphase.experiments import REGISTRY, available_experiments
    from ntphase.experiments.config import packaged_config
    from ntphase.report import build_report

    preset = "quick" if quick else "full"
    names = list(REGISTRY)
    if only:
        unknown = [n for n in only if n not in REGISTRY]
        if unknown:
            fail(f"--only must name experiments among {', '.join(REGISTRY)}; got {', '.join(unknown)}")
        names = [n for n in names if n in only]
    present = set(available_experiments())
    missing = [n for n in names if n not in present]
    for name in missing:
        typer.secho(f"skipping {name}: its module is not installed yet", fg=typer.colors.YELLOW, err=True)
    names = [n for n in names if n in present]
    if not names:
        fail("no experiment to run")
    out.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    total = time.perf_counter()
    n_failed = 0
    with executor(workers, scheduler) as sched:
        for i, name in enumerate(names, 1):
            config = packaged_config(name, preset)
            typer.secho(f"[{i}/{len(names)}] {name} ({preset})", bold=True)
            result, seconds = run_one(config, out, sched, progress)
            timings[name] = seconds
            typer.echo(f"    done in {seconds:.1f} s -> {out / name}")
            n_failed += report_failures(result.directory)
    report = build_report(out, timings=timings)
    typer.secho(f"report: {report}  (total {time.perf_counter() - total:.1f} s)", fg=typer.colors.GREEN)
    if n_failed:
        raise typer.Exit(code=1)


def register(app: typer.Typer) -> None:
    """Add the ``reproduce`` command to the ``ntphase`` app."""
    app.command("reproduce", help=HELP)(reproduce)
