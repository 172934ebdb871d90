"""The ``ntphase`` command line: one Typer app, one module per command."""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    name="ntphase",
    help=(
        "The interpolation phase transition of two-layer networks in the neural "
        "tangent regime: theory constants, experiments, sweeps and reports."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)

# Each module under ntphase/commands exposes register(app).
_COMMAND_MODULES = ("theory", "reproduce", "run", "report", "status")

for _name in _COMMAND_MODULES:
    try:
        _module = importlib.import_module(f"ntphase.commands.{_name}")
    except ModuleNotFoundError as exc:  # a command not written yet
        if exc.name != f"ntphase.commands.{_name}":
            raise
        continue
    _module.register(app)


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
