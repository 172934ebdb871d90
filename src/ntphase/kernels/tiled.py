"""The infinite-width kernel in tiles: matrix-free products, predictions and the dense matrix.

``K = H(X X2^T / d)`` (``H`` the activation's kernel function; Montanari &
Zhong 2022, arXiv:2007.12826, section 2) is never formed for a product: row
tiles ``T_i = X_i X2^T`` come from one GEMM each into a reused buffer, the
kernel function is applied in place by :func:`~ntphase.kernels.fast_function.kernel_tile`
(certified polynomial, exact where ``|t|`` is near 1), and the tile multiplies
the right-hand sides. Memory ``O(tile_rows * n2 + n m)``.

For the symmetric kernel (``X2 = X``) only the lower triangle is computed: tile
``i`` covers rows ``i0:i1`` and columns ``0:i1`` and is used twice,
``out[i0:i1] += T_i V[:i1]`` and ``out[:i0] += T_i[:, :i0]^T V[i0:i1]``, so every
off-diagonal entry is evaluated once and ``K`` is exactly symmetric; the
diagonal is ``kernel_function(1)`` exactly.

NumPy only (the fast kernel function is numba). On a device the same tiled
product is :func:`ntphase.kernels.infinite_kernel_product` (the inputs'
namespace, the kernel function in ``xp`` operations).

Public names: :class:`InfiniteKernelOperator`, :func:`cross_product`,
:func:`dense_infinite_kernel`, :func:`default_tile_rows`, :data:`TILE_BYTES`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
from scipy.sparse.linalg import LinearOperator

from ntphase._util.memory import check_memory
from ntphase._util.validation import check_choice, check_float, check_int, check_matrix
from ntphase.activations import get_activation
from ntphase.conventions import KERNEL_BLOCK_BYTES, LAYERS
from ntphase.kernels._inputs import check_on_sphere
from ntphase.kernels.fast_function import kernel_tile

__all__ = [
    "TILE_BYTES",
    "InfiniteKernelOperator",
    "cross_product",
    "default_tile_rows",
    "dense_infinite_kernel",
]

#: Bytes of the reused tile buffer (``tile_rows * n2 * 8``): the project's row-block
#: budget ``KERNEL_BLOCK_BYTES`` (32 MiB). Large enough that each tile's GEMM runs at full
#: matrix-multiply speed, small beside any kernel worth tiling.
TILE_BYTES = KERNEL_BLOCK_BYTES


def default_tile_rows(n_rows: int, n_cols: int, tile_bytes: int = TILE_BYTES) -> int:
    """Rows per tile so that one float64 tile of ``n_cols`` columns fits ``tile_bytes``.

    ``max(1, min(n_rows, tile_bytes // (8 n_cols)))`` (524 rows at ``n_cols = 8000``).
    """
    return int(max(1, min(n_rows, tile_bytes // (8 * max(n_cols, 1)))))


def _gram(A: np.ndarray, x_tile: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``A <- x_tile y^T`` (one GEMM into a C-contiguous buffer)."""
    return np.matmul(x_tile, y.T, out=A)


#: Rows per strip when mirroring a diagonal block.
_STRIP = 64


def _mirror_diagonal_block(T: np.ndarray, i0: int) -> None:
    """Copy the strict lower triangle of the square block ``T[:, i0:i0+rows]`` onto its upper one.

    The two halves of a diagonal block come from one GEMM and may differ by rounding;
    mirroring makes the kernel exactly symmetric, like the off-diagonal tiles. Done in
    strips of ``_STRIP`` rows (transposed copies; index arrays only for the small
    triangles), ``O(rows^2)``.
    """
    rows = T.shape[0]
    block = T[:, i0 : i0 + rows]
    upper = np.triu_indices(min(rows, _STRIP), 1)
    for k0 in range(0, rows, _STRIP):
        k1 = min(k0 + _STRIP, rows)
        square = block[k0:k1, k0:k1]
        u = upper if k1 - k0 == min(rows, _STRIP) else np.triu_indices(k1 - k0, 1)
        square[u] = square.T[u]
        block[k0:k1, k1:] = block[k1:, k0:k1].T


def _as_points(name: str, X: Any, ncols: int | None = None) -> np.ndarray:
    """Validated float64 C-contiguous copy-free view of sphere points (radius ``sqrt(d)``)."""
    if not isinstance(X, np.ndarray):
        X = np.asarray(X, dtype=np.float64)
    X = check_matrix(name, X, ncols=ncols)
    X = np.ascontiguousarray(X, dtype=np.float64)
    if not np.all(np.isfinite(X)):
        raise ValueError(f"{name} must contain only finite values (found NaN or inf)")
    if X.shape[1] < 2:
        raise ValueError(f"{name} must have d >= 2 columns (the input dimension d), got shape {X.shape}")
    check_on_sphere(X, name)
    return X


class InfiniteKernelOperator(LinearOperator):
    """Matrix-free ``K = kernel_function(X X2^T / d) (+ ridge I)`` as a SciPy ``LinearOperator``.

    ``K[i, j] = H(<x_i, x2_j>/d)`` with ``H`` the first-layer NT kernel function
    ``t h(t)`` (``layers="first"``), the second-layer ``g(t)`` or their sum
    (:meth:`ntphase.activations.Activation.kernel_function`), for rows on the
    sphere of radius ``sqrt(d)``. Products are computed in row tiles: one GEMM
    per tile, the certified fast kernel function in place, the tile times the
    right-hand sides. Values agree with :func:`ntphase.infinite_kernel` to
    ``1e-12 * H(1)`` per entry, except that near-duplicate ReLU pairs are more
    accurate (gaps from the points).

    NumPy only: PyTorch, CuPy or JAX inputs are copied to the host. Device
    arrays use :func:`ntphase.kernels.infinite_kernel_product` (row tiles on
    the inputs' device), which :func:`ntphase.linalg.block_cg` takes as a
    callable; the estimators' cg route does this inside
    :func:`ntphase.kernels.use_device`.

    Parameters
    ----------
    X : array, shape (n, d)
        Rows with ``||x||^2 = d`` (relative tolerance ``RADIUS_RTOL``).
    activation : str or Activation
    layers : {"first", "second", "both"}
    X2 : array, shape (n2, d), optional
        Columns of a cross kernel ``K(X, X2)`` (default: ``X``, symmetric).
    tile_rows : int, optional
        Rows per tile (default :func:`default_tile_rows`: one float64 tile of at
        most ``TILE_BYTES``).
    ridge : float
        ``>= 0``; adds ``ridge * I`` (square kernels only).

    Attributes
    ----------
    n_products : int
        Columns multiplied so far (``matvec`` counts 1, ``matmat`` with ``m``
        columns counts ``m``), for solvers to report.
    symmetric : bool
        ``X2`` was not given (lower-triangle tiles, each entry evaluated once).

    Notes
    -----
    Cost of ``K V`` (``V`` of shape ``(n2, m)``): ``n n2 d`` multiply-adds of
    Gram (half for the symmetric kernel), ``n n2`` kernel-function entries
    (~1-2 ns each with numba), ``2 n n2 m`` for the products. Memory: one tile
    buffer (``tile_rows * n2 * 8`` bytes) plus ``O((n + n2) m)``; never ``n x n2``.

    Examples
    --------
    >>> import numpy as np
    >>> from ntphase.data import sample_sphere
    >>> X = sample_sphere(50, 5, rng=0)
    >>> K = InfiniteKernelOperator(X, "relu")
    >>> v = np.ones(50)
    >>> bool(np.allclose(K @ v, dense_infinite_kernel(X, "relu") @ v, rtol=1e-12))
    True
    """

    def __init__(
        self,
        X: Any,
        activation: Any,
        layers: str = "first",
        X2: Any = None,
        tile_rows: int | None = None,
        ridge: float = 0.0,
    ) -> None:
        self.activation = get_activation(activation)
        self.layers = check_choice("layers", layers, LAYERS)
        self.X = _as_points("X", X)
        n, d = self.X.shape
        self.symmetric = X2 is None
        self.X2 = self.X if self.symmetric else _as_points("X2", X2, ncols=d)
        n2 = self.X2.shape[0]
        self.ridge = check_float("ridge", ridge, minimum=0.0)
        if self.ridge and not self.symmetric:
            raise ValueError(f"ridge must be 0 for a cross kernel K(X, X2) (shape ({n}, {n2})), got {ridge}")
        if tile_rows is None:
            self.tile_rows = default_tile_rows(n, n2)
        else:
            self.tile_rows = min(check_int("tile_rows", tile_rows, minimum=1), n)
        check_memory(
            8 * self.tile_rows * n2,
            f"tile buffer of shape ({self.tile_rows}, {n2}) for the infinite-width kernel",
            hint="pass a smaller tile_rows",
        )
        self.n_products = 0
        super().__init__(dtype=np.float64, shape=(n, n2))

    # -- tiles ------------------------------------------------------------------
    def _tiles(self) -> Iterator[tuple[int, int, np.ndarray]]:
        """Yield ``(i0, i1, T)``: ``T = K[i0:i1, :c]`` (``c = i1`` symmetric, else ``n2``)."""
        n, d = self.X.shape
        n2 = self.X2.shape[0]
        buffer = np.empty(self.tile_rows * n2)
        for i0 in range(0, n, self.tile_rows):
            i1 = min(i0 + self.tile_rows, n)
            cols = i1 if self.symmetric else n2
            T = buffer[: (i1 - i0) * cols].reshape(i1 - i0, cols)
            _gram(T, self.X[i0:i1], self.X2[:cols])
            kernel_tile(
                T,
                self.activation,
                self.layers,
                scale=1.0 / d,
                row_offset=i0,
                x_rows=self.X,
                y_rows=self.X2,
                diagonal_offset=i0 if self.symmetric else None,
            )
            if self.symmetric:
                _mirror_diagonal_block(T, i0)
            yield i0, i1, T

    def _product(self, V: np.ndarray, transpose: bool) -> np.ndarray:
        V = np.asarray(V, dtype=np.float64)
        if V.ndim == 1:
            V = V[:, None]
        n, n2 = self.shape
        out = np.zeros((n2 if transpose else n, V.shape[1]))
        for i0, i1, T in self._tiles():
            if self.symmetric:
                out[i0:i1] += T @ V[:i1]
                if i0:
                    out[:i0] += T[:, :i0].T @ V[i0:i1]
            elif transpose:
                out += T.T @ V[i0:i1]
            else:
                out[i0:i1] = T @ V
        if self.ridge:
            out += self.ridge * V
        self.n_products += V.shape[1]
        return out

    def _matmat(self, V: np.ndarray) -> np.ndarray:
        return self._product(V, transpose=False)

    def _matvec(self, v: np.ndarray) -> np.ndarray:
        return self._product(np.asarray(v).reshape(-1, 1), transpose=False).ravel()

    def _rmatmat(self, U: np.ndarray) -> np.ndarray:
        return self._product(U, transpose=not self.symmetric)

    def _rmatvec(self, u: np.ndarray) -> np.ndarray:
        return self._rmatmat(np.asarray(u).reshape(-1, 1)).ravel()

    def _adjoint(self) -> LinearOperator:
        if self.symmetric:
            return self
        return super()._adjoint()


def cross_product(
    X_test: Any,
    X_train: Any,
    activation: Any,
    coef: Any,
    layers: str = "first",
    tile_rows: int | None = None,
) -> np.ndarray:
    """Predictions ``K(X_test, X_train) @ coef`` in tiles, without the cross kernel.

    ``out[i] = sum_j kernel_function(<x_test_i, x_train_j>/d) coef[j]``.

    Parameters
    ----------
    X_test : array, shape (n_test, d)
    X_train : array, shape (n_train, d)
        Rows on the sphere of radius ``sqrt(d)``.
    activation : str or Activation
    coef : array, shape (n_train,) or (n_train, m)
        Dual coefficients (e.g. ``K^{-1} y`` of kernel ridge).
    layers : {"first", "second", "both"}
    tile_rows : int, optional
        Rows of ``X_test`` per tile (default: one ``TILE_BYTES`` tile).

    Returns
    -------
    ndarray, shape (n_test,) or (n_test, m), float64

    Notes
    -----
    Cost ``O(n_test n_train (d + m))`` plus ``n_test n_train`` kernel-function
    entries; memory one tile plus the output. A test point equal to a training
    point gets ``kernel_function(1)`` exactly for ReLU (gap 0 from the points).
    """
    op = InfiniteKernelOperator(X_test, activation, layers=layers, X2=X_train, tile_rows=tile_rows)
    coef = np.asarray(coef, dtype=np.float64)
    if coef.ndim not in (1, 2) or coef.shape[0] != op.shape[1]:
        raise ValueError(
            f"coef must have shape ({op.shape[1]},) or ({op.shape[1]}, m) to match X_train, got {coef.shape}"
        )
    if not np.all(np.isfinite(coef)):
        raise ValueError("coef must contain only finite values (found NaN or inf)")
    out = op._product(coef, transpose=False)
    return out.ravel() if coef.ndim == 1 else out


def dense_infinite_kernel(
    X: Any,
    activation: Any,
    X2: Any = None,
    layers: str = "first",
    tile_rows: int | None = None,
) -> np.ndarray:
    """The dense infinite-width kernel ``K = kernel_function(X X2^T / d)``, tile by tile.

    Same matrix as :func:`ntphase.infinite_kernel` (to ``1e-12 * H(1)`` per entry;
    more accurate for ReLU near-duplicates), with the fast kernel function.
    Symmetric case (``X2 is None``): the lower-triangle tiles are computed in place
    in the output and mirrored, the diagonal is ``kernel_function(1)`` exactly and
    the result is exactly symmetric.

    Parameters
    ----------
    X : array, shape (n, d)
        Rows with ``||x||^2 = d``.
    activation : str or Activation
    X2 : array, shape (n2, d), optional
    layers : {"first", "second", "both"}
    tile_rows : int, optional
        Rows per tile (default: one ``TILE_BYTES`` tile of the output's width).

    Returns
    -------
    ndarray of float64, shape (n, n2)

    Notes
    -----
    Cost ``O(n n2 d)`` Gram (half when symmetric) plus ``n n2`` kernel-function
    entries (half when symmetric) and, symmetric, a transposed copy of the lower
    triangle. Memory: the output (refused up front by the memory guard when it
    does not fit) and no other ``n x n2`` array.
    """
    act = get_activation(activation)
    layers = check_choice("layers", layers, LAYERS)
    Xp = _as_points("X", X)
    n, d = Xp.shape
    Yp = Xp if X2 is None else _as_points("X2", X2, ncols=d)
    n2 = Yp.shape[0]
    rows = default_tile_rows(n, n2) if tile_rows is None else min(check_int("tile_rows", tile_rows, minimum=1), n)
    check_memory(
        8 * n * n2,
        f"infinite-width kernel of shape ({n}, {n2})",
        hint="use InfiniteKernelOperator (matrix-free products) or cross_product for predictions",
    )
    out = np.empty((n, n2))
    for i0 in range(0, n, rows):
        i1 = min(i0 + rows, n)
        block = out[i0:i1]  # C-contiguous rows of the output
        cols = i1 if X2 is None else n2
        np.matmul(Xp[i0:i1], Yp[:cols].T, out=block[:, :cols])
        kernel_tile(
            block,
            act,
            layers,
            scale=1.0 / d,
            n_cols=cols,
            row_offset=i0,
            x_rows=Xp,
            y_rows=Yp,
            diagonal_offset=i0 if X2 is None else None,
        )
        if X2 is None:
            _mirror_diagonal_block(block, i0)
            if i0:
                out[:i0, i0:i1] = block[:, :i0].T
    return out
