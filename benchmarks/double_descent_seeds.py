"""Accuracy of the random-features equivalents of NT ridge (test error and norm) on independent seeds.

    python benchmarks/double_descent_seeds.py [--seeds 40] [--first-seed 77000]

The double-descent experiment's per-point standard errors understate its
uncertainty: every width of one seed shares the seed's sample, target direction
and nested weights, so a lucky or unlucky seed moves the whole curve. This script
repeats the quick preset's setting (relu, d = 20, n = 400, n_test = 4000, target
``q_1 + 0.6 q_2``, noise 0.3) on ``--seeds`` independent seeds at a few widths and
prints, per ridge and width, the signed error ``prediction / mean - 1`` of
``ntphase.theory.nt_ridge_risk`` and ``nt_ridge_norm`` with the standard error of the
mean (relative). About 30 s for 40 seeds on one core.
"""

from __future__ import annotations

import argparse

import numpy as np

from ntphase.experiments import double_descent
from ntphase.theory import nt_ridge_norm, nt_ridge_risk

D, N_SAMPLES, NOISE = 20, 400, 0.3
WIDTHS = [5, 7, 10, 14, 40, 80]  # Nd/n = 0.25, 0.35, 0.5, 0.7, 2, 4
RIDGES = [0.0, 0.05, 0.2]
TARGET = {1: 1.0, 2: 0.6}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=40)
    parser.add_argument("--first-seed", type=int, default=77000)
    args = parser.parse_args()
    params = {"activation": "relu", "d": D, "n": N_SAMPLES, "n_test": 4000, "widths": WIDTHS, "ridges": RIDGES,
              "target": {str(k): v for k, v in TARGET.items()}, "noise": NOISE, "weights": "gaussian"}
    values: dict[tuple, list[float]] = {}
    for s in range(args.seeds):
        for row in double_descent.run_task(params, args.first_seed + s):
            if row["model"] == "NT" and row["quantity"] in ("test_error", "norm"):
                values.setdefault((row["quantity"], row["ridge"], row["N"]), []).append(row["value"])
    energies = {k: c**2 for k, c in TARGET.items()}
    for quantity, fun in (("test_error", nt_ridge_risk), ("norm", nt_ridge_norm)):
        for lam in RIDGES:
            cells = []
            for N in WIDTHS:
                v = np.array(values[(quantity, lam, N)])
                pred = float(fun("relu", D, N_SAMPLES, N, lam, energies, noise=NOISE))
                se = v.std(ddof=1) / np.sqrt(len(v)) / v.mean()
                cells.append(f"Nd/n={N * D / N_SAMPLES:.2f}: {pred / v.mean() - 1:+.0%} +- {se:.0%}")
            print(f"{quantity:10s} lambda={lam:<5g} " + " | ".join(cells))


if __name__ == "__main__":
    main()
