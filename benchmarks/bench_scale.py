"""Matrix-free ridge and spectra at scale: PCG vs dense, preconditioners, paths, lambda_min.

    python benchmarks/bench_scale.py SECTION [--n N] [--d D] [--threads T] [--out FILE]

Sections (one per process, so the peak resident memory ``ru_maxrss`` is the section's):

* ``krr``: KRR, relu, ``lambda in {0, 1e-3}``: dense Cholesky (``solve_ridge`` on
  ``infinite_kernel``) vs PCG with the harmonic preconditioner on the tiled operator;
  iterations of plain CG, Nystrom (``m = 2,000``) and harmonic PCG on the formed ``K``
  (same system, cheap products), relative difference of the solutions.
* ``krr_large``: KRR, relu, ``lambda = 0``, harmonic PCG on the tiled operator only
  (no dense matrix), to ``rtol = 1e-8``; wall time and peak memory.
* ``path``: 50 ridges: multi-shift CG and batched harmonic PCG vs 50 separate harmonic
  PCG solves, all on the tiled operator.
* ``lambda_min``: ``lambda_min(K_N)`` (relu, ``N d / n = 2``) by Lanczos and by
  Davidson with the harmonic preconditioner; products and values.
* ``lambda_min_tol``: products against the stopping tolerance (``tol`` in
  ``0 <= value - lambda_min <= ... tol * scale``) for Lanczos and Davidson at ``--n``
  (``d = --d``, ``N d / n = 2``), value errors against the tightest Lanczos value.
* ``lambda_min_recorded``: Davidson (harmonic level 2) alone on the data of
  ``benchmarks/run.py``'s ``lambda_min_large`` case (n = 50,000, d = 50, N = 2,000:
  the recorded Lanczos run took 2,621 products, value 0.00729393); products, value
  (10 digits) and time. ``--n``/``--d`` change the size (``N = 2 n / d``).
* ``lambda_min_block``: ``lambda_min(K)`` of the relu infinite kernel (tiled operator)
  by Davidson (harmonic level 2) with ``--blocks`` (default 1 and 16) at each of
  ``--sizes`` (``d = --d``): products, passes (block products) and time.
* ``lambda_min_k``: ``lambda_min(K)`` of the relu infinite kernel at ``--n`` (tiled
  operator, never formed) by block Davidson (``--blocks``, first value; harmonic level 2),
  to ``--tol``; one progress line per pass, wall time and peak memory.
* ``nt``: NT ridge through ``NTKernelOperator`` (``N d / n = 8``), harmonic PCG.

BLAS threads: ``--threads`` (default 1) via threadpoolctl. Each section appends a
markdown table to ``--out`` with the command line, the machine load (``os.getloadavg``)
before and after, and the numbers.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time

import numpy as np
from threadpoolctl import threadpool_limits

from ntphase.data import sample_sphere, sample_weights
from ntphase.kernels import InfiniteKernelOperator, NTKernelOperator, infinite_kernel
from ntphase.learning import harmonic_preconditioner
from ntphase.learning.preconditioning import harmonic_level
from ntphase.linalg import NystromPreconditioner, block_cg, lambda_min, ridge_path_cg, solve_ridge

_GIB = 2.0**30


def peak_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / _GIB


def target(X: np.ndarray, rng: int = 0) -> np.ndarray:
    """A degree-1 + degree-2 signal plus noise (the regime the harmonic model is about)."""
    d = X.shape[1]
    noise = np.random.default_rng(rng).standard_normal(X.shape[0])
    return X[:, 0] + (X[:, 0] * X[:, 1]) / np.sqrt(2.0) + 0.1 * (X[:, 2] ** 2 - 1) * np.sqrt(d / (d + 2)) + 0.5 * noise


class Table:
    def __init__(self, title: str) -> None:
        self.title = title
        self.rows: list[list[str]] = []

    def add(self, *cells: object) -> None:
        row = [c if isinstance(c, str) else f"{c:.4g}" if isinstance(c, float) else str(c) for c in cells]
        self.rows.append(row)
        print(" | ".join(row), flush=True)

    def write(self, path: str, header: list[str], load0: tuple, load1: tuple, threads: int) -> None:
        with open(path, "a") as fh:
            fh.write(f"\n## {self.title}\n\n")
            fh.write(f"command: `{' '.join(sys.argv)}`; BLAS threads: {threads}; ")
            fh.write(f"load average before {load0[0]:.1f}, after {load1[0]:.1f} (2-core shared machine); ")
            fh.write(f"peak resident memory {peak_gib():.2f} GiB; process CPU time {time.process_time():.0f} s\n\n")
            fh.write("| " + " | ".join(header) + " |\n|" + "---|" * len(header) + "\n")
            for row in self.rows:
                fh.write("| " + " | ".join(row) + " |\n")


HEADER = ["case", "method", "iterations / products", "time s (krr, path: CPU s)", "rel. diff / residual", "note"]


def section_krr(args: argparse.Namespace, table: Table) -> None:
    """Times are process CPU seconds (one BLAS thread: robust to other load on the machine)."""
    n, d = args.n, args.d
    X = sample_sphere(n, d, rng=1)
    y = target(X)
    start = time.process_time()
    K = infinite_kernel(X, "relu")
    t_kernel = time.process_time() - start
    table.add(f"n={n} d={d}", "infinite_kernel (dense, formed once)", "", t_kernel, "", "")
    op = InfiniteKernelOperator(X, "relu")
    for lam in (0.0, 1e-3):
        start = time.process_time()
        a_dense = solve_ridge(K, y, lam)
        t_dense = time.process_time() - start
        table.add(f"lambda={lam:g}", "dense Cholesky (solve_ridge)", "", t_dense, "0 (reference)", "kernel not counted")
        start = time.process_time()
        P = harmonic_preconditioner(X, "relu", lam)
        t_build = time.process_time() - start
        start = time.process_time()
        a, info = block_cg(op, y, P, ridge=lam, rtol=1e-8)
        t_solve = time.process_time() - start
        diff = np.linalg.norm(a - a_dense) / np.linalg.norm(a_dense)
        table.add(f"lambda={lam:g}", f"harmonic PCG, tiled operator (level {P.level}, r={P.rank})",
                  f"{info.iterations[0]} it / {info.products} prod", f"{t_build:.1f} + {t_solve:.1f}",
                  f"{diff:.2e}", f"dense/PCG time {(t_kernel + t_dense) / (t_build + t_solve):.2f}x (kernel incl.)")
        its = {}
        cases = [("plain CG", None), (f"harmonic PCG (level {P.level})", P)]
        if P.level < 2:
            start = time.process_time()
            P2 = harmonic_preconditioner(X, "relu", lam, level=2)
            cases.append((f"harmonic PCG (level 2, r={P2.rank}, build {time.process_time() - start:.1f} s)", P2))
        for name, M in cases:
            start = time.process_time()
            _, inf2 = block_cg(K, y, M, ridge=lam, rtol=1e-8, maxiter=3000)
            its[name] = inf2.iterations[0]
            table.add(f"lambda={lam:g}", f"{name} on formed K", f"{inf2.iterations[0]} it",
                      time.process_time() - start, f"{inf2.residuals[0]:.1e}", "")
        start = time.process_time()
        Pn = NystromPreconditioner(K, min(2000, n), lam, rng=0)
        t_nb = time.process_time() - start
        start = time.process_time()
        _, inf3 = block_cg(K, y, Pn, ridge=lam, rtol=1e-8, maxiter=3000)
        table.add(f"lambda={lam:g}", "Nystrom PCG m=2000 on formed K", f"{inf3.iterations[0]} it",
                  f"{t_nb:.1f} + {time.process_time() - start:.1f}", f"{inf3.residuals[0]:.1e}",
                  f"best harmonic {its['plain CG'] / max(min(v for k, v in its.items() if 'harmonic' in k), 1):.1f}x "
                  f"fewer than plain, {inf3.iterations[0] / max(min(v for k, v in its.items() if 'harmonic' in k), 1):.1f}x "
                  "fewer than Nystrom")


def section_krr_large(args: argparse.Namespace, table: Table) -> None:
    n, d = args.n, args.d
    X = sample_sphere(n, d, rng=1)
    y = target(X)
    lam = args.ridge
    start = time.perf_counter()
    P = harmonic_preconditioner(X, "relu", lam)
    t_build = time.perf_counter() - start
    table.add(f"n={n} d={d} lambda={lam:g}", f"harmonic preconditioner build (level {P.level}, r={P.rank})", "",
              t_build, "", f"level rule: {harmonic_level(n, d, 'relu')}")
    op = InfiniteKernelOperator(X, "relu")
    start = time.perf_counter()
    last = [time.perf_counter()]

    def progress(it: int, res: float) -> None:
        now = time.perf_counter()
        print(f"  iteration {it}: residual {res:.3e} ({now - last[0]:.1f} s)", flush=True)
        last[0] = now

    a, info = block_cg(op, y, P, ridge=lam, rtol=1e-8, progress=progress)
    t_solve = time.perf_counter() - start
    table.add("", "harmonic PCG, tiled operator", f"{info.iterations[0]} it / {info.products} prod",
              t_solve, f"{info.residuals[0]:.2e}", f"converged={info.converged}; total {t_build + t_solve:.0f} s")


def section_path(args: argparse.Namespace, table: Table) -> None:
    """Times are process CPU seconds (one BLAS thread: robust to other load), wall in the note."""
    n, d, S = args.n, args.d, 50
    X = sample_sphere(n, d, rng=1)
    y = target(X)
    lambdas = np.logspace(-4, 0, S)
    op = InfiniteKernelOperator(X, "relu")
    clock = time.process_time
    w0, c0 = time.perf_counter(), clock()
    _, ms = ridge_path_cg(op, y, lambdas, rtol=1e-8)
    t_ms = clock() - c0
    table.add(f"n={n} d={d} S={S}", "multi-shift CG (one Krylov space)", f"{ms.products} prod", t_ms,
              f"{ms.residuals.max():.1e}", f"wall {time.perf_counter() - w0:.0f} s")
    w0, c0 = time.perf_counter(), clock()
    P = harmonic_preconditioner(X, "relu", float(lambdas.min()))
    Xb, bt = ridge_path_cg(op, y, lambdas, P, rtol=1e-8)
    t_bt = clock() - c0
    table.add("", f"batched harmonic PCG (level {P.level}, build incl.)", f"{bt.iterations.max()} it / {bt.products} prod",
              t_bt, f"{bt.residuals.max():.1e}", f"wall {time.perf_counter() - w0:.0f} s")
    w0, c0 = time.perf_counter(), clock()
    products = 0
    for lam in lambdas:
        Pl = harmonic_preconditioner(X, "relu", float(lam), level=P.level)
        _, one = block_cg(op, y, Pl, ridge=float(lam), rtol=1e-8)
        products += one.products
    t_sep = clock() - c0
    table.add("", "50 separate harmonic PCG solves (incl. 50 builds)", f"{products} prod", t_sep, "",
              f"multi-shift {t_sep / t_ms:.1f}x, batched {t_sep / t_bt:.1f}x faster (CPU s); "
              f"wall {time.perf_counter() - w0:.0f} s")


def section_lambda_min(args: argparse.Namespace, table: Table) -> None:
    d = args.d
    for n in args.sizes:
        X = sample_sphere(n, d, rng=2)
        W = sample_weights(2 * n // d, d, rng=3)
        op = NTKernelOperator(X, W, "relu")
        start = time.perf_counter()
        lz = lambda_min(op, method="lanczos", rng=0, return_info=True)
        t_lz = time.perf_counter() - start
        start = time.perf_counter()
        P = harmonic_preconditioner(X, "relu", 0.0, level=min(2, harmonic_level(n, d, "relu", product_flops=1e15)))
        dv = lambda_min(op, method="davidson", preconditioner=P, rng=0, return_info=True)
        t_dv = time.perf_counter() - start
        table.add(f"K_N n={n} d={d} N={W.shape[0]}", "lanczos", f"{lz.matvecs} prod", t_lz, f"{lz.value:.10g}", "")
        table.add("", f"davidson + harmonic (level {P.level})", f"{dv.matvecs} prod", t_dv, f"{dv.value:.10g}",
                  f"{lz.matvecs / dv.matvecs:.2f}x fewer products; |diff|/value {abs(dv.value - lz.value) / lz.value:.1e}")


def section_lambda_min_tol(args: argparse.Namespace, table: Table) -> None:
    n, d = args.n, args.d
    X = sample_sphere(n, d, rng=2)
    W = sample_weights(2 * n // d, d, rng=3)
    op = NTKernelOperator(X, W, "relu")
    P = harmonic_preconditioner(X, "relu", 0.0, level=min(2, harmonic_level(n, d, "relu", product_flops=1e15)))
    ref = None
    for tol in (1e-10, 1e-8, 1e-7, 1e-6, 1e-5):
        for method, options in (("lanczos", {}), ("davidson", {"preconditioner": P})):
            start = time.perf_counter()
            res = lambda_min(op, method=method, tol=tol, rng=0, return_info=True, **options)
            ref = res.value if ref is None else ref
            table.add(f"K_N n={n} d={d} tol={tol:g}", method, f"{res.matvecs} prod", time.perf_counter() - start,
                      f"{res.value:.10g}", f"rel. error vs Lanczos at tol 1e-10: {(res.value - ref) / ref:.1e}")


#: The recorded Lanczos run of ``benchmarks/run.py`` (section lambda_min_large, docs/benchmarks.md).
RECORDED_LANCZOS = {(50000, 50): (2621, 0.00729393)}


def section_lambda_min_recorded(args: argparse.Namespace, table: Table) -> None:
    from run import inputs  # the same points and weights as the recorded run (seed 20220901)

    n, d = args.n, args.d
    X, W = inputs(n, d, 2 * n // d)
    op = NTKernelOperator(X, W, "relu")
    start = time.perf_counter()
    P = harmonic_preconditioner(X, "relu", 0.0, level=min(2, harmonic_level(n, d, "relu", product_flops=1e15)))
    t_b = time.perf_counter() - start
    start = time.perf_counter()
    dv = lambda_min(op, method="davidson", preconditioner=P, rng=0, return_info=True)
    t_dv = time.perf_counter() - start
    note = ""
    if (n, d) in RECORDED_LANCZOS:
        products, value = RECORDED_LANCZOS[(n, d)]
        note = (f"recorded Lanczos: {products} products, value {value}; {products / dv.matvecs:.2f}x fewer "
                f"products; |diff|/value {abs(dv.value - value) / value:.1e} (the recorded value has 6 digits)")
    table.add(f"K_N n={n} d={d} N={W.shape[0]}", f"davidson + harmonic (level {P.level})",
              f"{dv.matvecs} prod", f"{t_b:.1f} + {t_dv:.1f}", f"{dv.value:.10g}",
              f"residual {dv.residual_norm:.2e}, converged={dv.converged}; {note}")


def _harmonic(X: np.ndarray):
    start = time.perf_counter()
    P = harmonic_preconditioner(X, "relu", 0.0, level=2)
    return P, time.perf_counter() - start


def _lambda_min_k(X: np.ndarray, P, block: int, tol: float, verbose: bool):
    op = InfiniteKernelOperator(X, "relu")
    last = [time.perf_counter()]

    def progress(products: int, value: float, residual: float) -> None:
        now = time.perf_counter()
        print(f"  {products} products: value {value:.12g}, residual {residual:.3e} ({now - last[0]:.1f} s)",
              flush=True)
        last[0] = now

    start = time.perf_counter()
    res = lambda_min(op, method="davidson", preconditioner=P, rng=0, tol=tol, block_size=block,
                     return_info=True, progress=progress if verbose else None)
    return res, time.perf_counter() - start


def section_lambda_min_block(args: argparse.Namespace, table: Table) -> None:
    d = args.d
    for n in args.sizes:
        X = sample_sphere(n, d, rng=2)
        P, t_b = _harmonic(X)  # one build per n, shared by the block sizes
        base = None
        for block in args.blocks:
            res, t_s = _lambda_min_k(X, P, block, args.tol, verbose=False)
            base = base or (res.iterations, t_s)
            _k_row(table, n, d, f"block {block}", res, t_b, t_s,
                   f"{base[0] / res.iterations:.2f}x fewer passes, {base[1] / t_s:.2f}x faster than block "
                   f"{args.blocks[0]}; residual {res.residual_norm:.2e}")


def section_lambda_min_k(args: argparse.Namespace, table: Table) -> None:
    n, d = args.n, args.d
    X = sample_sphere(n, d, rng=2)
    P, t_b = _harmonic(X)
    res, t_s = _lambda_min_k(X, P, args.blocks[0], args.tol, verbose=True)
    _k_row(table, n, d, f"block {args.blocks[0]}, tol {args.tol:g}", res, t_b, t_s,
           f"residual {res.residual_norm:.2e} (scale {res.scale:.4g}), converged={res.converged}; "
           f"peak {peak_gib():.2f} GiB")


def _k_row(table: Table, n: int, d: int, label: str, res, t_build: float, t_solve: float, note: str) -> None:
    table.add(f"K n={n} d={d}", f"davidson + harmonic (level 2), {label}",
              f"{res.matvecs} prod / {res.iterations} passes", f"{t_build:.1f} + {t_solve:.1f}",
              f"{res.value:.12g}", note)


def section_nt(args: argparse.Namespace, table: Table) -> None:
    n, d = args.n, args.d
    N = 8 * n // d
    X = sample_sphere(n, d, rng=1)
    y = target(X)
    W = sample_weights(N, d, rng=4)
    start = time.perf_counter()
    op = NTKernelOperator(X, W, "relu")
    P = harmonic_preconditioner(X, "relu", args.ridge, product_flops=op.matvec_flops())
    t_b = time.perf_counter() - start
    start = time.perf_counter()
    _, info = block_cg(op, y, P, ridge=args.ridge, rtol=1e-8,
                       progress=lambda it, r: print(f"  iteration {it}: residual {r:.3e}", flush=True))
    t_s = time.perf_counter() - start
    table.add(f"NT n={n} d={d} N={N} lambda={args.ridge:g}", f"harmonic PCG on NTKernelOperator (level {P.level})",
              f"{info.iterations[0]} it / {info.products} prod", f"{t_b:.1f} + {t_s:.1f}",
              f"{info.residuals[0]:.2e}", f"converged={info.converged}")


SECTIONS = {
    "krr": section_krr,
    "krr_large": section_krr_large,
    "path": section_path,
    "lambda_min": section_lambda_min,
    "lambda_min_recorded": section_lambda_min_recorded,
    "lambda_min_tol": section_lambda_min_tol,
    "lambda_min_block": section_lambda_min_block,
    "lambda_min_k": section_lambda_min_k,
    "nt": section_nt,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("section", choices=sorted(SECTIONS))
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--d", type=int, default=100)
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 4000])
    parser.add_argument("--ridge", type=float, default=0.0)
    parser.add_argument("--blocks", type=int, nargs="+", default=[1, 16], help="Davidson block sizes")
    parser.add_argument("--tol", type=float, default=1e-10, help="lambda_min tolerance (relative to lambda_max)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default="benchmarks/bench_scale_results.md")
    args = parser.parse_args()
    sizes = f"n in {args.sizes}" if args.section in ("lambda_min", "lambda_min_block") else f"n={args.n}"
    table = Table(f"{args.section} ({sizes}, d={args.d})")
    load0 = os.getloadavg()
    with threadpool_limits(limits=args.threads):
        SECTIONS[args.section](args, table)
    table.write(args.out, HEADER, load0, os.getloadavg(), args.threads)


if __name__ == "__main__":
    main()
