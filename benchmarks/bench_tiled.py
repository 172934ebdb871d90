"""Infinite-width kernel in tiles: time against the Gram GEMM alone, in one run.

    python benchmarks/bench_tiled.py [--quick] [--n 8000] [--d 100]
                                     [--activations relu gelu erf] [--repeats 2]
                                     [--engines] [--threads 1]

Cases, each timed as the minimum over ``--repeats`` (same data, same process),
printed as seconds and as the ratio to (a):

(a)  ``X @ X.T / d``: the Gram GEMM alone (NumPy calls ``syrk``: half the
     flops), allocating the ``n x n`` result;
(a') the same Gram in the operator's lower-triangle tiles, no kernel function
     (the floor of (d));
(b)  ``dense_infinite_kernel``: the dense ``n x n`` kernel, fast function;
(c)  ``ntphase.infinite_kernel``: the current dense kernel (NumPy exact function);
(d)  ``InfiniteKernelOperator``: ``K v`` and ``K V`` with 8 columns;
(e)  the operator's tiles with the NumPy exact kernel function (naive ``K v``).

Peak memory per case is tracemalloc's peak of NumPy allocations (MiB). Target:
(b) and (d) <= 2 x (a). ``--engines`` also times the elementwise engines on one
4000 x 4000 tile of ReLU correlations (d = 100): the fused numba pass, the
chunked NumPy Horner (the fallback), one numexpr expression, and NumPy's exact
``arccos`` form. A comparison with neural-tangents' ``stax`` closed-form kernel
runs only when ``neural_tangents`` is importable (not a dependency).
"""

from __future__ import annotations

import argparse
import os
import time
import tracemalloc

os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import numpy as np
from threadpoolctl import threadpool_limits

from ntphase import infinite_kernel
from ntphase.activations import get_activation
from ntphase.data import sample_sphere
from ntphase.kernels import fast_function as fk
from ntphase.kernels.tiled import InfiniteKernelOperator, dense_infinite_kernel

_MIB = 2.0**20


def timed(fn, repeats: int) -> tuple[float, float, object]:
    """(best seconds, peak traced MiB of the last run, last result)."""
    best, peak, result = np.inf, 0.0, None
    for _ in range(repeats):
        result = None
        tracemalloc.start()
        tracemalloc.reset_peak()
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
        peak = tracemalloc.get_traced_memory()[1] / _MIB
        tracemalloc.stop()
    return best, peak, result


def gram_tiles(op: InfiniteKernelOperator) -> None:
    """The operator's lower-triangle Gram tiles alone (no kernel function, no product)."""
    X, rows = op.X, op.tile_rows
    n = X.shape[0]
    buffer = np.empty(rows * n)
    for i0 in range(0, n, rows):
        i1 = min(i0 + rows, n)
        T = buffer[: (i1 - i0) * i1].reshape(i1 - i0, i1)
        np.matmul(X[i0:i1], X[:i1].T, out=T)
        T *= 1.0 / X.shape[1]


def naive_matvec(op: InfiniteKernelOperator, v: np.ndarray) -> np.ndarray:
    """``K v`` with the operator's tiles but NumPy's exact kernel function (the baseline)."""
    X, rows, act = op.X, op.tile_rows, op.activation
    n, d = X.shape
    out = np.zeros(n)
    buffer = np.empty(rows * n)
    for i0 in range(0, n, rows):
        i1 = min(i0 + rows, n)
        T = buffer[: (i1 - i0) * i1].reshape(i1 - i0, i1)
        np.matmul(X[i0:i1], X[:i1].T, out=T)
        T *= 1.0 / d
        np.clip(T, -1.0, 1.0, out=T)
        local = np.arange(i1 - i0)
        T[local, local + i0] = 1.0
        T = act.kernel_function(T, op.layers)
        out[i0:i1] += T @ v[:i1]
        if i0:
            out[:i0] += T[:, :i0].T @ v[i0:i1]
    return out


def neural_tangents_case(X: np.ndarray, name: str, repeats: int):
    """neural-tangents' closed-form NTK of Dense-act-Dense (None when not importable)."""
    try:
        import neural_tangents as nt  # noqa: F401
        from neural_tangents import stax
    except ImportError:
        return None
    layer = {"relu": stax.Relu(), "gelu": stax.Gelu(), "erf": stax.Erf()}.get(name)
    if layer is None:
        return None
    _, _, kernel_fn = stax.serial(stax.Dense(1), layer, stax.Dense(1))
    return timed(lambda: np.asarray(kernel_fn(X, X, "ntk")), repeats)


