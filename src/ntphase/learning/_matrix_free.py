"""The one choice point between dense and matrix-free ridge solves, and the matrix-free solves.

``solver="auto"`` picks by the memory guard and a cost model (flops):

* dense: forming the kernel (``n^2 (d + KERNEL_ENTRY_FLOPS)/2`` for ``K``,
  ``n^2 (N + d)`` for ``K_N``) plus Cholesky ``n^3 / 3``; requires ``16 n^2``
  bytes (the matrix and the factorization's copy) to fit;
* cg: the preconditioner's build plus ``HARMONIC_ITERATIONS_FILLED``
  (harmonic) or ``NYSTROM_ITERATIONS`` (Nystrom) products with the operator;

the cheaper wins; below ``AUTO_DENSE_MIN_N`` samples dense always wins when it
fits (Python overhead per CG step dominates there), and dense is refused when it
does not fit (then ``"cg"`` whatever the flops). The choice is recorded in the estimators' ``solver_``.

Devices: inside :func:`ntphase.kernels.use_device` the cg route runs on the
device. The SciPy operators (:class:`~ntphase.kernels.NTKernelOperator`,
:class:`~ntphase.kernels.InfiniteKernelOperator`) are NumPy only; there the
products are :func:`~ntphase.kernels.nt_kernel_product` /
:func:`~ntphase.kernels.infinite_kernel_product` on the device arrays,
:func:`~ntphase.linalg.block_cg` runs its device branch, the preconditioner
(harmonic or Nystrom, built on the host) is applied on the host with the
residuals going there and back each step, and the coefficients come back as
NumPy. A path without preconditioner runs as one batched block CG on the device
(multi-shift CG is host-only).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
from rich.progress import Progress, TextColumn, TimeElapsedColumn

from ntphase import conventions
from ntphase._util.arrays import to_numpy
from ntphase._util.backend import current_backend, float64_math
from ntphase._util.memory import fits
from ntphase._util.validation import check_choice
from ntphase.activations import get_activation
from ntphase.kernels import InfiniteKernelOperator, NTKernelOperator, infinite_kernel_product, nt_kernel_product
from ntphase.kernels.harmonic import harmonic_rank
from ntphase.learning.preconditioning import (
    HARMONIC_ITERATIONS_FILLED,
    KERNEL_ENTRY_FLOPS,
    harmonic_level,
    harmonic_preconditioner,
    infinite_product_flops,
    nystrom_preconditioner,
)
from ntphase.linalg.cg import CGInfo, block_cg, ridge_path_cg

SOLVERS = ("auto", "dense", "cg")
PRECONDITIONERS = ("auto", "harmonic", "nystrom", "none")

#: PCG iterations assumed with the Nystrom preconditioner (measured 23-28 at n = 5,000).
NYSTROM_ITERATIONS = 30
#: Up to this many samples ``"auto"`` solves densely whenever that fits.
AUTO_DENSE_MIN_N = 2000
#: Default number of Nystrom centres.
NYSTROM_CENTRES = 1000


def dense_bytes(n: int) -> float:
    """Peak bytes of a dense ridge solve: the ``n x n`` kernel and Cholesky's working copy."""
    return 16.0 * n * n


def on_sphere(X: np.ndarray) -> bool:
    d = X.shape[1]
    radius2 = np.einsum("ij,ij->i", X, X) / d
    return bool(np.all(np.abs(radius2 - 1.0) <= conventions.RADIUS_RTOL))


def choose_solver(n: int, d: int, activation: Any, layers: str = "first", *, width: int | None = None,
                  sphere: bool = True) -> str:
    """``"dense"`` or ``"cg"`` by the memory guard and the module's cost model."""
    if not fits(dense_bytes(n)):
        return "cg"
    if n <= AUTO_DENSE_MIN_N:
        return "dense"
    if width is None:
        formation = 0.5 * n * n * (d + KERNEL_ENTRY_FLOPS)
        product = infinite_product_flops(n, d)
    else:
        formation = float(n) * n * (width + d)
        product = 4.0 * n * width * d
    dense = formation + n**3 / 3.0
    if sphere:
        level = harmonic_level(n, d, activation, layers=layers, product_flops=product, warn=False)
        r = harmonic_rank(activation, d, level, layers)
        cg = HARMONIC_ITERATIONS_FILLED * product + float(n) * r * r + r**3 / 3.0
    else:
        m = min(NYSTROM_CENTRES, n)
        cg = NYSTROM_ITERATIONS * product + float(n) * m * (d + m)
    return "dense" if dense <= cg else "cg"


