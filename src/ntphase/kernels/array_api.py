"""NT kernels written on an array-API namespace (PyTorch, CuPy, JAX, ``array_api_strict``).

The same formulas as the NumPy paths (docs/theory.md, section 2; Montanari &
Zhong 2022, arXiv:2007.12826, section 2), evaluated with operations of the
inputs' namespace on their device, at float64 (:func:`ntphase._util.backend.float64_math`):

* :func:`infinite_kernel_xp`: ``K = kernel_function(X X2^T / d)`` densely (the
  array-API branch of :func:`ntphase.kernels.infinite_kernel`);
* :func:`infinite_kernel_product`: ``K(X, X2) V`` in row tiles, never forming ``K``;
* :func:`nt_kernel_product`: ``K_N V`` matrix-free (the products of
  :class:`ntphase.kernels.NTKernelOperator`).

What stays on the host: the Hermite coefficients and endpoint values of the
series (SciPy quadrature, cached per activation) and, for activations without an
array-API definition (``erf``, ``gelu``), ``sigma``/``sigma'`` themselves
(:meth:`ntphase.activations.Activation.dsigma` round-trips through NumPy).
ReLU's ``arccos`` near ``|t| = 1`` is evaluated from ``t`` itself here, so pairs
of near-duplicate points (``1 - t < 1e-8``) are accurate to about ``1e-8``,
not ``1e-15`` as on the NumPy path (which uses the point gaps).

Every function accepts NumPy arrays too (then computed with NumPy operations);
inside :func:`ntphase.kernels.use_device` NumPy inputs go to the device.
"""

from __future__ import annotations

from typing import Any

import array_api_compat

from ntphase import conventions
from ntphase._util.arrays import to_numpy
from ntphase._util.backend import float64_math, float64_math_for, offload
from ntphase._util.memory import check_memory
from ntphase._util.validation import check_choice, check_int
from ntphase.activations import get_activation
from ntphase.activations.kernel_functions import kernel_values_xp
from ntphase.conventions import LAYERS
from ntphase.kernels._inputs import check_data, check_on_sphere

__all__ = ["infinite_kernel_product", "infinite_kernel_xp", "nt_kernel_product"]


def _T(xp: Any, A: Any) -> Any:
    return xp.permute_dims(A, (1, 0))


def _correlations(xp: Any, X: Any, Y: Any, d: int, diagonal_from: int | None) -> Any:
    """``clip(X Y^T / d, -1, 1)``; entries ``(i, diagonal_from + i)`` set to 1 exactly (symmetric kernels)."""
    t = xp.clip(xp.matmul(X, _T(xp, Y)) / d, min=-1.0, max=1.0)
    if diagonal_from is not None:
        rows = xp.arange(t.shape[0])[:, None] + diagonal_from
        cols = xp.arange(t.shape[1])[None, :]
        t = xp.where(rows == cols, xp.ones_like(t), t)
    return t


def _sphere_points(xp: Any, X: Any, X2: Any) -> tuple[Any, Any]:
    """float64 copies of ``X`` (and ``X2``) checked to lie on the sphere of radius ``sqrt(d)``."""
    X = xp.astype(X, xp.float64)
    check_on_sphere(to_numpy(X), "X")
    if X2 is not None:
        X2 = xp.astype(X2, xp.float64)
        check_on_sphere(to_numpy(X2), "X2")
    return X, X2


def infinite_kernel_xp(xp: Any, X: Any, act: Any, X2: Any = None, layers: str = "first") -> Any:
    """Dense ``K = kernel_function(X X2^T / d)`` on ``xp``, float64 (validated inputs, rows on the sphere).

    The symmetric kernel (``X2 is None``) uses ``t = 1`` on the diagonal and is
    symmetrized as ``(K + K^T)/2``. Cost ``O(n n2 d)`` plus the kernel function
    (a few array passes for relu/erf, up to ``SERIES_TERMS`` for series);
    memory about four ``n x n2`` arrays on the device.
    """
    with float64_math(xp):
        X, X2 = _sphere_points(xp, X, X2)
        n, d = X.shape
        n2 = n if X2 is None else X2.shape[0]
        check_memory(8 * 4 * n * n2, f"infinite kernel of shape ({n}, {n2}) on {xp.__name__}",
                     hint="use infinite_kernel_product (tiled, matrix-free) or fewer samples")
        t = _correlations(xp, X, X if X2 is None else X2, d, 0 if X2 is None else None)
        K = kernel_values_xp(act, layers, t, xp)
        if X2 is None:
            K = (K + _T(xp, K)) / 2.0
        return K


def _vectors(xp: Any, V: Any, n: int) -> tuple[Any, bool]:
    """``V`` as a float64 ``(n, m)`` array of ``xp`` and whether it was 1-D."""
    if V.ndim not in (1, 2) or V.shape[0] != n:
        raise ValueError(f"V must have shape ({n},) or ({n}, m); got {tuple(V.shape)}")
    V = xp.astype(V, xp.float64)
    return (V[:, None], True) if V.ndim == 1 else (V, False)


