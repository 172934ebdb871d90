"""``ntphase theory``: theory constants, spectrum predictions and (with ``--risk``) test-risk predictions."""

from __future__ import annotations

import json
import math
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

_HELP = """Theory constants and predictions for the NT kernel on the sphere (docs/theory.md, sections 2-6).

Prints the level l (the degrees that n samples fill), H(1), E[sigma'(G)^2], the Hermite
coefficients mu_0..mu_8 of sigma', gamma_l = sum_{j>=l} mu_j^2/j! (d = infinity),
B(d,k), xi_{d,k} and B(d,k) xi_{d,k} for k <= lmax, the finite-d self-induced ridge
gamma_{>l} = H(1) - sum_{k<=l} B(d,k) xi_{d,k}, the spike groups (B(d,k) eigenvalues near
n xi_{d,k} + gamma_{>l}) and the bulk (mean gamma_{>l}), and the Gaussian-equivalent
lower edge of the spectrum (the predicted lambda_min(K)).

With --width N: the predicted lambda_min(K_N) at that width, from (activation, d, n, N)
alone (lower edge of the law of K times Marchenko-Pastur of ratio n/(N d); 0 for N d <= n).
A warning is printed when a present degree nearly fills n (0.9 n <= B(d,k) <= n/0.9):
there the spike/bulk picture and the Gaussian equivalence behind these predictions fail.

With --risk (implied by --energy): test-risk predictions for a target with energy c_k^2 in
degree k (--energy k=c2, repeatable; required: without a target every risk is 0) and noise
variance tau^2 (--noise tau): the asymptotic risk
||P_{>l} f*||^2, the KRR deterministic equivalent, PRR (kernel K_{<=l}, ridge
lambda + gamma_{>l}), and (with --width N) NT ridge at width N (random-features
deterministic equivalent with p = N d features), for each --ridge lambda.
"""


def _parse_energies(values: list[str]) -> dict[int, float]:
    out: dict[int, float] = {}
    for item in values:
        key, sep, val = item.partition("=")
        try:
            if not sep:
                raise ValueError
            k, c2 = int(key.strip()), float(val.strip())
        except ValueError:
            raise typer.BadParameter(f"expected DEGREE=ENERGY such as 2=0.5, got {item!r}", param_hint="--energy") from None
        if k < 0 or not math.isfinite(c2) or c2 < 0:
            raise typer.BadParameter(
                f"degree must be an integer >= 0 and energy a finite number >= 0, got {item!r}", param_hint="--energy"
            )
        out[k] = out.get(k, 0.0) + c2
    return out


def _parse_ridges(values: list[str]) -> list[float]:
    out: list[float] = []
    for item in values:
        for part in item.split(","):
            part = part.strip()
            if not part:
                continue
            try:
                lam = float(part)
            except ValueError:
                raise typer.BadParameter(f"expected a number or a comma list of numbers, got {item!r}", param_hint="--ridge") from None
            if not math.isfinite(lam) or lam < 0:
                raise typer.BadParameter(f"ridge must be finite and >= 0, got {part!r}", param_hint="--ridge")
            out.append(lam)
    return out or [0.0]


def _risk_requested(risk: bool, energies: dict[int, float], noise: float, ridge: list[str]) -> bool:
    """Whether to print the risk tables; refuse option combinations that would be ignored or all zero.

    ``--energy`` without ``--risk`` implies ``--risk`` (said on stderr); ``--risk`` without
    ``--energy`` is refused (no target: every excess risk would be 0); ``--noise`` or
    ``--ridge`` without either is refused (they only enter the risk predictions).
    """
    if energies and not risk:
        typer.echo("note: --energy given, so the test-risk predictions are printed (as with --risk)", err=True)
        return True
    if risk and not energies:
        raise typer.BadParameter(
            "--risk needs the target's energies: give --energy DEGREE=ENERGY (repeatable), e.g. "
            "--energy 1=1 --energy 2=0.5; without a target every excess risk is 0", param_hint="--energy")
    if not risk and (noise != 0 or list(ridge) != ["0"]):
        raise typer.BadParameter(
            "--noise and --ridge only enter the test-risk predictions: add --risk and --energy DEGREE=ENERGY",
            param_hint="--risk")
    return risk


