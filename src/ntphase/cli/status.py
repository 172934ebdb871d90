"""``ntphase status DIR``: done / failed / remaining tasks of a sweep directory."""

from __future__ import annotations

import json
from pathlib import Path

import typer

#: At most this many failed tasks are listed one per line (the counts are always complete).
MAX_LISTED_FAILURES = 20


def _sweep_dirs(directory: Path) -> list[Path]:
    """``directory`` if it holds a sweep, else its immediate subdirectories that do."""
    if (directory / "plan.json").is_file():
        return [directory]
    if directory.is_dir():
        return sorted(p for p in directory.iterdir() if (p / "plan.json").is_file())
    return []


def status(
    directory: Path = typer.Argument(
        ...,
        help="Results directory of a sweep (holds plan.json), or an output root whose "
        "subdirectories are sweeps (one per experiment).",
    ),
    verify: bool = typer.Option(
        False, "--verify", help="Fully verify every part (checksums); slower."
    ),
) -> None:
    """Show how many tasks of a sweep are done, failed (with the last error) and remaining."""
    # lazy: keeps `ntphase --help` fast (see ntphase.cli._common)
    from ntphase.runtime.store import StoreError, sweep_status

    dirs = _sweep_dirs(directory)
    if not dirs:
        typer.echo(
            f"error: no plan.json in {directory} or its subdirectories: not a sweep results "
            f"directory",
            err=True,
        )
        raise typer.Exit(code=2)
    for sweep_dir in dirs:
        try:
            info = sweep_status(sweep_dir, verify=verify)
        except (OSError, StoreError) as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(code=2) from None
        typer.echo(f"sweep {sweep_dir} (experiment {info['experiment']})")
        typer.echo(
            f"total: {info['total']}  done: {len(info['done'])}  failed: {len(info['failed'])}  "
            f"remaining: {len(info['remaining'])}"
        )
        failed = info["failed"]
        for item in failed[:MAX_LISTED_FAILURES]:
            params = json.dumps(item["params"], sort_keys=True)
            typer.echo(
                f"  failed {item['key']} after {item['attempts']} attempts {params}: "
                f"{item['error']}"
            )
        if len(failed) > MAX_LISTED_FAILURES:
            typer.echo(f"  ... and {len(failed) - MAX_LISTED_FAILURES} more failed "
                       f"(see {sweep_dir / 'manifest.json'})")


def register(app: typer.Typer) -> None:
    """Add the ``status`` command to the ``ntphase`` app."""
    app.command("status")(status)
