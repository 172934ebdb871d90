"""One-pass width path: the empirical NT kernel ``K_N`` for a grid of widths.

One concept: :func:`width_path` yields ``K_N`` for every width ``N`` of an
increasing grid from ONE pass over the neurons, accumulating
``S[:, block] S[:, block]^T`` with BLAS ``syrk`` (``gemm`` for a cross kernel),
then one Hadamard product by ``X X2^T / d`` per width (docs/theory.md, section 2;
Montanari & Zhong 2022, section 2). It is also the dense engine of
:meth:`ntphase.kernels.operator.NTKernelOperator.todense`. """

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
from scipy.linalg.blas import dgemm, dsyrk

from ntphase import conventions
from ntphase._util.memory import check_memory
from ntphase._util.validation import check_choice, check_int
from ntphase.activations import get_activation
from ntphase.conventions import LAYERS
from ntphase.kernels._neuron_blocks import as_f64, block_width, derivatives, mm_abt

__all__ = ["FINALIZE_TILE", "path_bytes", "width_path"]

#: Rows and columns of one tile when the width path mirrors its output.
FINALIZE_TILE = 256


def path_bytes(n: int, n2: int, layers: str, n_widths: int, symmetric: bool, N: int) -> float:
    """Peak bytes of :func:`width_path` beyond inputs (accumulators, Gram, one output, one block)."""
    accumulators = 2 if layers == "both" else 1
    gram = 1 if (layers != "second" and n_widths > 1) else 0
    outputs = 1 if n_widths > 1 else 0
    # pre-activation + derivative(s) of one neuron block, for X (and X2)
    rows = n if symmetric else n + n2
    block = 3.0 * 8 * rows * block_width(max(n, n2), N, None)
    return 8.0 * n * n2 * (accumulators + gram + outputs) + block


def _check_widths(widths: Iterable[Any], N_total: int) -> list[int]:
    try:
        widths = list(widths)
    except TypeError:
        raise TypeError(f"widths must be a sequence of integers, got {widths!r}") from None
    if not widths:
        raise ValueError("widths must contain at least one width, got an empty sequence")
    out = [check_int("widths[i]", w, minimum=1, maximum=N_total) for w in widths]
    if any(b <= a for a, b in zip(out, out[1:])):
        raise ValueError(f"widths must be strictly increasing, got {out}")
    return out


def width_path(
    X: Any,
    W: Any,
    activation: Any,
    widths: Iterable[int],
    X2: Any = None,
    layers: str = "first",
    *,
    block_size: int | None = None,
) -> Iterator[tuple[int, np.ndarray]]:
    r"""Yield ``(N, K_N)`` for every width of an increasing grid in one pass.

    ``K_N`` uses the first ``N`` rows of ``W``:
    ``K_N = (X X2^T / d) ∘ (S_N S2_N^T) / N`` (first layer),
    ``A_N A2_N^T / N`` (second), or the sum (both), with
    ``S_N = sigma'(X W[:N]^T)``, ``A_N = sigma(X W[:N]^T)``. The running sums
    ``sum_{k < N} s_k s2_k^T`` are accumulated neuron block by neuron block
    (BLAS ``syrk`` when ``X2`` is None, computing one triangle; ``gemm``
    otherwise), and at each width the output is formed with one Hadamard
    product by the stored ``X X2^T / d``.

    Parameters
    ----------
    X : array_like, shape (n, d)
    W : array_like, shape (N_max, d)
        Weights; the first ``max(widths)`` rows are used.
    activation : str or Activation
    widths : sequence of int
        Strictly increasing, each in ``[1, W.shape[0]]``.
    X2 : array_like, shape (n2, d), optional
        Second set of points for a cross kernel ``K_N(X, X2)``.
    layers : {"first", "second", "both"}
    block_size : int, optional
        Neurons per block (default about ``NEURON_BLOCK_BYTES / (8 n)``).

    Yields
    ------
    (N, K) : tuple of int and ndarray, shape (n, n2), float64
        A new array for every width except the last, which reuses the
        accumulator (so a single width costs one ``n x n2`` array).

    Notes
    -----
    Cost: ``n n2 (N_max + d)`` multiply-adds for the accumulation (half of it
    when ``X2`` is None) plus ``n n2`` per width, versus
    ``sum_N n n2 (N + d)`` for separate kernels.
    Memory: ``8 n n2`` bytes per accumulator (two for ``"both"``), plus
    ``X X2^T / d`` and one output when there are several widths, plus one
    neuron block; checked up front with :func:`ntphase._util.memory.check_memory`.
    The arguments are validated when the function is called; the work is done
    lazily as the generator is consumed.

    Examples
    --------
    >>> import numpy as np
    >>> from ntphase.kernels.operator import width_path
    >>> rng = np.random.default_rng(1)
    >>> X = rng.standard_normal((20, 4)); W = rng.standard_normal((9, 4)) / 2
    >>> [N for N, K in width_path(X, W, "relu", [3, 6, 9])]
    [3, 6, 9]
    """
    X = as_f64("X", X)
    d = X.shape[1]
    W = as_f64("W", W, ncols=d)
    symmetric = X2 is None
    X2 = X if symmetric else as_f64("X2", X2, ncols=d)
    layers = check_choice("layers", layers, LAYERS)
    widths = _check_widths(widths, W.shape[0])
    if block_size is not None:
        block_size = check_int("block_size", block_size, minimum=1)
    act = get_activation(activation)
    n, n2 = X.shape[0], X2.shape[0]
    check_memory(
        path_bytes(n, n2, layers, len(widths), symmetric, widths[-1]),
        f"width path of K_N with shape ({n}, {n2}) over {len(widths)} widths",
        "use fewer rows, one width at a time, or the matrix-free NTKernelOperator",
    )
    return _width_path_iter(X, W, act, widths, X2, symmetric, layers, block_size)