def infinite_kernel_product(
    X: Any,
    activation: Any,
    V: Any,
    X2: Any = None,
    layers: str = "first",
    tile_rows: int | None = None,
) -> Any:
    """``K(X, X2) V`` with ``K = kernel_function(X X2^T / d)``, tile by tile, on the inputs' namespace.

    Parameters
    ----------
    X : array, shape (n, d)
        Rows with ``||x||^2 = d`` (``RADIUS_RTOL``); any array-API array.
    activation : str or Activation
    V : array, shape (n2,) or (n2, m)
        Right-hand sides, same namespace (``n2 = n`` when ``X2`` is ``None``).
    X2 : array, shape (n2, d), optional
        Columns of the kernel (default ``X``: the symmetric kernel, diagonal
        ``kernel_function(1)`` exactly).
    layers : {"first", "second", "both"}
    tile_rows : int, optional
        Rows per tile (default: a ``KERNEL_BLOCK_BYTES`` float64 tile).

    Returns
    -------
    array, shape (n,) or (n, m)
        float64, same namespace and device as ``X``. Equal to
        ``infinite_kernel(X, activation, X2) @ V`` up to rounding.

    Notes
    -----
    Cost ``O(n n2 (d + m))`` plus the kernel function on ``n n2`` entries;
    memory ``O(tile_rows n2 + n m)``.
    """
    layers = check_choice("layers", layers, LAYERS)
    act = get_activation(activation)
    moved = offload(X, V, X2)
    if moved is not None:
        backend, (Xd, Vd, X2d) = moved
        with float64_math(backend.xp):
            return to_numpy(infinite_kernel_product(Xd, act, Vd, X2d, layers, tile_rows))
    with float64_math_for(X, X2, V):
        xp, X, X2, _ = check_data(X, X2)
        X, X2 = _sphere_points(xp, X, X2)
        Y = X if X2 is None else X2
        n, d = X.shape
        n2 = Y.shape[0]
        V, flat = _vectors(xp, xp.asarray(V), n2)
        rows = tile_rows if tile_rows is not None else conventions.KERNEL_BLOCK_BYTES // (8 * max(n2, 1))
        rows = int(max(1, min(n, check_int("tile_rows", rows, minimum=1))))
        parts = []
        for i in range(0, n, rows):
            t = _correlations(xp, X[i : min(i + rows, n), :], Y, d, i if X2 is None else None)
            parts.append(xp.matmul(kernel_values_xp(act, layers, t, xp), V))
        out = xp.concat(parts, axis=0) if len(parts) > 1 else parts[0]
        return out[:, 0] if flat else out


def nt_kernel_product(X: Any, W: Any, activation: Any, V: Any, layers: str = "first") -> Any:
    """``K_N V`` for the empirical NT kernel, matrix-free, on the inputs' namespace.

    ``layers="first"``: ``K_N v = (1/(N d)) rowsum(X ∘ (S U^T))``,
    ``U = (X ∘ v)^T S``, ``S = sigma'(X W^T)`` (the ``m`` vectors stacked so the
    products are matrix-matrix); ``"second"``: ``A (A^T V) / N``,
    ``A = sigma(X W^T)``; ``"both"``: the sum (docs/theory.md, section 2).

    Parameters
    ----------
    X : array, shape (n, d)
    W : array, shape (N, d)
    activation : str or Activation
    V : array, shape (n,) or (n, m)
    layers : {"first", "second", "both"}

    Returns
    -------
    array, shape (n,) or (n, m)
        float64, same namespace and device as ``X``; equal to
        ``nt_kernel(X, W, activation, layers=layers) @ V`` up to rounding.

    Notes
    -----
    Cost ``4 n N d m`` flops (first layer) plus ``2 n N d`` for ``X W^T``;
    memory the ``n x N`` neuron matrix (``8 n N`` bytes per layer) and
    ``O(n d m + N d m)``. SciPy's solvers take :class:`ntphase.kernels.NTKernelOperator`
    instead (NumPy only).
    """
    layers = check_choice("layers", layers, LAYERS)
    act = get_activation(activation)
    moved = offload(X, W, V)
    if moved is not None:
        backend, (Xd, Wd, Vd) = moved
        with float64_math(backend.xp):
            return to_numpy(nt_kernel_product(Xd, Wd, act, Vd, layers))
    with float64_math_for(X, W, V):
        xp, X, _, W = check_data(X, None, W)
        dtype = xp.float64  # float64 always: products feed solvers and spectra
        X = xp.astype(X, dtype)
        W = xp.astype(W, dtype)
        n, d = X.shape
        N = W.shape[0]
        V, flat = _vectors(xp, xp.asarray(V), n)
        m = V.shape[1]
        check_memory(8 * (2 * n * N + 2 * n * d * m + N * d * m), f"K_N products with N = {N}, n = {n}, m = {m}",
                     hint="fewer right-hand sides per call")
        Z = xp.matmul(X, _T(xp, W))
        out = xp.zeros((n, m), dtype=dtype, device=array_api_compat.device(X))
        if layers in ("first", "both"):
            S = xp.astype(act.dsigma(Z), dtype)
            Y = xp.reshape(X[:, :, None] * V[:, None, :], (n, d * m))
            U = xp.matmul(_T(xp, Y), S)  # (d m, N)
            acc = xp.reshape(xp.matmul(S, _T(xp, U)), (n, d, m))
            out = out + xp.sum(acc * X[:, :, None], axis=1) / (N * d)
        if layers in ("second", "both"):
            A = xp.astype(act.sigma(Z), dtype)
            out = out + xp.matmul(A, xp.matmul(_T(xp, A), V)) / N
        return out[:, 0] if flat else out
