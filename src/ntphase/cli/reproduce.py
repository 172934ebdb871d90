"""``ntphase reproduce``: run every experiment and write ``DIR/report.html``."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from ntphase.cli._common import (
    DEFAULT_OUT,
    DEVICE_HELP,
    SCHEDULER_HELP,
    WORKERS_HELP,
    check_device,
    executor,
    fail,
    report_failures,
    run_one,
    task_counts,
)

HELP = (
    "Reproduce the paper's phenomena: run every experiment, then write OUT/report.html.\n\n"
    "Experiments: (1) phase_transition: lambda_min(K_N) against Nd/n; (2) spectrum: spikes and bulk of "
    "K_N and K; (3) double_descent: NT ridge test error against the width; (4) generalization: NT / KRR / "
    "PRR test error against n; (5) staircase: the same at large d, where the theorem lives, with the distances "
    "between the predictors; (6) lazy_training: gradient descent on the real network; (7) digits: "
    "scikit-learn's handwritten digits beside the isotropic theory (threshold and test error).\n\n"
    "Each experiment writes OUT/<experiment>/ (results.parquet, theory.parquet, config.yaml, run.yaml, "
    "figures/*.png|pdf). Resumable: rerunning skips finished tasks."
)


def reproduce(
    quick: bool = typer.Option(
        True, "--quick/--full",
        help="--quick (default): small sizes, every phenomenon visible; measured on an idle 2-core machine: "
             "1 min 50 s with the default Dask cluster; much longer when the cores are shared (README). "
             "--full: paper-scale sizes (hours; use --workers or --scheduler).",
    ),
    out: Path = typer.Option(DEFAULT_OUT, "--out", "-o", help="Output directory (one subdirectory per experiment)."),
    workers: int | None = typer.Option(None, "--workers", "-w", min=1, help=WORKERS_HELP),
    scheduler: str | None = typer.Option(None, "--scheduler", help=SCHEDULER_HELP),
    only: list[str] | None = typer.Option(
        None, "--only",
        help="Run only this experiment (repeatable): phase_transition, spectrum, double_descent, "
             "generalization, staircase, lazy_training, digits.",
    ),
    device: str = typer.Option("cpu", "--device", help=DEVICE_HELP),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show progress bars."),
) -> None:
    """Reproduce the paper's phenomena: run every experiment, then write DIR/report.html (see HELP)."""
    # lazy: keeps `ntphase --help` fast (see ntphase.cli._common)
    from ntphase.experiments import REGISTRY, available_experiments
    from ntphase.experiments.config import packaged_config
    from ntphase.experiments.report import build_report

    check_device(device)
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
            result, seconds = run_one(config, out, sched, progress, device)
            timings[name] = seconds
            counts = task_counts(result.table)
            typer.echo(f"    done in {seconds:.1f} s -> {out / name}" + (f" ({counts})" if counts else ""))
            n_failed += report_failures(result.directory)
    report = build_report(out, timings=timings)
    typer.secho(f"report: {report}  (total {time.perf_counter() - total:.1f} s)", fg=typer.colors.GREEN)
    if n_failed:
        raise typer.Exit(code=1)


def register(app: typer.Typer) -> None:
    """Add the ``reproduce`` command to the ``ntphase`` app."""
    app.command("reproduce", help=HELP)(reproduce)