def _finite_or_none(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def _risk_rows(activation, d, n, lmax_level, energies, noise, ridges, width, layers) -> list[dict[str, Any]]:
    # lazy: keeps `ntphase --help` fast (see ntphase.cli._common)
    from ntphase import theory

    asym = float(theory.asymptotic_risk(energies, lmax_level, activation=activation, d=d, layers=layers))
    krr = theory.krr_risk(activation, d, n, ridges, energies, noise=noise, layers=layers)
    prr = theory.prr_risk(activation, d, n, ridges, energies, noise=noise, layers=layers)
    nt = (theory.nt_ridge_risk(activation, d, n, width, ridges, energies, noise=noise, layers=layers)
          if width is not None else [math.nan] * len(ridges))
    rows = []
    for i, lam in enumerate(ridges):
        rows.append({
            "ridge": lam,
            "asymptotic_risk": asym,
            "krr_risk": _finite_or_none(float(krr[i])),
            "prr_risk": _finite_or_none(float(prr[i])),
            "nt_ridge_risk": _finite_or_none(float(nt[i])) if width is not None else None,
        })
    return rows


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _print_tables(summary: dict, rows: list[dict] | None, width: int | None) -> None:

    console = Console(highlight=False)

    def table(title: str, columns: list[str], rows: list[list[str]], first_left: bool = False) -> None:
        # labels such as E[sigma'(G)^2] are plain text, not rich markup: escape them
        t = Table(title=escape(title))
        for i, col in enumerate(columns):
            t.add_column(escape(col), justify="left" if (first_left and i == 0) else "right")
        for row in rows:
            t.add_row(*(escape(c) for c in row))
        console.print(t)

    lev = summary["level"]
    head = [
        ["level l", str(lev)],
        ["H(1)", _fmt(summary["H1"])],
        ["E[sigma'(G)^2]", _fmt(summary["second_moment"])],
        *[[f"mu_{j}", _fmt(mu)] for j, mu in enumerate(summary["hermite_mu"])],
        [f"gamma_{lev} (d = inf)", _fmt(summary["gamma_level_d_infinity"])],
        [f"gamma_>{lev} (d = {summary['d']})", _fmt(summary["gamma_above_level"])],
        [f"lambda_min edge (Gaussian equiv., kmax={summary['kmax_edge']})", _fmt(summary["lambda_min_edge"])],
    ]
    if "lambda_min_nt_edge" in summary:
        N = summary["width"]
        head.append([f"lambda_min(K_N), N={N}, Nd/n={N * summary['d'] / summary['n']:.3g} (K_N law edge)",
                     _fmt(summary["lambda_min_nt_edge"])])
    table(f"ntphase theory: {summary['activation']}, d={summary['d']}, n={summary['n']}, layers={summary['layers']}",
          ["quantity", "value"], head, first_left=True)
    table("degrees: B(d,k), xi_{d,k}, B(d,k) xi_{d,k}", ["k", "B(d,k)", "xi_{d,k}", "B(d,k) xi_{d,k}", "present"],
          [[str(r["degree"]), str(r["multiplicity"]), _fmt(r["xi"]), _fmt(r["multiplicity_times_xi"]),
            "yes" if r["present"] else "no"] for r in summary["degrees"]])
    table(f"spike groups and bulk for n = {summary['n']}",
          ["group", "count", "location", "spread low (law)", "spread high (law)"],
          [[f"degree {g['degree']}" if g["kind"] == "spike" else "bulk", str(g["count"]), _fmt(g["location"]),
            _fmt(g["spread_low"]), _fmt(g["spread_high"])] for g in summary["spikes"]])
    if rows is not None:
        cols = ["ridge", "asymptotic ||P_>l f*||^2", "KRR (det. equiv.)", "PRR(ridge + gamma_>l)"]
        keys = ["ridge", "asymptotic_risk", "krr_risk", "prr_risk"]
        if width is not None:
            cols.append(f"NT ridge, N={width} (RF det. equiv.)")
            keys.append("nt_ridge_risk")
        table("test risk predictions (excess over noise)", cols,
              [[_fmt(r[k]) if r[k] is not None else "inf" for k in keys] for r in rows])


def _warn_filling(summary: dict) -> None:
    """Warn on stderr when a present degree nearly fills n (the predictions' known failure)."""
    for g in summary.get("filling_degrees", []):
        typer.echo(
            f"warning: degree {g['degree']} has B(d,k) = {g['multiplicity']} directions for n = {summary['n']} "
            f"({g['fraction']:.3g} n): the spike/bulk picture and the Gaussian equivalence fail when a degree "
            "nearly fills n (edge errors of +24% to +102% measured); treat the spectrum and lambda_min "
            "predictions as rough.", err=True)


def register(app: typer.Typer) -> None:
    """Add the ``theory`` command to ``app``."""

    # rich markup is on in Typer's help: escape so that E[sigma'(G)^2] is not read as a markup tag
    @app.command("theory", help=escape(_HELP))
    def theory_command(
        activation: str = typer.Option(..., "--activation", help="relu, tanh, erf, sigmoid, softplus or gelu."),
        d: int = typer.Option(..., "--d", help="Input dimension d >= 2 (data on the sphere of radius sqrt(d))."),
        n: int = typer.Option(..., "--n", help="Number of samples n >= 1."),
        lmax: int = typer.Option(6, "--lmax", help="Largest degree k listed in the B(d,k), xi_{d,k} table."),
        json_output: bool = typer.Option(False, "--json", help="Print one JSON object (non-finite numbers as null)."),
        layers: str = typer.Option("first", "--layers", help="Kernel: first (NT, H(t) = t h(t)), second, or both."),
        risk: bool = typer.Option(False, "--risk", help="Also print test-risk predictions."),
        energy: list[str] = typer.Option(
            [], "--energy", help="Target energy c_k^2 in degree k, as k=c2 (repeatable): f* = sum_k c_k q_k."),
        noise: float = typer.Option(0.0, "--noise", help="Noise standard deviation tau (y = f*(x) + tau eps)."),
        ridge: list[str] = typer.Option(
            ["0"], "--ridge", help="Ridge lambda in (K + lambda I)^{-1} (repeatable or a comma list)."),
        width: int | None = typer.Option(
            None, "--width", help="Width N for the NT ridge prediction (p = N d features)."),
    ) -> None:
        # lazy: keeps `ntphase --help` fast (see ntphase.cli._common)
        from ntphase.theory import theory_summary

        energies = _parse_energies(energy)
        ridges = _parse_ridges(ridge)
        if not math.isfinite(noise) or noise < 0:
            raise typer.BadParameter(f"noise must be finite and >= 0, got {noise}", param_hint="--noise")
        if width is not None and width < 1:
            raise typer.BadParameter(f"width must be an integer >= 1, got {width}", param_hint="--width")
        risk = _risk_requested(risk, energies, noise, ridge)
        try:
            summary = theory_summary(activation, d, n, lmax, layers=layers, width=width)
            rows = (_risk_rows(activation, d, n, summary["level"], energies, noise, ridges, width, layers)
                    if risk else None)
        except (ValueError, TypeError) as exc:
            raise typer.BadParameter(str(exc)) from None
        _warn_filling(summary)
        if json_output:
            out = dict(summary)
            if rows is not None:
                out["risk"] = {"energies": {str(k): v for k, v in energies.items()}, "noise": noise,
                               "width": width, "rows": rows}
            typer.echo(json.dumps(out, allow_nan=False))
        else:
            _print_tables(summary, rows, width)