def resolve_preconditioner(choice: str, sphere: bool) -> str:
    choice = check_choice("preconditioner", choice, PRECONDITIONERS)
    if choice == "auto":
        return "harmonic" if sphere else "nystrom"
    if choice == "harmonic" and not sphere:
        raise ValueError(
            "preconditioner='harmonic' needs rows on the sphere of radius sqrt(d) (its model is the "
            "kernel's spherical-harmonic expansion); use 'nystrom' or 'none', or normalize the data"
        )
    return choice


def build_preconditioner(
    name: str,
    X: np.ndarray,
    activation: Any,
    ridge: float,
    layers: str,
    *,
    W: np.ndarray | None = None,
    product_flops: float | None = None,
    rng: Any = None,
) -> Any:
    """The preconditioner object (None for ``"none"``)."""
    if name == "none":
        return None
    if name == "harmonic":
        n, d = X.shape
        level = harmonic_level(n, d, activation, layers=layers, product_flops=product_flops)
        return harmonic_preconditioner(X, activation, ridge, level, layers)
    return nystrom_preconditioner(X, activation, ridge, min(NYSTROM_CENTRES, X.shape[0]), W=W,
                                  layers=layers, rng=rng)


@contextmanager
def progress_bar(enabled: bool, what: str, rtol: float) -> Iterator[Callable[[int, float], None] | None]:
    """A rich progress bar showing the iteration and the relative residual (None when disabled)."""
    if not enabled:
        yield None
        return
    with Progress(
        TextColumn("[bold]{task.description}"),
        TextColumn("iteration {task.completed:.0f}"),
        TextColumn("residual {task.fields[residual]:.2e} (rtol {task.fields[rtol]:.0e})"),
        TimeElapsedColumn(),
        transient=False,
    ) as bar:
        task = bar.add_task(what, total=None, residual=1.0, rtol=rtol)

        def update(iteration: int, residual: float) -> None:
            bar.update(task, completed=iteration, residual=residual)

        yield update


def operator(X: np.ndarray, activation: Any, layers: str, W: np.ndarray | None) -> Any:
    if W is None:
        return InfiniteKernelOperator(X, activation, layers=layers)
    return NTKernelOperator(X, W, activation, layers=layers)


def device_operator(X: np.ndarray, activation: Any, layers: str, W: np.ndarray | None) -> Any:
    """``(backend, V -> K V)`` on the :func:`~ntphase.kernels.use_device` target, or ``None`` outside one.

    The product is :func:`~ntphase.kernels.infinite_kernel_product` (``W is
    None``) or :func:`~ntphase.kernels.nt_kernel_product` on ``X`` (and ``W``)
    moved once to the device.
    """
    backend = current_backend()
    if backend is None:
        return None
    act = get_activation(activation)
    Xd = backend.asarray(np.asarray(X, dtype=np.float64))
    if W is None:
        return backend, lambda V: infinite_kernel_product(Xd, act, V, layers=layers)
    Wd = backend.asarray(np.asarray(W, dtype=np.float64))
    return backend, lambda V: nt_kernel_product(Xd, Wd, act, V, layers=layers)


def _block_cg_on_device(
    device: Any, B: np.ndarray, M: Any, ridge: Any, **options: Any
) -> tuple[np.ndarray, CGInfo]:
    """:func:`block_cg` of the device product ``device = (backend, apply)``; NumPy result."""
    backend, apply = device
    with float64_math(backend.xp):
        X, info = block_cg(apply, backend.asarray(np.asarray(B, dtype=np.float64)), M, ridge=ridge, **options)
        return np.asarray(to_numpy(X), dtype=np.float64), info


def product_cost(X: np.ndarray, W: np.ndarray | None, nvec: int = 1) -> float:
    n, d = X.shape
    if W is None:
        return infinite_product_flops(n, d, nvec)
    return 4.0 * n * W.shape[0] * d * nvec


def solve_cg(
    X: np.ndarray,
    y: np.ndarray,
    activation: Any,
    ridge: float,
    layers: str,
    *,
    preconditioner: str,
    rtol: float,
    maxiter: int | None,
    progress: Callable[[int, float], None] | None,
    W: np.ndarray | None = None,
    rng: Any = None,
) -> tuple[np.ndarray, CGInfo, str]:
    """``(K + ridge I) alpha = y`` by PCG on the kernel operator; returns ``alpha``, info and the solver name."""
    sphere = on_sphere(X)
    name = resolve_preconditioner(preconditioner, sphere)
    M = build_preconditioner(name, X, activation, ridge, layers, W=W,
                             product_flops=product_cost(X, W), rng=rng)
    device = device_operator(X, activation, layers, W)
    if device is not None:
        alpha, info = _block_cg_on_device(device, y, M, ridge, rtol=rtol, maxiter=maxiter, progress=progress)
    else:
        op = operator(X, activation, layers, W)
        alpha, info = block_cg(op, y, M, ridge=ridge, rtol=rtol, maxiter=maxiter, progress=progress)
    return alpha, info, "cg" if name == "none" else f"cg+{name}"


