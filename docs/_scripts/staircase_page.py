"""Write ``docs/staircase_full.md`` from a finished run of ``staircase_full.yaml``.

    python docs/_scripts/staircase_page.py OUT/staircase --wall "2 h 5 min" --machine "..."

The page lists every prediction's measured relative error at every ``n`` (the
experiment's own ``agreement`` rows, as in the run's report) and the solvers that
ran at each size, so the numbers quoted in the README can be checked against the
stored tables without rerunning the experiment.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from ntphase.experiments.report import agreement_rows
from ntphase.experiments.runner import load_experiment_dir

HERE = Path(__file__).resolve().parent


def solvers_table(table: pd.DataFrame) -> pd.DataFrame:
    """What solved each (activation, d, n, model): the solver names and the largest iteration count."""
    fits = table[table["quantity"] == "test_error"]
    agg = fits.groupby(["activation", "d", "n", "model"]).agg(
        solver=("solver_used", lambda s: ", ".join(sorted(set(map(str, s))))),
        max_iterations=("n_iter", "max"),
        seeds=("seed", "nunique"),
    )
    return agg.reset_index()


def markdown(frame: pd.DataFrame) -> str:
    cols = list(frame.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in frame.itertuples(index=False):
        cells = []
        for v in row:
            if isinstance(v, float):
                cells.append("" if v != v else f"{v:.4g}")
            else:
                cells.append(str(v))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path, help="the run's staircase output directory")
    parser.add_argument("--wall", required=True, help="wall time of the run, as text")
    parser.add_argument("--machine", required=True, help="the machine and load, as text")
    parser.add_argument("--out", type=Path, default=HERE.parent / "staircase_full.md")
    args = parser.parse_args()
    result = load_experiment_dir(args.directory)
    rows = pd.DataFrame(agreement_rows(result))
    rows["relative_error"] = rows["relative_error"].map(lambda v: f"{100 * v:.1f}%")
    rows = rows[["prediction", "setting", "predicted", "measured", "relative_error", "note"]]
    text = [
        "# The staircase at full size: agreement table",
        "",
        "Every prediction of the `staircase` experiment against its simulation at every `n`, from one run "
        "of the packaged preset `staircase_full.yaml` (`ntphase run staircase_full.yaml --workers 2`): "
        f"{args.wall} of wall time on {args.machine}. Measured values are means over the seeds (the note "
        "gives the standard error); the relative error is `|predicted - measured| / measured`, reported "
        "as measured, never tuned. The figure is `figures/staircase.png`; what it shows and where theory "
        "and simulation part is in the README (experiment 6).",
        "",
        "## Solvers that ran",
        "",
        "Dense below the cost model's crossover, matrix-free above it (`cg+harmonic`: PCG with the "
        "spherical-harmonic preconditioner; `primal`: polynomial ridge on the explicit features).",
        "",
        markdown(solvers_table(result.table)),
        "",
        "## Agreement",
        "",
        markdown(rows),
        "",
    ]
    args.out.write_text("\n".join(text))
    print(f"wrote {args.out} ({len(rows)} agreement rows)")


if __name__ == "__main__":
    main()
