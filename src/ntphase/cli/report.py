"""``ntphase report DIR``: redraw the figures and rebuild ``DIR/report.html`` from stored tables."""

from __future__ import annotations

from pathlib import Path

import typer

from ntphase.cli._common import fail

HELP = (
    "Rebuild every figure (PNG + PDF) from the stored tables and write DIR/report.html.\n\n"
    "No simulation is rerun: figures, the theory-constants table and the theory-vs-simulation agreement "
    "table are computed from DIR/<experiment>/results.parquet, theory.parquet and config.yaml."
)


def report(
    directory: Path = typer.Argument(
        ..., metavar="DIR", help="Results directory written by `ntphase reproduce` or `ntphase run` (holds <experiment>/)."
    ),
) -> None:
    """Rebuild figures and DIR/report.html from stored tables (see HELP)."""
    # lazy: keeps `ntphase --help` fast (see ntphase.cli._common)
    from ntphase.experiments.report import build_report

    if not directory.is_dir():
        fail(f"DIR {str(directory)!r} does not exist")
    try:
        path = build_report(directory)
    except FileNotFoundError as exc:
        fail(str(exc))
    typer.echo(f"report: {path}")


def register(app: typer.Typer) -> None:
    """Add the ``report`` command to the ``ntphase`` app."""
    app.command("report", help=HELP)(report)
