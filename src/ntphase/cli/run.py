"""``ntphase run CONFIG.yaml``: run one experiment from a validated YAML config."""

from __future__ import annotations

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
    "Run one experiment from a YAML config: writes the tidy Parquet table, the config and run info, the "
    "theory table and the figures (PNG + PDF) to OUT/<experiment>/, then rebuilds OUT/report.html.\n\n"
    "Example config (YAML lines): 'experiment: spectrum', 'd: 30', 'n: 1000', "
    "'width_ratio: 16'. Unknown keys and bad values are errors naming the key. Resumable: tasks already stored "
    "in the directory are skipped (the summary line says how many). Exit status 1 when some tasks failed "
    "after every attempt (the message "
    "says how many and where the tracebacks are), 2 on a bad config, option or output directory."
)


def run(
    config_file: Path = typer.Argument(
        ..., metavar="CONFIG.yaml",
        help="YAML config naming its experiment ('experiment: phase_transition') and its fields; "
             "unknown keys and bad values are errors. Packaged examples: src/ntphase/configs/*.yaml.",
    ),
    out: Path = typer.Option(DEFAULT_OUT, "--out", "-o", help="Output directory; results go to OUT/<experiment>/."),
    workers: int | None = typer.Option(None, "--workers", "-w", min=1, help=WORKERS_HELP),
    scheduler: str | None = typer.Option(None, "--scheduler", help=SCHEDULER_HELP),
    report: bool = typer.Option(True, "--report/--no-report", help="Rebuild OUT/report.html afterwards."),
    device: str = typer.Option("cpu", "--device", help=DEVICE_HELP),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
) -> None:
    """Run one experiment config (see HELP)."""
    # lazy: keeps `ntphase --help` fast (see ntphase.cli._common)
    from ntphase.experiments.config import ConfigError, load_config
    from ntphase.experiments.report import build_report

    check_device(device)
    try:
        config = load_config(config_file)
    except (ConfigError, FileNotFoundError) as exc:
        fail(str(exc))
    with executor(workers, scheduler) as sched:
        result, seconds = run_one(config, out, sched, progress, device)
    counts = task_counts(result.table)
    typer.echo(f"{config.experiment}: {len(result.table)} rows in {seconds:.1f} s -> {result.directory}"
               + (f" ({counts})" if counts else ""))
    for path in result.figures:
        typer.echo(f"  figure {path}")
    n_failed = report_failures(result.directory)
    if report:
        typer.echo(f"report: {build_report(out, redraw=False)}")
    if n_failed:
        raise typer.Exit(code=1)


def register(app: typer.Typer) -> None:
    """Add the ``run`` command to the ``ntphase`` app."""
    app.command("run", help=HELP)(run)
