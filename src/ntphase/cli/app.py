"""The ``ntphase`` command line: one Typer app, one module per command."""

from __future__ import annotations

import typer

from ntphase.cli import report, reproduce, run, status, theory

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

for _command in (theory, reproduce, run, report, status):
    _command.register(app)


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
