"""GPU backend benchmark: ntphase on a device against the CPU NumPy path, in one run.

Cases (full sizes; ``--cpu-dry-run`` shrinks them to seconds on a CPU, computing
the "device" side with JAX on the CPU or NumPy):

* ``nt_kernel``: ``K_N`` at n = 20,000, d = 100, N = 2,000 (ReLU);
* ``krr_cholesky``: dense KRR, ``(K + lambda I)^{-1} y`` by Cholesky for the
  infinite ReLU kernel at n = 50,000 and n = 100,000 (the 100,000 case builds
  ``K`` tile by tile into one device array and factors it in place: 80 GB);
* ``cg_krr``: the same KRR matrix-free at n = 100,000 (conjugate gradients on
  ``infinite_kernel_product``, ridge 0.1, at most 60 iterations; no CPU side);
* ``lambda_min``: the smallest eigenvalue of ``K_N`` at n = 50,000 (``eigvalsh``).

For every case: device seconds (after a warm-up, synchronized), CPU NumPy seconds
when the CPU side is estimated under ``--cpu-cap`` seconds (else "skipped" and the
estimate), the ratio, the agreement (max relative difference, or the relative
residual where the CPU side was skipped) and the peak device memory
(``torch.cuda.max_memory_allocated`` / CuPy's pool). Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import math
import os
import time

import numpy as np

from ntphase._util.arrays import to_numpy
from ntphase._util.backend import Backend, float64_math, resolve_device
from ntphase.kernels import infinite_kernel, infinite_kernel_product, nt_kernel
from ntphase.linalg import lambda_min, solve_ridge
from ntphase.linalg.array_api import conjugate_gradient

FULL = {"nt": (20_000, 100, 2_000), "krr": (50_000, 100_000), "pcg": 100_000, "lam": (50_000, 100, 2_000), "d_krr": 100}
DRY = {"nt": (1_500, 20, 200), "krr": (1_200, 2_000), "pcg": 2_000, "lam": (1_000, 20, 100), "d_krr": 20}
#: Rough CPU float64 rates (flop/s) on a 16-core host, used only to decide whether to run the CPU side.
CPU_RATE = {"gemm": 4e11, "chol": 3e11, "eig": 3e10}


def sphere(rng, n, d):
    X = rng.standard_normal((n, d))
    return X * (math.sqrt(d) / np.linalg.norm(X, axis=1, keepdims=True))


def sync(b: Backend) -> None:
    if b.library == "torch" and b.device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()
    elif b.library == "cupy":
        import cupy

        cupy.cuda.Device().synchronize()


def reset_peak(b: Backend) -> None:
    if b.library == "torch" and b.device.startswith("cuda"):
        import torch

        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    elif b.library == "cupy":
        import cupy

        cupy.get_default_memory_pool().free_all_blocks()


def peak_gib(b: Backend) -> float:
    if b.library == "torch" and b.device.startswith("cuda"):
        import torch

        return torch.cuda.max_memory_allocated() / 2**30
    if b.library == "cupy":
        import cupy

        return cupy.get_default_memory_pool().total_bytes() / 2**30
    return float("nan")


def timed(b: Backend, fn):
    sync(b)
    t0 = time.perf_counter()
    out = fn()
    if hasattr(out, "block_until_ready"):
        out.block_until_ready()
    sync(b)
    return out, time.perf_counter() - t0


def rel(a, b) -> float:
    a, b = np.asarray(a), np.asarray(b)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


def build_infinite_kernel(b: Backend, Xd, n: int, ridge: float):
    """``K + ridge I`` for relu, row tiles of the cross kernel written into one device array."""
    xp = b.xp
    if b.library not in ("torch", "cupy"):  # no in-place writes (JAX): the dense call
        K = infinite_kernel(Xd, "relu")
        return K + ridge * xp.eye(n, dtype=xp.float64, device=b.native if b.library != "numpy" else None)
    K = xp.empty((n, n), dtype=xp.float64, device=Xd.device)
    rows = max(1, 2**31 // (8 * n))
    for i in range(0, n, rows):
        j = min(i + rows, n)
        K[i:j, :] = infinite_kernel(Xd[i:j, :], "relu", X2=Xd)
    diag = K.diagonal() if b.library == "torch" else xp.diagonal(K) if hasattr(xp, "diagonal") else None
    if b.library == "torch":
        diag.fill_(0.5 + ridge)  # H(1) = 1/2 for relu exactly (cross tiles see t = 1 up to rounding)
    else:
        import cupy

        cupy.fill_diagonal(K, 0.5 + ridge)
    return K


def device_bytes(b: Backend) -> float:
    if b.library == "torch" and b.device.startswith("cuda"):
        import torch

        return float(torch.cuda.get_device_properties(b.native).total_memory)
    return float("inf")


def torch_inplace_solve(A, y):
    """``A^{-1} y`` for SPD ``A`` factored in place (``out=A``), then two triangular solves."""
    import torch

    torch.linalg.cholesky(A, out=A)
    z = torch.linalg.solve_triangular(A, y[:, None], upper=False)
    return torch.linalg.solve_triangular(A.mT, z, upper=True)[:, 0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda", help="device for the ntphase side (default cuda)")
    ap.add_argument("--cpu-dry-run", action="store_true", help="small sizes; device side on --device (e.g. jax:cpu)")
    ap.add_argument("--cpu-cap", type=float, default=90.0, help="run the CPU side only if estimated below (s)")
    args = ap.parse_args()
    sizes = DRY if args.cpu_dry_run else FULL
    b = resolve_device(args.device)
    print(f"device backend: {b}; CPU threads: {os.cpu_count()}; dry run: {args.cpu_dry_run}")
    rng = np.random.default_rng(0)
    rows = []

    def record(case, dev_s, cpu_s, agree, note=""):
        cpu_txt = f"{cpu_s:.2f}" if isinstance(cpu_s, float) else cpu_s
        ratio = f"{cpu_s / dev_s:.1f}x" if isinstance(cpu_s, float) else "-"
        rows.append((case, f"{dev_s:.2f}", cpu_txt, ratio, agree, f"{peak_gib(b):.1f}", note))
        print(rows[-1], flush=True)

    with float64_math(b.xp):
        # nt_kernel
        n, d, N = sizes["nt"]
        X = sphere(rng, n, d)
        W = rng.standard_normal((N, d)) / math.sqrt(d)
        Xd, Wd = b.asarray(X), b.asarray(W)
        nt_kernel(Xd[:256, :], Wd, "relu")  # warm-up
        reset_peak(b)
        Kd, dev_s = timed(b, lambda: nt_kernel(Xd, Wd, "relu"))
        est = 2.0 * n * n * (N + d) / 2 / CPU_RATE["gemm"]
        if est <= args.cpu_cap:
            K, cpu_s = timed(resolve_device("cpu"), lambda: nt_kernel(X, W, "relu"))
            record(f"nt_kernel n={n} d={d} N={N}", dev_s, cpu_s, f"{rel(to_numpy(Kd), K):.1e}")
            del K
        else:
            record(f"nt_kernel n={n} d={d} N={N}", dev_s, f"skipped (est. {est:.0f} s)", "-")
        del Kd

        # dense KRR by Cholesky
        ridge = 1e-3
        for n in sizes["krr"]:
            d = sizes["d_krr"]
            X = sphere(rng, n, d)
            y = rng.standard_normal(n)
            reset_peak(b)
            try:
                Xd, yd = b.asarray(X), b.asarray(y)
                A, build_s = timed(b, lambda Xd=Xd, n=n: build_infinite_kernel(b, Xd, n, ridge))
                if b.library == "torch" and 3 * 8.0 * n * n > device_bytes(b):
                    # K, its factor and a product do not fit together: factor in place (raw torch, not solve_ridge)
                    alpha, dev_s = timed(b, lambda A=A, yd=yd: torch_inplace_solve(A, yd))
                    res, how = float("nan"), "in-place torch Cholesky (K overwritten; no residual)"
                else:
                    alpha, dev_s = timed(b, lambda A=A, yd=yd: solve_ridge(A, yd, 0.0))
                    res = float(np.linalg.norm(to_numpy(A @ alpha - yd)) / np.linalg.norm(y))
                    how = "ntphase solve_ridge"
                note = f"{how}; kernel build {build_s:.1f} s; residual {res:.1e}"
                del A
            except Exception as exc:  # out of device memory at n = 100,000 without an in-place factor
                rows.append((f"krr_cholesky n={n}", "failed", "-", "-", "-", f"{peak_gib(b):.1f}",
                             f"{type(exc).__name__}: {str(exc).splitlines()[0][:80]}"))
                print(rows[-1], flush=True)
                continue
            est = (n**3 / 3) / CPU_RATE["chol"]
            if est <= args.cpu_cap and 8.0 * n * n * 2 < 0.5 * 128 * 2**30:
                Kc = infinite_kernel(X, "relu")
                a_cpu, cpu_s = timed(resolve_device("cpu"), lambda Kc=Kc, y=y: solve_ridge(Kc, y, ridge))
                record(f"krr_cholesky n={n}", dev_s, cpu_s, f"{rel(to_numpy(alpha), a_cpu):.1e}", note)
                del Kc
            else:
                record(f"krr_cholesky n={n}", dev_s, f"skipped (est. {est:.0f} s)", f"res {res:.1e}", note)
            del alpha

        # matrix-free CG KRR: K is never formed (tiles of 1 GiB), ridge 0.1
        n = sizes["pcg"]
        d = sizes["d_krr"]
        X = sphere(rng, n, d)
        y = rng.standard_normal(n)
        Xd, yd = b.asarray(X), b.asarray(y)
        tile = max(1, 2**30 // (8 * n))
        reset_peak(b)

        def cg():
            return conjugate_gradient(lambda v: infinite_kernel_product(Xd, "relu", v, tile_rows=tile) + 0.1 * v,
                                      yd, tol=1e-8, maxiter=60)

        (x, its, res), dev_s = timed(b, cg)
        record(f"cg_krr (matrix-free) n={n}", dev_s, "not run (no CPU side)", f"res {res:.1e}",
               f"{its} iterations, ridge 0.1, tiles of {tile} rows")

        # lambda_min(K_N) by a dense eigensolver
        n, d, N = sizes["lam"]
        X = sphere(rng, n, d)
        W = rng.standard_normal((N, d)) / math.sqrt(d)
        reset_peak(b)
        Kd = nt_kernel(b.asarray(X), b.asarray(W), "relu")
        lam_dev, dev_s = timed(b, lambda: lambda_min(Kd, method="dense"))
        est = (4.0 / 3.0) * n**3 / CPU_RATE["eig"]
        if est <= args.cpu_cap:
            K = nt_kernel(X, W, "relu")
            lam_cpu, cpu_s = timed(resolve_device("cpu"), lambda: lambda_min(K, method="dense"))
            scale = float(np.max(np.abs(K)))
            record(f"lambda_min(K_N) n={n} N d={N * d}", dev_s, cpu_s, f"{abs(lam_dev - lam_cpu) / scale:.1e}",
                   f"lambda_min = {lam_dev:.6g}")
        else:
            record(f"lambda_min(K_N) n={n} N d={N * d}", dev_s, f"skipped (est. {est:.0f} s)", "-",
                   f"lambda_min = {lam_dev:.6g}")

    print("\n| case | device s | CPU NumPy s | CPU/device | agreement | peak device GiB | note |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(str(c) for c in r) + " |")


if __name__ == "__main__":
    main()