def _width_path_iter(
    X: np.ndarray,
    W: np.ndarray,
    act: Any,
    widths: list[int],
    X2: np.ndarray,
    symmetric: bool,
    layers: str,
    block_size: int | None,
) -> Iterator[tuple[int, np.ndarray]]:
    n, d = X.shape
    n2 = X2.shape[0]
    first = layers in ("first", "both")
    second = layers in ("second", "both")
    # Accumulators in Fortran order for in-place BLAS; their transposes (C order)
    # are the kernels. Symmetric: the F-order upper triangle is filled, i.e. the
    # lower triangle of the C-order view.
    acc1: Any = np.zeros((n2, n), order="F") if first else None  # None when its layer is off
    acc2: Any = np.zeros((n2, n), order="F") if second else None
    gram = None
    if first and len(widths) > 1:
        gram = mm_abt(X, X2)
        gram /= d
    b = block_width(max(n, n2), widths[-1], block_size)
    start = 0
    for index, N in enumerate(widths):
        for b0 in range(start, N, b):
            Wb = W[b0 : min(b0 + b, N)]
            S, A = derivatives(act, mm_abt(X, Wb), layers)
            if symmetric:
                # acc^T (C order, n x n) lower triangle += S S^T
                if first:
                    dsyrk(1.0, S.T, beta=1.0, c=acc1, trans=1, lower=0, overwrite_c=1)
                if second:
                    dsyrk(1.0, A.T, beta=1.0, c=acc2, trans=1, lower=0, overwrite_c=1)
            else:
                S2, A2 = derivatives(act, mm_abt(X2, Wb), layers)
                # F-order (n2 x n) accumulator += S2 S^T, i.e. its C-order transpose += S S2^T
                if first:
                    dgemm(1.0, S2.T, S.T, beta=1.0, c=acc1, trans_a=1, trans_b=0, overwrite_c=1)
                if second:
                    dgemm(1.0, A2.T, A.T, beta=1.0, c=acc2, trans_a=1, trans_b=0, overwrite_c=1)
        start = N
        last = index == len(widths) - 1
        M1 = acc1.T if first else None  # C order, (n, n2)
        M2 = acc2.T if second else None
        out: Any = (M1 if first else M2) if last else np.empty((n, n2))
        _finalize(M1, M2, gram, X, X2, d, N, symmetric, out)
        yield N, out


def _finalize(
    M1: Any,
    M2: Any,
    gram: Any,
    X: np.ndarray,
    X2: np.ndarray,
    d: int,
    N: int,
    symmetric: bool,
    out: np.ndarray,
) -> None:
    """``out = ((X X2^T/d) ∘ M1 + M2) / N`` by row blocks; symmetric: from the lower triangles.

    ``M1``, ``M2``, ``gram``: arrays, or None when not needed. ``out`` may alias
    ``M1`` or ``M2`` (used for the last width). For the
    symmetric case only the lower triangles of ``M1``/``M2`` are read: pass 1
    writes the lower block triangle by row blocks (one Gram product per block),
    pass 2 mirrors it to the upper triangle in ``FINALIZE_TILE``-sized tiles
    (cache-sized transposes, no BLAS).
    """
    n, n2 = out.shape
    on_the_fly = M1 is not None and gram is None
    # row blocks: cache-sized when only elementwise work is left, larger when a
    # Gram block product is computed (BLAS efficiency)
    rows = max(FINALIZE_TILE, conventions.NEURON_BLOCK_BYTES // (8 * max(n2, 1))) if on_the_fly else FINALIZE_TILE
    Xd: Any = X * (1.0 / d) if on_the_fly else None
    for r0 in range(0, n, rows):
        r1 = min(n, r0 + rows)
        c1 = r1 if symmetric else n2  # columns holding valid data in this row block
        block = out[r0:r1, :c1]
        if M1 is not None:
            g = gram[r0:r1, :c1] if gram is not None else mm_abt(Xd[r0:r1], X2[:c1])
            np.multiply(M1[r0:r1, :c1], g, out=block)
            if M2 is not None:
                block += M2[r0:r1, :c1]
        elif out is not M2:
            block[...] = M2[r0:r1, :c1]
        block *= 1.0 / N
    if symmetric:
        _mirror_lower(out)


def _mirror_lower(out: np.ndarray) -> None:
    """Copy the lower triangle of a square array onto its upper triangle, tile by tile."""
    n = out.shape[0]
    R = FINALIZE_TILE
    full = np.triu_indices(min(R, n), 1)
    for r0 in range(0, n, R):
        r1 = min(n, r0 + R)
        tile = out[r0:r1, r0:r1]
        iu = full if r1 - r0 == min(R, n) else np.triu_indices(r1 - r0, 1)
        tile[iu] = tile.T[iu]
        for c0 in range(r1, n, R):
            c1 = min(n, c0 + R)
            out[r0:r1, c0:c1] = out[c0:c1, r0:r1].T
