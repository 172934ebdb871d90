"""``ntphase status DIR``: done / failed / remaining tasks of a sweep directory."""

from __future__ import annotations

import json
from pathlib import Path

import typer

#: At most this many failed tasks are listed one per line (the counts are always complete).
MAX_LISTED_FAILURES = 20


def status(
    directory: Path = typer.Argument(..., help="Results directory of a sweep (holds plan.json)."),
    verify: bool = typer.Option(
        False, "--verify", help="Fully verify every part (checksums); slower."
    ),
) -> None:
    """Show how many tasks of a sweep are done, failed (with the last error) and remaining."""
    from ntphase.store import sweep_status

    try:
        info = sweep_status(directory, verify=verify)
    except FileNotFoundError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from exc
    typer.echo(f"sweep {directory} (experiment {info['experiment']})")
    typer.echo(
        f"total: {info['total']}  done: {len(info['done'])}  failed: {len(info['failed'])}  "
        f"remaining: {len(info['remaining'])}"
    )
    failed = info["failed"]
    for item in failed[:MAX_LISTED_FAILURES]:
        params = json.dumps(item["params"], sort_keys=True)
        typer.echo(f"  failed {item['key']} after {item['attempts']} attempts {params}: {item['error']}")
    if len(failed) > MAX_LISTED_FAILURES:
        typer.echo(f"  ... and {len(failed) - MAX_LISTED_FAILURES} more failed (see manifest.json)")


def register(app: typer.Typer) -> None:
    """Add the ``status`` command to the ``ntphase`` app."""
    app.command("status")(status)
