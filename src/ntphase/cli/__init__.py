"""The ``ntphase`` command line: one Typer app, one module per command."""

from ntphase.cli.app import app

__all__ = ["app"]
