"""Iterative solvers: plain CG vs harmonic PCG vs Nystrom PCG, ridge paths, preconditioned lambda_min.

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python benchmarks/bench_solvers.py [--quick] [--markdown FILE]

All cases in one run, same seeds on both sides of every comparison, times are
wall clock (single BLAS thread when the environment says so; the header prints
the thread settings). Agreement is checked against a dense solve (KRR) or
dense ``eigvalsh`` (lambda_min) and printed beside the counts.

1. ``krr``: relu, d = 100, n = 5,000, dense ``K`` wrapped as a LinearOperator,
   ``lambda`` in {0, 1e-3}, rtol 1e-8: plain CG, harmonic PCG (default level
   and level 2), Nystrom PCG (m = 500, 2,000), dense Cholesky for reference.
2. ``path``: 50 ridges (0 and 49 log-spaced in [1e-4, 1]): multi-shift CG,
   batched harmonic PCG (``ridge_path_cg`` with ``M``), 50 separate harmonic
   PCG solves (preconditioner eigen-decomposition shared, so only products
   and applications differ), 50 separate plain CG solves.
3. ``lambda_min``: relu, ``K_N`` with N d / n = 2 and ``K`` at (n, d) =
   (2,000, 50), (4,000, 50), (4,000, 20): harmonic Davidson and LOBPCG vs
   ``ntphase.lambda_min`` (lanczos; lobpcg for ``K_N``); products, time,
   error vs eigvalsh.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import scipy.linalg
from scipy.sparse.linalg import aslinearoperator

import ntphase
import ntphase.sphere
from ntphase._staging_linalg.cg import block_cg, ridge_path_cg
from ntphase._staging_linalg.eigen_deflated import lambda_min_harmonic
from ntphase._staging_linalg.preconditioners import (
    HarmonicPreconditioner,
    NystromPreconditioner,
)
from ntphase.data import sample_sphere, sample_weights

ROWS: list[tuple[str, ...]] = []


def row(*cells) -> None:
    ROWS.append(tuple(str(c) for c in cells))
    print(" | ".join(ROWS[-1]), flush=True)


def rel(a, b) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def krr(n: int, d: int, centres: list[int]) -> None:
    X = sample_sphere(n, d, rng=0)
    y = np.random.default_rng(1).standard_normal(n)
    t = time.perf_counter()
    K = ntphase.infinite_kernel(X, "relu")
    row(
        "krr",
        f"n={n} d={d}",
        "infinite_kernel (dense)",
        "",
        "",
        f"{time.perf_counter() - t:.2f}",
        "",
    )
    op = aslinearoperator(K)
    for lam in (0.0, 1e-3):
        t = time.perf_counter()
        ref = scipy.linalg.cho_solve(scipy.linalg.cho_factor(K + lam * np.eye(n)), y)
        row(
            "krr",
            f"lambda={lam:g}",
            "dense Cholesky",
            "",
            "",
            f"{time.perf_counter() - t:.2f}",
            "0",
        )
        _, plain = _solve(op, y, None, lam, ref, "plain CG", 0.0)
        levels = [None] + ([2] if ntphase.sphere.level(n, d, "relu") < 2 else [])
        for level in levels:
            t = time.perf_counter()
            P = HarmonicPreconditioner(X, "relu", lam, level=level)
            build = time.perf_counter() - t
            _solve(
                op,
                y,
                P,
                lam,
                ref,
                f"harmonic PCG (level {P.level}, r={P.rank})",
                build,
                plain,
            )
        for m in centres:
            t = time.perf_counter()
            P = NystromPreconditioner(K, m, lam, rng=2)
            build = time.perf_counter() - t
            _solve(op, y, P, lam, ref, f"Nystrom PCG (m={m})", build, plain)


def _solve(op, y, M, lam, ref, name, build, plain=None):
    t = time.perf_counter()
    x, info = block_cg(op, y, M, ridge=lam, rtol=1e-8)
    solve = time.perf_counter() - t
    ratio = "" if plain is None else f"{plain.iterations[0] / info.iterations[0]:.1f}x fewer"
    row(
        "krr",
        f"lambda={lam:g}",
        name,
        f"{info.iterations[0]} it / {info.products} prod",
        ratio,
        f"{build:.2f} + {solve:.2f}",
        f"{rel(x, ref):.1e}",
    )
    return x, info


def path(n: int, d: int) -> None:
    X = sample_sphere(n, d, rng=0)
    y = np.random.default_rng(1).standard_normal(n)
    K = ntphase.infinite_kernel(X, "relu")
    op = aslinearoperator(K)
    lambdas = np.concatenate([[0.0], np.logspace(-4, 0, 49)])
    check = [0, 10, 49]
    refs = [np.linalg.solve(K + lambdas[j] * np.eye(n), y) for j in check]

    def err(S):
        return max(rel(S[:, j], r) for j, r in zip(check, refs, strict=True))

    t = time.perf_counter()
    P = HarmonicPreconditioner(X, "relu")
    shifted = P.for_ridges(lambdas)  # eigen-decomposition, shared by the PCG variants
    build = time.perf_counter() - t
    row(
        "path",
        f"n={n} d={d} S=50",
        f"harmonic build (level {P.level}, r={P.rank}) + eigh",
        "",
        "",
        f"{build:.2f}",
        "",
    )
    t = time.perf_counter()
    S, info = ridge_path_cg(op, y, lambdas)
    t_ms = time.perf_counter() - t
    row(
        "path",
        "",
        "multi-shift CG",
        f"{info.iterations.max()} it / {info.products} prod",
        "",
        f"{t_ms:.2f}",
        f"{err(S):.1e}",
    )
    t = time.perf_counter()
    S, info = ridge_path_cg(op, y, lambdas, P)
    t_b = time.perf_counter() - t
    row(
        "path",
        "",
        "batched harmonic PCG",
        f"{info.iterations.max()} it / {info.products} prod",
        "",
        f"{t_b:.2f}",
        f"{err(S):.1e}",
    )
    for name, M in (("harmonic PCG", True), ("plain CG", None)):
        t = time.perf_counter()
        S = np.empty((n, lambdas.size))
        prods = 0
        for j, lam in enumerate(lambdas):
            Mj = None
            if M:
                Mj = _single(shifted, j, n)
            S[:, j], info = block_cg(op, y, Mj, ridge=lam, rtol=1e-8)
            prods += info.products
        t_s = time.perf_counter() - t
        row(
            "path",
            "",
            f"50 separate {name} solves",
            f"{prods} prod",
            f"multi-shift {t_s / t_ms:.1f}x, batched {t_s / t_b:.1f}x faster",
            f"{t_s:.2f}",
            f"{err(S):.1e}",
        )


def _single(shifted, j, n):
    from ntphase._staging_linalg.preconditioners import ColumnPreconditioner

    return ColumnPreconditioner(n, lambda R, cols: shifted.apply_columns(R, np.full(R.shape[1], j)))


def lambda_min(cases: list[tuple[int, int]]) -> None:
    for n, d in cases:
        X = sample_sphere(n, d, rng=0)
        W = sample_weights(2 * n // d, d, rng=1)
        cases = [
            ("K_N (Nd/n=2)", ntphase.NTKernelOperator(X, W, "relu")),
            ("K", aslinearoperator(ntphase.infinite_kernel(X, "relu"))),
        ]
        for name, op in cases:
            dense = op.todense() if hasattr(op, "todense") else op.matmat(np.eye(n))
            exact = scipy.linalg.eigvalsh(dense, subset_by_index=[0, 0])[0]
            del dense
            r = None
            for variant in ("davidson", "lobpcg"):
                t = time.perf_counter()
                res = lambda_min_harmonic(op, X, "relu", rng=2, method=variant)
                r = res if r is None else r  # ratios against the default (Davidson)
                row(
                    "lambda_min",
                    f"n={n} d={d} {name}",
                    f"harmonic {variant} (level {res.level})",
                    f"{res.matvecs} prod",
                    f"{res.matvecs / r.matvecs:.2f}x davidson",
                    f"{time.perf_counter() - t:.2f}",
                    f"{abs(res.value - exact) / exact:.1e}",
                )
            methods = ("lanczos", "lobpcg") if name.startswith("K_N") else ("lanczos",)
            for method in methods:
                t = time.perf_counter()
                c = ntphase.lambda_min(op, method=method, rng=2, return_info=True)
                row(
                    "lambda_min",
                    "",
                    f"ntphase.lambda_min({method})",
                    f"{c.matvecs} prod",
                    f"{c.matvecs / r.matvecs:.2f}x davidson",
                    f"{time.perf_counter() - t:.2f}",
                    f"{abs(c.value - exact) / exact:.1e}",
                )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (harness check)")
    parser.add_argument("--markdown", help="write the table here")
    parser.add_argument("--only", nargs="+", choices=("krr", "path", "lambda_min"), help="run these cases")
    args = parser.parse_args(argv)
    threads = {
        k: os.environ.get(k, "unset") for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
    }
    print(f"threads: {threads}; numpy {np.__version__}; python {sys.version.split()[0]}")
    header = (
        "case",
        "setting",
        "method",
        "iterations / products",
        "ratio",
        "time s (build + solve)",
        "rel. error",
    )
    print(" | ".join(header))
    only = set(args.only or ("krr", "path", "lambda_min"))
    if "krr" in only:
        krr(800, 20, [100]) if args.quick else krr(5000, 100, [500, 2000])
    if "path" in only:
        path(800, 20) if args.quick else path(5000, 100)
    if "lambda_min" in only:
        lambda_min([(600, 20)] if args.quick else [(2000, 50), (4000, 50), (4000, 20)])
    if args.markdown:
        with open(args.markdown, "w") as fh:
            fh.write(f"threads: {threads}\n\n| " + " | ".join(header) + " |\n|" + "---|" * len(header) + "\n")
            fh.writelines("| " + " | ".join(r) + " |\n" for r in ROWS)


if __name__ == "__main__":
    main()