def engines(repeats: int) -> None:
    """Elementwise engines on one 4000 x 4000 tile of ReLU correlations (d = 100)."""
    import numexpr

    numexpr.set_num_threads(1)
    X = sample_sphere(4000, 100, np.random.default_rng(0))
    G = X @ X.T
    G *= 0.01
    np.fill_diagonal(G, 0.0)
    plan = next(p for p in fk.kernel_plans("relu") if p.tmax == 0.6)

    def horner_expr(coef, var):
        expr = repr(coef[-1])
        for c in coef[-2::-1]:
            expr = f"({expr})*{var} + {c!r}"
        return expr

    expression = f"{horner_expr(plan.even, '(t*t)')} + t*({horner_expr(plan.odd, '(t*t)')})"
    exact = get_activation("relu").kernel_function(G)
    cases = {
        "numba fused pass (chosen)": lambda A: fk._polynomial_numba(A, 0, A.shape[0], A.shape[1], 1.0, plan),
        "NumPy chunked Horner (fallback)": lambda A: fk._polynomial_numpy(A, 0, A.shape[0], A.shape[1], 1.0, plan),
        "numexpr, one expression": lambda A: numexpr.evaluate(expression, local_dict={"t": A}, out=A),
        "NumPy exact arccos form": lambda A: get_activation("relu").kernel_function(A),
    }
    print(f"\nengines: 4000 x 4000 ReLU tile, plan |t| <= {plan.tmax} ({plan.steps} Horner steps), one thread")
    for label, fn in cases.items():
        best = np.inf
        for _ in range(repeats):
            A = G.copy()
            start = time.perf_counter()
            out = fn(A)
            best = min(best, time.perf_counter() - start)
        result = out if label.startswith("NumPy exact") else A
        err = float(np.max(np.abs(result - exact)))
        print(f"  {label:34s} {best / G.size * 1e9:7.2f} ns/entry   max error {err:.1e}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="n = 1500, d = 40 (checks the harness)")
    parser.add_argument("--n", type=int, default=8000)
    parser.add_argument("--d", type=int, default=100)
    parser.add_argument("--activations", nargs="+", default=["relu", "gelu", "erf"])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads (default 1)")
    parser.add_argument("--engines", action="store_true", help="also time the elementwise engines")
    args = parser.parse_args()
    n, d = (1500, 40) if args.quick else (args.n, args.d)

    with threadpool_limits(args.threads):
        X = sample_sphere(n, d, np.random.default_rng(0))
        rng = np.random.default_rng(1)
        v, V = rng.standard_normal(n), rng.standard_normal((n, 8))
        print(f"n = {n}, d = {d}, BLAS threads = {args.threads}, engine = {fk.ENGINE}, repeats = {args.repeats}")
        a, a_mem, _ = timed(lambda: (X @ X.T) * (1.0 / d), args.repeats)
        print(f"(a)  Gram X X^T/d (syrk)              {a:8.3f} s   1.00 x (a)   peak {a_mem:8.1f} MiB")
        for name in args.activations:
            get_activation(name)
            fk.kernel_plans(name)  # plans and compilation outside the timings
            op = InfiniteKernelOperator(X, name)
            op @ v
            rows = [("(a') Gram in operator tiles", lambda op=op: gram_tiles(op))]
            rows += [
                ("(b)  dense_infinite_kernel", lambda name=name: dense_infinite_kernel(X, name)),
                ("(c)  ntphase.infinite_kernel (now)", lambda name=name: infinite_kernel(X, name)),
                ("(d)  operator K v", lambda op=op: op @ v),
                ("(d)  operator K V, 8 columns", lambda op=op: op @ V),
                ("(e)  tiles + NumPy exact K v", lambda op=op: naive_matvec(op, v)),
            ]
            print(f"-- {name} (tile rows {op.tile_rows})")
            results = {}
            for label, fn in rows:
                seconds, peak, result = timed(fn, args.repeats)
                results[label] = result
                print(f"{label:38s} {seconds:8.3f} s {seconds / a:6.2f} x (a)   peak {peak:8.1f} MiB")
            diff = np.max(np.abs(results["(b)  dense_infinite_kernel"] - results["(c)  ntphase.infinite_kernel (now)"]))
            mv = results["(d)  operator K v"]
            rel = np.linalg.norm(mv - results["(e)  tiles + NumPy exact K v"]) / np.linalg.norm(mv)
            print(f"     check: max |(b) - (c)| = {diff:.1e}, |(d) - (e)| / |(e)| = {rel:.1e}")
            del results
            nt_case = neural_tangents_case(X, name, args.repeats)
            if nt_case is None:
                print("     neural-tangents stax: not importable here, comparison skipped")
            else:
                print(f"(nt) neural-tangents stax NTK            {nt_case[0]:8.3f} s {nt_case[0] / a:6.2f} x (a)")
        if args.engines:
            engines(args.repeats)


if __name__ == "__main__":
    main()