def path_cg(
    X: np.ndarray,
    y: np.ndarray,
    activation: Any,
    lambdas: np.ndarray,
    layers: str,
    *,
    preconditioner: str,
    rtol: float,
    maxiter: int | None,
    progress: Callable[[int, float], None] | None,
    W: np.ndarray | None = None,
    rng: Any = None,
) -> tuple[np.ndarray, CGInfo, str]:
    """``(K + lambda_s I) alpha_s = y`` for every ``lambda_s``: multi-shift CG (no preconditioner)
    or batched PCG (one block product per step for all shifts). Returns ``(n, L)`` coefficients."""
    sphere = on_sphere(X)
    name = resolve_preconditioner(preconditioner, sphere)
    device = device_operator(X, activation, layers, W)
    B = np.repeat(y[:, None], lambdas.size, axis=1)
    if name == "none":
        if device is not None:  # multi-shift CG is host-only: one batched block CG on the device
            alpha, info = _block_cg_on_device(device, B, None, lambdas, rtol=rtol, maxiter=maxiter,
                                              progress=progress)
            return alpha, info, "cg"
        op = operator(X, activation, layers, W)
        alpha, info = ridge_path_cg(op, y, lambdas, rtol=rtol, maxiter=maxiter, progress=progress)
        return alpha, info, "multishift-cg"
    base = float(np.min(lambdas))
    M = build_preconditioner(name, X, activation, base, layers, W=W,
                             product_flops=product_cost(X, W, lambdas.size), rng=rng)
    columns = M.for_ridges(lambdas)
    if device is not None:
        alpha, info = _block_cg_on_device(device, B, columns, lambdas, rtol=rtol, maxiter=maxiter,
                                          progress=progress)
    else:
        op = operator(X, activation, layers, W)
        alpha, info = block_cg(op, B, columns, ridge=lambdas, rtol=rtol, maxiter=maxiter, progress=progress)
    return alpha, info, f"cg+{name}"


def nt_cross_product(
    X_test: np.ndarray, X: np.ndarray, W: np.ndarray, activation: Any, alpha: np.ndarray, layers: str
) -> np.ndarray:
    """``K_N(X_test, X) alpha`` through the feature space, never the cross kernel.

    First layer: ``A = S^T (alpha o X)`` (``N x d`` per column of ``alpha``), then
    ``f(x) = (1/(N d)) sum_k sigma'(<w_k, x>) <x, A_k>``; second layer:
    ``f(x) = sigma(x W^T) sigma(X W^T)^T alpha / N``. Row blocks of
    ``conventions.NEURON_BLOCK_BYTES``; cost ``O((n + n_test) N d m)``.
    """
    act = get_activation(activation)
    vector = alpha.ndim == 1
    A2 = alpha[:, None] if vector else alpha
    m = A2.shape[1]
    N, d = W.shape
    first = layers in ("first", "both")
    second = layers in ("second", "both")
    rows = max(1, int(conventions.NEURON_BLOCK_BYTES // (8 * N * max(1, m))))
    Afirst = np.zeros((m, N, d))
    Asecond = np.zeros((N, m))
    for i in range(0, X.shape[0], rows):
        Xb = X[i : i + rows]
        Z = Xb @ W.T
        if first:
            S = np.asarray(act.dsigma(Z), dtype=np.float64)
            for j in range(m):
                Afirst[j] += S.T @ (A2[i : i + rows, j, None] * Xb)
        if second:
            Asecond += np.asarray(act.sigma(Z), dtype=np.float64).T @ A2[i : i + rows]
    out = np.zeros((X_test.shape[0], m))
    for i in range(0, X_test.shape[0], rows):
        Xb = X_test[i : i + rows]
        Z = Xb @ W.T
        if first:
            S = np.asarray(act.dsigma(Z), dtype=np.float64)
            for j in range(m):
                out[i : i + rows, j] += np.einsum("ik,ik->i", S, Xb @ Afirst[j].T) / (N * d)
        if second:
            out[i : i + rows] += np.asarray(act.sigma(Z), dtype=np.float64) @ Asecond / N
    return out[:, 0] if vector else out
