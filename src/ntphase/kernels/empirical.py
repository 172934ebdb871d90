"""Neural tangent kernels: empirical (finite width), infinite width, truncated.

Normalization (docs/theory.md, sections 1-2; Montanari & Zhong 2022, section 2): with
first-layer weights ``W`` (``N x d``, rows ``w_k``) and data ``X`` (``n x d``),

* first-layer NT features ``phi(x) = (N d)^(-1/2) (sigma'(<w_k, x>) x)_{k <= N}``
  in ``R^{N d}``, kernel ``K_N = (X X2^T / d) ∘ (S S2^T / N)`` with
  ``S = sigma'(X W^T)`` (``∘`` the entrywise product);
* second-layer (random-features) features ``sigma(<w_k, x>) / sqrt(N)``, kernel
  ``sigma(X W^T) sigma(X2 W^T)^T / N``;
* ``layers="both"``: the concatenated features, i.e. the sum of the two kernels.

For Gaussian weights ``w_k ~ N(0, I_d/d)`` and data on the sphere of radius
``sqrt(d)``, ``K_N -> K(x, x') = kernel_function(<x, x'>/d)`` entrywise at the
Monte-Carlo rate ``N^(-1/2)``; :func:`infinite_kernel` computes that limit.

The first-layer ``K_N`` never forms the ``n x N d`` features: NumPy input is
filled in row blocks of a preallocated output (two matrix products per block,
the Gram product of the data scaled by ``1/(d N)`` written straight into the
output, the neuron product into one reusable block buffer, multiplied in
place); the symmetric case (``X2 is None``) computes only the block upper
triangle and mirrors it, so its cost is about half that of a cross kernel.
Other array-API namespaces (``array_api_strict``, PyTorch, CuPy) use plain
``matmul`` and return their own array type.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ntphase import conventions
from ntphase._util.arrays import is_numpy, to_numpy
from ntphase._util.backend import float64_math, float64_math_for, offload
from ntphase._util.memory import check_memory
from ntphase._util.validation import check_choice, check_int
from ntphase.activations import get_activation
from ntphase.conventions import LAYERS
from ntphase.kernels._inputs import check_block_size, check_data, common_dtype

__all__ = ["kernel_memory", "nt_features", "nt_kernel"]


#: Smallest default row block: products thinner than this lose BLAS efficiency.
MIN_BLOCK_ROWS = 128

#: In the symmetric case the diagonal tiles are computed in full, which costs an
#: extra fraction ``block / n`` of the products; the default block is capped at
#: ``n / SYMMETRIC_BLOCKS`` rows. Measured (2 OpenBLAS threads, n = 4000-8000):
#: n/16 and n/8 run equally fast, n/32 is 2-5 % slower, n/64 10 % slower (thin
#: panels lose more than the saved flops).
SYMMETRIC_BLOCKS = 16

#: Blocks of size ``rows x N`` alive while one block of ``sigma'(X W^T)`` is
#: computed: the pre-activations, the result and up to two temporaries inside
#: the activation (e.g. ``where(x > 0, ones, zeros)``).
ACTIVATION_TEMPORARIES = 4


# --------------------------------------------------------------------------- #
# block sizes
# --------------------------------------------------------------------------- #
def _default_block_rows(n: int, n2: int, N: int, itemsize: int, symmetric: bool) -> int:
    """Rows per block: a ``KERNEL_BLOCK_BYTES`` buffer, at least ``MIN_BLOCK_ROWS``, capped for symmetry."""
    rows = conventions.KERNEL_BLOCK_BYTES // (itemsize * n2)
    if symmetric:
        rows = min(rows, -(-n // SYMMETRIC_BLOCKS))
    return int(max(1, min(n, max(rows, MIN_BLOCK_ROWS))))


def _feature_rows(rows: int, N: int, itemsize: int) -> int:
    """Rows per block of ``sigma'(X W^T)``: at most ``rows``, and the pre-activations
    with the activation's temporaries (``ACTIVATION_TEMPORARIES`` blocks) within ``KERNEL_BLOCK_BYTES``."""
    return int(max(1, min(rows, conventions.KERNEL_BLOCK_BYTES // (ACTIVATION_TEMPORARIES * itemsize * N))))


# --------------------------------------------------------------------------- #
# memory
# --------------------------------------------------------------------------- #
def kernel_memory(
    n: int,
    n2: int,
    N: int,
    d: int,
    *,
    layers: str = "first",
    symmetric: bool = False,
    block_size: int | None = None,
    itemsize: int = 8,
) -> int:
    """Peak bytes :func:`nt_kernel` allocates for an ``n x n2`` kernel of width ``N``.

    Parameters
    ----------
    n, n2 : int
        Rows of ``X`` and of ``X2`` (``n2 = n`` for the symmetric kernel).
    N, d : int
        Width (rows of ``W``) and input dimension.
    layers : {"first", "second", "both"}
    symmetric : bool
        ``True`` when ``X2 is None`` (the neuron matrix is then shared); the
        default ``False`` is the conservative estimate.
    block_size : int, optional
        Rows per block (default: as :func:`nt_kernel` chooses).
    itemsize : int
        Bytes per entry (8 for float64, 4 for float32).

    Returns
    -------
    int
        ``itemsize * (n n2 + f (n + n2) N + b n2 + 4 b' N + (n + n2) d)``:
        the output, the neuron matrices (``f = 1`` for one layer, 2 for
        ``"both"``; ``n2`` dropped when symmetric), one block buffer of ``b``
        rows, the temporaries of one activation block of ``b' <= b`` rows
        (``4 b' N itemsize <= KERNEL_BLOCK_BYTES``), and the scaled data.
    """
    n = check_int("n", n, minimum=1)
    n2 = check_int("n2", n2, minimum=1)
    N = check_int("N", N, minimum=1)
    d = check_int("d", d, minimum=2)
    layers = check_choice("layers", layers, LAYERS)
    b = check_block_size(block_size) or _default_block_rows(n, n2, N, itemsize, symmetric)
    b = min(b, n)
    f = 2 if layers == "both" else 1
    neurons = f * (n + (0 if symmetric else n2)) * N
    activation_block = ACTIVATION_TEMPORARIES * _feature_rows(b, N, itemsize) * N
    entries = n * n2 + neurons + b * n2 + activation_block + (n + n2) * d
    return int(itemsize * entries)


def _feature_memory(n: int, N: int, d: int, layers: str, itemsize: int) -> int:
    p = (N * d if layers != "second" else 0) + (N if layers != "first" else 0)
    f = 2 if layers == "both" else 1
    return int(itemsize * (n * p + f * n * N + n * d))


# --------------------------------------------------------------------------- #
# neuron matrices S = sigma'(X W^T), A = sigma(X W^T) / sqrt(N)
# --------------------------------------------------------------------------- #
def _check_finite_block(xp: Any, values: Any, which: str, act: Any) -> None:
    if not bool(xp.all(xp.isfinite(values))):
        raise ValueError(
            f"activation {getattr(act, 'name', act)!r} returned non-finite {which} values "
            f"on the pre-activations X W^T; {which} must be finite"
        )


def _neurons_numpy(X: np.ndarray, W: np.ndarray, act: Any, first: bool, second: bool, rows: int):
    """``S = sigma'(X W^T)`` and ``A = sigma(X W^T)/sqrt(N)`` in row blocks (dtype of ``X``)."""
    n, N = X.shape[0], W.shape[0]
    S: Any = np.empty((n, N), dtype=X.dtype) if first else None
    A: Any = np.empty((n, N), dtype=X.dtype) if second else None
    for i in range(0, n, rows):
        j = min(i + rows, n)
        Z = X[i:j] @ W.T
        if first:
            S[i:j] = act.dsigma(Z)
            _check_finite_block(np, S[i:j], "sigma'", act)
        if second:
            A[i:j] = act.sigma(Z)
            _check_finite_block(np, A[i:j], "sigma", act)
    if second:
        A *= X.dtype.type(1.0 / math.sqrt(N))
    return S, A


def _neurons_xp(xp: Any, X: Any, W: Any, act: Any, first: bool, second: bool, dtype: Any):
    Z = xp.matmul(X, xp.permute_dims(W, (1, 0)))
    S = A = None
    if first:
        S = xp.astype(act.dsigma(Z), dtype)
        _check_finite_block(xp, S, "sigma'", act)
    if second:
        A = xp.astype(act.sigma(Z), dtype) / math.sqrt(W.shape[0])
        _check_finite_block(xp, A, "sigma", act)
    return S, A


# --------------------------------------------------------------------------- #
# nt_kernel
# --------------------------------------------------------------------------- #
def nt_kernel(
    X: Any,
    W: Any,
    activation: Any,
    X2: Any = None,
    layers: str = "first",
    block_size: int | None = None,
) -> Any:
    """Empirical neural tangent kernel ``K_N`` of width ``N = W.shape[0]``.

    ``layers="first"``: ``K_N = (X X2^T / d) ∘ (S S2^T / N)``,
    ``S = sigma'(X W^T)``, ``S2 = sigma'(X2 W^T)`` (docs/theory.md, section 2);
    ``"second"``: ``sigma(X W^T) sigma(X2 W^T)^T / N``; ``"both"``: their sum.
    Equal to ``Phi Phi2^T`` with ``Phi = nt_features(X, W, activation, layers)``,
    without forming the ``n x N d`` features.

    Parameters
    ----------
    X : array, shape (n, d)
        Inputs (rows), ``d >= 2``; any array-API array (NumPy by default).
    W : array, shape (N, d)
        First-layer weights, rows ``w_k`` (e.g. ``sample_weights(N, d, rng)``).
    activation : str or Activation
        ``sigma`` (``"relu"``, ``"tanh"``, ... or an ``Activation``).
    X2 : array, shape (n2, d), optional
        Second set of inputs for the cross kernel ``K_N(X, X2)``; default
        ``X`` (symmetric kernel, computed on the block upper triangle and
        mirrored, so it is exactly symmetric).
    layers : {"first", "second", "both"}
        Which kernel (see above).
    block_size : int, optional
        Rows per block (NumPy only). Default: a ``KERNEL_BLOCK_BYTES`` (32 MiB)
        buffer, at least 128 rows, at most ``n/16`` rows in the symmetric case.
        Any value gives the same result up to rounding.

    Returns
    -------
    array, shape (n, n2)
        Same array type as ``X``; dtype the common floating type of ``X``,
        ``W`` (and ``X2``): float64 by default, float32 only when every input
        is float32.

    Raises
    ------
    ValueError, TypeError
        Bad shapes, non-finite values, unknown ``layers``/``activation``.
    ntphase.InsufficientMemoryError
        Before allocating, if :func:`kernel_memory` exceeds the memory guard.

    Notes
    -----
    Cost: ``O(n n2 (N + d))`` time (``n N d`` more for ``X W^T``); memory the
    ``n x n2`` output, the ``n x N`` neuron matrix (twice for ``"both"``, plus
    the ``n2 x N`` one for a cross kernel) and one block buffer. Non-NumPy
    namespaces are computed with whole-matrix products (no blocking), on their
    device, inside :func:`ntphase._util.backend.float64_math` (no TF32 on PyTorch,
    64-bit mode on JAX); inside :func:`ntphase.kernels.use_device` NumPy inputs are
    computed on that device and come back as NumPy.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((5, 3)); W = rng.standard_normal((4, 3)) / np.sqrt(3)
    >>> K = nt_kernel(X, W, "relu")
    >>> K.shape, bool(np.allclose(K, K.T))
    ((5, 5), True)
    """
    layers = check_choice("layers", layers, LAYERS)
    block_size = check_block_size(block_size)
    moved = offload(X, W, X2)
    if moved is not None:
        backend, (Xd, Wd, X2d) = moved
        with float64_math(backend.xp):
            return to_numpy(nt_kernel(Xd, Wd, activation, X2d, layers, block_size))
    with float64_math_for(X, W, X2):
        xp, X, X2, W = check_data(X, X2, W)
        act = get_activation(activation)
        if is_numpy(xp):
            K = _nt_kernel_numpy(np.asarray(X), np.asarray(W), act, None if X2 is None else np.asarray(X2), layers, block_size)
        else:
            K = _nt_kernel_xp(xp, X, W, act, X2, layers)
        _check_finite_kernel(xp, K)
    return K


def _check_finite_kernel(xp: Any, K: Any) -> None:
    """Finite inputs can still overflow the products (e.g. ``X * 1e200``): refuse, do not return inf/NaN."""
    if not bool(xp.all(xp.isfinite(K))):
        raise ValueError(
            "nt_kernel overflowed: K_N has non-finite entries although X and W are finite; "
            "the inputs are too large for the dtype (rescale X to ||x||^2 ~ d and W to rows of norm ~ 1)"
        )


def _memory_guard(
    n: int, n2: int, N: int, d: int, layers: str, symmetric: bool, rows: int, itemsize: int, extra: int = 0
) -> None:
    need = kernel_memory(n, n2, N, d, layers=layers, symmetric=symmetric, block_size=rows, itemsize=itemsize)
    need += extra
    check_memory(
        need,
        f"K_N ({layers!r} layer) of shape ({n}, {n2}) with N = {N}, d = {d}",
        hint="use ntphase.NTKernelOperator (matrix-free) for lambda_min or products, "
        "or fewer samples per kernel",
    )


def _nt_kernel_numpy(X, W, act, X2, layers, block_size):
    symmetric = X2 is None
    dtype = np.result_type(X.dtype, W.dtype, *(() if symmetric else (X2.dtype,)))
    X = X.astype(dtype, copy=False)
    W = W.astype(dtype, copy=False)
    Y = X if symmetric else X2.astype(dtype, copy=False)
    n, d = X.shape
    n2, N = Y.shape[0], W.shape[0]
    rows = block_size or _default_block_rows(n, n2, N, dtype.itemsize, symmetric)
    rows = min(rows, n)
    _memory_guard(n, n2, N, d, layers, symmetric, rows, dtype.itemsize)

    first = layers in ("first", "both")
    second = layers in ("second", "both")
    feature_rows = _feature_rows(rows, N, dtype.itemsize)
    S, A = _neurons_numpy(X, W, act, first, second, feature_rows)
    if symmetric:
        S2, A2 = S, A
    else:
        S2, A2 = _neurons_numpy(Y, W, act, first, second, feature_rows)
    # the 1/(d N) normalization rides on the (small) n x d factor
    Xs = X * dtype.type(1.0 / (d * N)) if first else None

    K = np.empty((n, n2), dtype=dtype)
    buf = np.empty((rows, n2), dtype=dtype) if first else None
    strictly_lower = np.tri(rows, rows, -1, dtype=bool) if symmetric else None
    for i in range(0, n, rows):
        j = min(i + rows, n)
        c = i if symmetric else 0  # symmetric: block upper triangle only
        Kb = K[i:j, c:]
        if first:
            Bb = buf[: j - i, : n2 - c]
            np.matmul(Xs[i:j], Y[c:].T, out=Kb)
            np.matmul(S[i:j], S2[c:].T, out=Bb)
            np.multiply(Kb, Bb, out=Kb)
            if second:
                np.matmul(A[i:j], A2[c:].T, out=Bb)
                np.add(Kb, Bb, out=Kb)
        else:
            np.matmul(A[i:j], A2[c:].T, out=Kb)
        if symmetric:
            # the diagonal tile was computed in full: copy its upper triangle down
            # (exact symmetry), then mirror the rest of the block row
            tile = K[i:j, i:j]
            np.copyto(tile, tile.T.copy(), where=strictly_lower[: j - i, : j - i])
            K[j:, i:j] = K[i:j, j:].T
    return K


def _nt_kernel_xp(xp, X, W, act, X2, layers):
    symmetric = X2 is None
    dtype = common_dtype(xp, X, W, X2)
    X = xp.astype(X, dtype)
    W = xp.astype(W, dtype)
    Y = X if symmetric else xp.astype(X2, dtype)
    n, d = X.shape
    n2, N = Y.shape[0], W.shape[0]
    itemsize = 4 if dtype == xp.float32 else 8
    # unblocked: the Gram product, the neuron product and their product coexist
    _memory_guard(n, n2, N, d, layers, symmetric, n, itemsize, extra=itemsize * n * n2)
    first = layers in ("first", "both")
    second = layers in ("second", "both")
    S, A = _neurons_xp(xp, X, W, act, first, second, dtype)
    S2, A2 = (S, A) if symmetric else _neurons_xp(xp, Y, W, act, first, second, dtype)
    K = None
    if first:
        gram = xp.matmul(X, xp.permute_dims(Y, (1, 0))) / (d * N)
        K = gram * xp.matmul(S, xp.permute_dims(S2, (1, 0)))
    if second:
        K2 = xp.matmul(A, xp.permute_dims(A2, (1, 0)))
        K = K2 if K is None else K + K2
    return K


# --------------------------------------------------------------------------- #
# explicit features
# --------------------------------------------------------------------------- #
def nt_features(X: Any, W: Any, activation: Any, layers: str = "first") -> Any:
    """Explicit NT feature map ``Phi`` with ``Phi Phi2^T = nt_kernel(X, W, activation, X2)``.

    ``layers="first"``: ``p = N d``,
    ``phi(x) = (N d)^(-1/2) (sigma'(<w_1,x>) x, ..., sigma'(<w_N,x>) x)``
    (neuron-major: column ``k d + j`` is ``sigma'(<w_k,x>) x_j / sqrt(N d)``);
    ``"second"``: ``p = N``, ``sigma(<w_k,x>) / sqrt(N)``; ``"both"``: the two
    concatenated (first-layer columns first), ``p = N d + N``.

    Parameters
    ----------
    X : array, shape (n, d)
    W : array, shape (N, d)
    activation : str or Activation
    layers : {"first", "second", "both"}

    Returns
    -------
    array, shape (n, p)
        Same array type and dtype rule as :func:`nt_kernel`.

    Raises
    ------
    ntphase.InsufficientMemoryError
        Before allocating, when ``n p`` entries (plus the neuron matrices) do
        not fit under the memory guard: use :func:`nt_kernel` instead.

    Notes
    -----
    Cost ``O(n N d)`` time and memory: meant for small problems, primal ridge
    (``p < n``) and as the naive reference for :func:`nt_kernel`.
    """
    layers = check_choice("layers", layers, LAYERS)
    xp, X, _, W = check_data(X, None, W)
    act = get_activation(activation)
    dtype = common_dtype(xp, X, W)
    X = xp.astype(X, dtype)
    W = xp.astype(W, dtype)
    n, d = X.shape
    N = W.shape[0]
    itemsize = 4 if dtype == xp.float32 else 8
    check_memory(
        _feature_memory(n, N, d, layers, itemsize),
        f"NT features ({layers!r} layer) of shape ({n}, {(N * d if layers != 'second' else 0) + (N if layers != 'first' else 0)})",
        hint="use nt_kernel (structured, never forms the features) or a smaller width",
    )
    first = layers in ("first", "both")
    second = layers in ("second", "both")
    scale = 1.0 / math.sqrt(N * d)
    if is_numpy(xp):
        X = np.asarray(X)
        W = np.asarray(W)
        S, A = _neurons_numpy(X, W, act, first, second, _feature_rows(n, N, X.dtype.itemsize))
        p = (N * d if first else 0) + (N if second else 0)
        Phi = np.empty((n, p), dtype=X.dtype)
        if first:
            block = Phi[:, : N * d].reshape(n, N, d)
            assert np.shares_memory(block, Phi)  # a view: splitting the contiguous last axis
            np.multiply(S[:, :, None], (X * X.dtype.type(scale))[:, None, :], out=block)
        if second:
            Phi[:, p - N :] = A
        return Phi
    S, A = _neurons_xp(xp, X, W, act, first, second, dtype)
    parts = []
    if first:
        parts.append(xp.reshape(S[:, :, None] * (X * scale)[:, None, :], (n, N * d)))
    if second:
        parts.append(A)
    return parts[0] if len(parts) == 1 else xp.concat(parts, axis=1)
