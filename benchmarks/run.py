"""ntphase performance benchmarks: one command, one table of ratios measured in one run.

    python benchmarks/run.py [--quick] [--only NAME ...] [--markdown FILE] [--json FILE]
                             [--with-sweep]

Every case runs in fresh subprocesses (``python benchmarks/run.py --worker ...``)
so that peak resident memory (``getrusage`` ``ru_maxrss``) belongs to one
computation; both sides of a comparison use the same seed, hence the same
inputs, and the parent checks that they agree numerically. Times are the
minimum over repeats (``--repeats``) of wall-clock time, with the BLAS
library's default threads (all cores) unless ``--threads`` is given.

Cases (targets in brackets):

1. ``kernel``: ``nt_kernel`` vs the BLAS floor = time of ``S @ S.T`` (numpy
   uses ``syrk``) plus ``X @ X.T`` for the same shapes [floor/kernel >= 0.9];
   also ``NTKernelOperator.todense`` (the width-path engine) on the same inputs.
2. ``structured``: ``nt_kernel`` vs explicit ``Phi Phi^T`` with
   ``Phi = nt_features`` [time >= 20x, peak memory >= 10x lower].
3. ``lambda_min``: matrix-free (``NTKernelOperator`` + thick-restart Lanczos)
   vs dense (``nt_kernel`` + ``eigvalsh`` subset) [ratio, relative error];
   ``lambda_min_large``: matrix-free only at a size where dense does not fit.
4. ``width_path``: 20 widths in one pass vs 20 separate ``nt_kernel`` calls [>= 5x].
5. ``ridge_path``: ``ntphase.linalg.ridge.ridge_path`` over 50 ridges vs 50
   Cholesky solves (``scipy.linalg.cho_factor``/``cho_solve``) [>= 10x].
6. ``kernel_memory``: peak RSS added by ``nt_kernel`` / ``8 (n^2 + n N)`` [<= 1.5].

``--quick`` uses small sizes to check the harness (minutes on 2 cores).
``--with-sweep`` also runs ``benchmarks/bench_sweep.py`` if present and shows its output.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

FULL = {
    "kernel": {"n": 8000, "d": 100, "N": 2000},
    "structured": {"n": 4000, "d": 100, "N": 1000},
    "lambda_min": {"n": 8000, "d": 50, "N": 640},  # N d / n = 4
    "lambda_min_large": {"n": 50000, "d": 50, "N": 2000},  # N d / n = 2
    "width_path": {"n": 4000, "d": 100, "N": 2000, "widths": 20},
    "ridge_path": {"n": 4000, "d": 50, "N": 320, "lambdas": 50},
}
QUICK = {
    "kernel": {"n": 1500, "d": 40, "N": 400},
    "structured": {"n": 800, "d": 40, "N": 200},
    "lambda_min": {"n": 1500, "d": 20, "N": 300},
    "lambda_min_large": {"n": 6000, "d": 20, "N": 600},
    "width_path": {"n": 1000, "d": 40, "N": 400, "widths": 20},
    "ridge_path": {"n": 1000, "d": 20, "N": 200, "lambdas": 50},
}
ORDER = ["kernel", "structured", "lambda_min", "lambda_min_large", "width_path", "ridge_path"]
SEED = 20220901
MIB = 1024.0**2


# ---------------------------------------------------------------------------
# helpers used by the workers
# ---------------------------------------------------------------------------


def peak_rss() -> float:
    """Peak resident set size of this process in bytes (Linux ru_maxrss is KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024.0


def current_rss() -> float:
    import psutil

    return float(psutil.Process().memory_info().rss)


def inputs(n: int, d: int, N: int):
    from ntphase.data import sample_sphere, sample_weights

    rng = __import__("numpy").random.default_rng(SEED)
    return sample_sphere(n, d, rng), sample_weights(N, d, rng)


def timed(fn, repeats: int):
    """(min wall time, last result) over ``repeats`` calls."""
    best, out = float("inf"), None
    for _ in range(repeats):
        out = None
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


# ---------------------------------------------------------------------------
# workers: each prints one JSON line "RESULT {...}"
# ---------------------------------------------------------------------------


def w_kernel(n, d, N, repeats):
    import numpy as np

    from ntphase.kernels import nt_kernel
    from ntphase.kernels.operator import NTKernelOperator

    X, W = inputs(n, d, N)
    nt_kernel(X[:50], W, "relu")  # warm up imports
    base = current_rss()
    start = time.perf_counter()
    K = nt_kernel(X, W, "relu")
    first = time.perf_counter() - start
    peak_first = peak_rss()
    checksum = float(np.trace(K)), float(np.linalg.norm(K[:200]))
    del K
    t_kernel, _ = timed(lambda: nt_kernel(X, W, "relu"), repeats - 1) if repeats > 1 else (first, None)
    t_kernel = min(t_kernel, first)
    t_ops, K2 = timed(lambda: NTKernelOperator(X, W, "relu", store=False).todense(), repeats)
    ops_checksum = float(np.trace(K2)), float(np.linalg.norm(K2[:200]))
    del K2
    rng = np.random.default_rng(SEED)
    S = (rng.random((n, N)) < 0.5).astype(np.float64)  # same shape as sigma'(X W^T)
    t_floor, _ = timed(lambda: (S @ S.T, X @ X.T), repeats)
    return {"t_kernel": t_kernel, "t_ops": t_ops, "t_floor": t_floor, "base_rss": base,
            "peak_rss": peak_first, "checksum": checksum, "ops_checksum": ops_checksum}


def w_structured(n, d, N, repeats):
    import numpy as np

    from ntphase.kernels import nt_kernel

    X, W = inputs(n, d, N)
    nt_kernel(X[:50], W[:10], "relu")
    base = current_rss()
    t, K = timed(lambda: nt_kernel(X, W, "relu"), repeats)
    return {"t": t, "base_rss": base, "peak_rss": peak_rss(), "checksum": [float(np.trace(K)), float(np.linalg.norm(K))]}


def w_explicit(n, d, N, repeats):
    import numpy as np

    from ntphase.kernels import nt_features

    X, W = inputs(n, d, N)
    nt_features(X[:50], W[:10], "relu")
    base = current_rss()

    def explicit():
        Phi = nt_features(X, W, "relu")
        return Phi @ Phi.T

    t, K = timed(explicit, repeats)
    return {"t": t, "base_rss": base, "peak_rss": peak_rss(), "checksum": [float(np.trace(K)), float(np.linalg.norm(K))]}


def w_lmin_dense(n, d, N, repeats):
    import scipy.linalg

    from ntphase.kernels import nt_kernel

    X, W = inputs(n, d, N)
    base = current_rss()

    def dense():
        K = nt_kernel(X, W, "relu")
        return float(scipy.linalg.eigvalsh(K, subset_by_index=[0, 0], overwrite_a=True, check_finite=False)[0])

    t, value = timed(dense, repeats)
    return {"t": t, "value": value, "base_rss": base, "peak_rss": peak_rss()}


def w_lmin_free(n, d, N, repeats):
    from ntphase.kernels.operator import NTKernelOperator
    from ntphase.linalg.eigen import lambda_min

    X, W = inputs(n, d, N)
    base = current_rss()

    def free():
        op = NTKernelOperator(X, W, "relu")
        return op.stores_features, lambda_min(op, method="lanczos", rng=SEED, return_info=True)

    t, (stored, res) = timed(free, repeats)
    return {"t": t, "value": res.value, "products": res.matvecs, "residual": res.residual_norm,
            "scale": res.scale, "converged": res.converged, "stored": stored,
            "base_rss": base, "peak_rss": peak_rss()}


def w_width(n, d, N, widths, repeats):
    import numpy as np

    from ntphase.kernels import nt_kernel
    from ntphase.kernels.operator import width_path

    X, W = inputs(n, d, N)
    grid = [int(round(N * (i + 1) / widths)) for i in range(widths)]

    def path():
        last = None
        for _, K in width_path(X, W, "relu", grid):
            last = K
        return last

    def separate():
        last = None
        for w in grid:
            last = nt_kernel(X, W[:w], "relu")
        return last

    t_path, K1 = timed(path, repeats)
    t_sep, K2 = timed(separate, max(1, repeats - 1))
    err = float(np.max(np.abs(K1 - K2)) / np.max(np.abs(K2)))
    return {"t_path": t_path, "t_separate": t_sep, "max_rel_diff": err, "grid": [grid[0], grid[-1]]}


def w_ridge(n, d, N, lambdas, repeats):
    import numpy as np
    import scipy.linalg

    from ntphase.kernels import nt_kernel
    from ntphase.linalg.ridge import ridge_path

    X, W = inputs(n, d, N)
    K = nt_kernel(X, W, "relu")
    y = np.random.default_rng(SEED + 1).standard_normal(n)
    grid = np.logspace(-4, 1, lambdas)
    t_path, path = timed(lambda: ridge_path(K, y, grid), repeats)

    def separate():
        out = np.empty((lambdas, n))
        for i, lam in enumerate(grid):
            out[i] = scipy.linalg.cho_solve(scipy.linalg.cho_factor(K + lam * np.eye(n)), y)
        return out

    def generic():
        out = np.empty((lambdas, n))
        for i, lam in enumerate(grid):
            out[i] = scipy.linalg.solve(K + lam * np.eye(n), y)
        return out

    t_sep, coef = timed(separate, max(1, repeats - 1))
    t_solve, coef2 = timed(generic, 1)
    err = float(np.max(np.abs(np.asarray(path.coef) - coef)) / np.max(np.abs(coef)))
    err2 = float(np.max(np.abs(coef2 - coef)) / np.max(np.abs(coef)))
    return {"t_path": t_path, "t_separate": t_sep, "t_solve": t_solve, "max_rel_diff": err,
            "solve_rel_diff": err2}


WORKERS = {
    "kernel": w_kernel, "structured": w_structured, "explicit": w_explicit,
    "lmin_dense": w_lmin_dense, "lmin_free": w_lmin_free, "width": w_width, "ridge": w_ridge,
}


# ---------------------------------------------------------------------------
# parent
# ---------------------------------------------------------------------------


THREADS: int | None = None  # set from --threads: BLAS threads in the workers


def run_worker(name: str, params: dict, timeout: float) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", name, "--params", json.dumps(params)]
    env = dict(os.environ)
    if THREADS is not None:
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env[var] = str(THREADS)
    start = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            out = json.loads(line[len("RESULT "):])
            out["wall"] = time.perf_counter() - start
            return out
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
    return {"error": " | ".join(tail) or f"exit code {proc.returncode}"}


def machine() -> dict:
    import numpy as np
    import psutil
    import scipy
    import scipy.linalg  # noqa: F401  (loads SciPy's own OpenBLAS so it is listed)
    from threadpoolctl import threadpool_info

    model = platform.processor()
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    except OSError:
        pass
    blas = [f"{Path(i.get('filepath', '')).name.split('-')[0]}: {i.get('internal_api')} {i.get('version')} "
            f"{i.get('architecture')} ({i.get('num_threads')} threads)"
            for i in threadpool_info() if i.get("user_api") == "blas"]
    return {"cpu": model, "cores": os.cpu_count(), "memory_gib": round(psutil.virtual_memory().total / 1024**3, 1),
            "python": platform.python_version(), "numpy": np.__version__, "scipy": scipy.__version__,
            "blas": ", ".join(blas), "load_average": [round(x, 2) for x in os.getloadavg()]}


def fmt_s(x):
    return "-" if x is None else (f"{x:.3g} s" if x < 100 else f"{x:.0f} s")


def fmt_mib(x):
    return "-" if x is None else f"{x / MIB:,.0f} MiB"


class _Rows(list):
    """Rows that are also printed (one line each, stderr) as soon as they are measured."""

    def append(self, row: dict) -> None:
        super().append(row)
        print(" | ".join(str(row[c]) for c in COLUMNS), file=sys.stderr, flush=True)


def collect(sizes: dict, only: list[str], repeats: int, timeout: float) -> list[dict]:
    rows: list[dict] = _Rows()

    def err_row(name, size, result):
        rows.append({"benchmark": name, "sizes": size, "ours": "-", "baseline": "-", "ratio": "-",
                     "target": "-", "status": "ERROR", "peak": "-", "notes": result.get("error", "")[:160]})

    def speedup_row(name, size, t_ours, t_baseline, target, notes):
        """A row for 'baseline time / our time >= target'."""
        ratio = t_baseline / t_ours
        rows.append({"benchmark": name, "sizes": size, "ours": fmt_s(t_ours), "baseline": fmt_s(t_baseline),
                     "ratio": f"{ratio:.1f}", "target": f">= {target}",
                     "status": "ok" if ratio >= target else "MISS", "peak": "-", "notes": notes})

    if "kernel" in only or "kernel_memory" in only:
        p = sizes["kernel"]
        size = f"n={p['n']} d={p['d']} N={p['N']}"
        r = run_worker("kernel", {**p, "repeats": repeats}, timeout)
        if "error" in r:
            err_row("1. kernel vs BLAS floor", size, r)
        else:
            ratio = r["t_floor"] / r["t_kernel"]
            same = abs(r["checksum"][0] - r["ops_checksum"][0]) <= 1e-9 * abs(r["checksum"][0])
            rows.append({"benchmark": "1. nt_kernel vs BLAS floor (S S^T + X X^T)", "sizes": size,
                         "ours": fmt_s(r["t_kernel"]), "baseline": fmt_s(r["t_floor"]),
                         "ratio": f"{ratio:.2f}", "target": ">= 0.9", "status": "ok" if ratio >= 0.9 else "MISS",
                         "peak": fmt_mib(r["peak_rss"]), "notes": "floor / kernel time"})
            ratio_ops = r["t_floor"] / r["t_ops"]
            rows.append({"benchmark": "1b. NTKernelOperator.todense (syrk path) vs floor", "sizes": size,
                         "ours": fmt_s(r["t_ops"]), "baseline": fmt_s(r["t_floor"]),
                         "ratio": f"{ratio_ops:.2f}", "target": "(info)", "status": "same K" if same else "DIFFERENT K",
                         "peak": "-", "notes": "same inputs as row 1"})
            n, N = p["n"], p["N"]
            added = r["peak_rss"] - r["base_rss"]
            ideal = 8.0 * (n * n + n * N)
            mratio = added / ideal
            rows.append({"benchmark": "6. peak RSS of nt_kernel / 8 (n^2 + n N)", "sizes": size,
                         "ours": fmt_mib(added), "baseline": fmt_mib(ideal), "ratio": f"{mratio:.2f}",
                         "target": "<= 1.5", "status": "ok" if mratio <= 1.5 else "MISS",
                         "peak": fmt_mib(r["peak_rss"]),
                         "notes": f"added over {r['base_rss'] / MIB:.0f} MiB baseline (interpreter + inputs)"})

    if "structured" in only:
        p = sizes["structured"]
        size = f"n={p['n']} d={p['d']} N={p['N']}"
        a = run_worker("structured", {**p, "repeats": repeats}, timeout)
        b = run_worker("explicit", {**p, "repeats": max(1, repeats - 1)}, timeout)
        if "error" in a or "error" in b:
            err_row("2. structured vs explicit", size, a if "error" in a else b)
        else:
            ratio = b["t"] / a["t"]
            mem_a, mem_b = a["peak_rss"] - a["base_rss"], b["peak_rss"] - b["base_rss"]
            mratio = mem_b / mem_a
            same = abs(a["checksum"][1] - b["checksum"][1]) <= 1e-9 * abs(a["checksum"][1])
            ok = ratio >= 20 and mratio >= 10
            rows.append({"benchmark": "2. nt_kernel vs explicit Phi Phi^T", "sizes": size,
                         "ours": fmt_s(a["t"]), "baseline": fmt_s(b["t"]), "ratio": f"{ratio:.1f}x time, {mratio:.1f}x mem",
                         "target": ">= 20x, >= 10x", "status": "ok" if ok else "MISS",
                         "peak": f"{fmt_mib(mem_a)} vs {fmt_mib(mem_b)}",
                         "notes": ("same K" if same else "DIFFERENT K") + "; peak = RSS added by the call"})

    if "lambda_min" in only:
        p = sizes["lambda_min"]
        size = f"n={p['n']} d={p['d']} N={p['N']} (Nd/n={p['N'] * p['d'] / p['n']:.0f})"
        a = run_worker("lmin_free", {**p, "repeats": 1}, timeout)
        b = run_worker("lmin_dense", {**p, "repeats": 1}, timeout)
        if "error" in a or "error" in b:
            err_row("3. lambda_min matrix-free vs dense", size, a if "error" in a else b)
        else:
            ratio = b["t"] / a["t"]
            rel = abs(a["value"] - b["value"]) / abs(b["value"])
            rows.append({"benchmark": "3. lambda_min matrix-free vs dense", "sizes": size,
                         "ours": fmt_s(a["t"]), "baseline": fmt_s(b["t"]), "ratio": f"{ratio:.2f}",
                         "target": "(report)", "status": f"rel err {rel:.1e}",
                         "peak": f"{fmt_mib(a['peak_rss'])} vs {fmt_mib(b['peak_rss'])}",
                         "notes": f"lambda_min={b['value']:.6g}; {a['products']} products, residual "
                                  f"{a['residual']:.1e} (tol 1e-10 x {a['scale']:.3g})"})

    if "lambda_min_large" in only:
        p = sizes["lambda_min_large"]
        size = f"n={p['n']} d={p['d']} N={p['N']} (Nd/n={p['N'] * p['d'] / p['n']:.0f})"
        a = run_worker("lmin_free", {**p, "repeats": 1}, timeout)
        if "error" in a:
            err_row("3b. lambda_min matrix-free, large n", size, a)
        else:
            dense_gib = 8.0 * p["n"] ** 2 / 1024**3
            rows.append({"benchmark": "3b. lambda_min matrix-free, large n", "sizes": size,
                         "ours": fmt_s(a["t"]), "baseline": f"dense K alone {dense_gib:.1f} GiB", "ratio": "-",
                         "target": "(report)", "status": "converged" if a["converged"] else "NOT CONVERGED",
                         "peak": fmt_mib(a["peak_rss"]),
                         "notes": f"lambda_min={a['value']:.6g}; {a['products']} products, residual "
                                  f"{a['residual']:.1e}; S stored: {a['stored']}"})

    if "width_path" in only:
        p = sizes["width_path"]
        size = f"n={p['n']} d={p['d']} N<={p['N']}, {p['widths']} widths"
        r = run_worker("width", {**p, "repeats": repeats}, timeout)
        if "error" in r:
            err_row("4. width path", size, r)
        else:
            speedup_row("4. width_path vs separate nt_kernel", size, r["t_path"], r["t_separate"], 5,
                        f"max rel diff {r['max_rel_diff']:.1e}")

    if "ridge_path" in only:
        p = sizes["ridge_path"]
        size = f"n={p['n']} d={p['d']} N={p['N']}, {p['lambdas']} ridges"
        r = run_worker("ridge", {**p, "repeats": max(1, repeats - 1)}, timeout)
        if "error" in r:
            err_row("5. ridge path", size, r)
        else:
            speedup_row("5. ridge_path vs Cholesky per ridge", size, r["t_path"], r["t_separate"], 10,
                        f"max rel diff of coefficients {r['max_rel_diff']:.1e}")
            speedup_row("5b. ridge_path vs scipy.linalg.solve per ridge", size, r["t_path"], r["t_solve"], 10,
                        f"default assume_a; rel diff to Cholesky {r['solve_rel_diff']:.1e}")
    return rows


COLUMNS = ["benchmark", "sizes", "ours", "baseline", "ratio", "target", "status", "peak", "notes"]


def print_table(rows: list[dict], info: dict) -> None:
    try:
        from rich.console import Console
        from rich.table import Table

        table = Table(title="ntphase benchmarks", show_lines=False)
        for c in COLUMNS:
            table.add_column(c)
        for r in rows:
            table.add_row(*[str(r[c]) for c in COLUMNS])
        console = Console(width=220)
        console.print(table)
        console.print(info)
    except ImportError:  # pragma: no cover
        print(" | ".join(COLUMNS))
        for r in rows:
            print(" | ".join(str(r[c]) for c in COLUMNS))
        print(info)


def markdown(rows: list[dict], info: dict) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for r in rows:
        lines.append("| " + " | ".join(str(r[c]).replace("|", "/") for c in COLUMNS) + " |")
    lines.append("")
    lines.append("Machine: " + ", ".join(f"{k}: {v}" for k, v in info.items()))
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="ntphase benchmarks (see module docstring)")
    parser.add_argument("--quick", action="store_true", help="small sizes (harness check)")
    parser.add_argument("--only", nargs="*", default=None,
                        help=f"subset of {ORDER + ['kernel_memory']}")
    parser.add_argument("--repeats", type=int, default=None, help="timing repeats (default 3, quick 2)")
    parser.add_argument("--threads", type=int, default=None,
                        help="BLAS threads in the workers (default: the library default, all cores)")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds per worker")
    parser.add_argument("--markdown", type=Path, default=None, help="also write the table as Markdown")
    parser.add_argument("--json", type=Path, default=None, help="also write rows and machine info as JSON")
    parser.add_argument("--with-sweep", action="store_true", help="also run benchmarks/bench_sweep.py")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--params", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        params = json.loads(args.params)
        params.pop("widths_count", None)
        if args.worker == "width":
            out = w_width(params["n"], params["d"], params["N"], params["widths"], params["repeats"])
        elif args.worker == "ridge":
            out = w_ridge(params["n"], params["d"], params["N"], params["lambdas"], params["repeats"])
        else:
            out = WORKERS[args.worker](params["n"], params["d"], params["N"], params["repeats"])
        print("RESULT " + json.dumps(out), flush=True)
        return 0

    global THREADS
    THREADS = args.threads
    sizes = QUICK if args.quick else FULL
    repeats = args.repeats or (2 if args.quick else 3)
    only = args.only or ORDER
    unknown = set(only) - set(ORDER) - {"kernel_memory"}
    if unknown:
        parser.error(f"unknown benchmark(s) {sorted(unknown)}; choose from {ORDER + ['kernel_memory']}")
    info_before = machine()
    start = time.perf_counter()
    rows = collect(sizes, only, repeats, args.timeout)
    info = {**info_before, "load_average_after": [round(x, 2) for x in os.getloadavg()],
            "mode": "quick" if args.quick else "full", "repeats": repeats,
            "blas_threads_in_workers": args.threads or "default",
            "total_wall_s": round(time.perf_counter() - start, 1)}
    print_table(rows, info)
    if args.with_sweep:
        sweep = HERE / "bench_sweep.py"
        if sweep.exists():
            extra = ["--tasks", "8", "--task-cpu", "0.2"] if args.quick else []
            proc = subprocess.run([sys.executable, str(sweep), *extra], capture_output=True, text=True)
            print("\n--- benchmarks/bench_sweep.py ---\n" + proc.stdout[-3000:] + proc.stderr[-1000:])
        else:
            print("benchmarks/bench_sweep.py not found; skipped")
    if args.markdown:
        args.markdown.write_text(markdown(rows, info))
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "machine": info}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
