"""Matrix-free NT kernel operator and the one-pass width path.

Two ways to use the empirical NT kernel ``K_N`` without paying for it again and
again (THEORY.md section 2; Montanari & Zhong 2022, section 2):

* :class:`NTKernelOperator` applies ``K_N`` to vectors without forming the
  ``n x n`` matrix: ``O(n N d)`` time per product and ``O((n + N) d)`` memory
  beyond the inputs (plus the ``n x N`` derivative matrix when it is cheap to
  keep, see ``store``). Eigensolvers (:mod:`ntphase.spectrum`) run on it.
* :func:`width_path` yields ``K_N`` for every width ``N`` of an increasing grid
  from ONE pass over the neurons, accumulating ``S[:, block] S[:, block]^T`` with
  BLAS ``syrk`` (``gemm`` for a cross kernel): the cost of the largest kernel
  plus one cheap Hadamard product per width.

Both are NumPy/SciPy only (float64): they are the CPU fast paths behind the
spectra and the double-descent experiment. ``kernels.nt_kernel`` is the
array-API-generic kernel.

Memory policy (documented constants)
------------------------------------
``BLOCK_BYTES``
    Target size of one neuron block (``n x b`` float64) or one column chunk
    of a multi-vector product; the working memory beyond inputs and outputs.
``STORE_FRACTION``
    ``NTKernelOperator(store="auto")`` keeps ``S = sigma'(X W^T)`` (and
    ``A = sigma(X W^T)`` for ``layers="second"/"both"``), ``8 n N`` bytes each,
    when that is at most this fraction of the available memory
    (:func:`ntphase._memory.available_memory`). Keeping it saves the
    ``X W_B^T`` product and the activation in every product (a third of the
    flops for ReLU, more for activations with special functions); otherwise
    each product recomputes it block by block and the memory is
    ``O(n b + (n + N) d)``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
from scipy.linalg.blas import dgemm, dsyrk
from scipy.sparse.linalg import LinearOperator

from ntphase._memory import available_memory, check_memory
from ntphase._validation import check_choice, check_int, check_matrix

__all__ = ["NTKernelOperator", "width_path", "BLOCK_BYTES", "STORE_FRACTION"]

#: Target bytes of one neuron block / one column chunk (64 MiB).
BLOCK_BYTES = 64 * 1024**2

#: Rows and columns of one tile when the width path mirrors its output.
FINALIZE_TILE = 256

#: ``store="auto"`` keeps ``S`` (``8 n N`` bytes per layer) up to this fraction
#: of the available memory.
STORE_FRACTION = 0.25

_LAYERS = ("first", "second", "both")


def _activation(spec: Any) -> Any:
    from ntphase.activations import get_activation

    return get_activation(spec)


def _as_f64(name: str, X: Any, ncols: int | None = None) -> np.ndarray:
    """Validate a 2-D finite float matrix and return it as float64 NumPy (no copy if already)."""
    X = check_matrix(name, np.asarray(X), ncols=ncols)
    return np.ascontiguousarray(X, dtype=np.float64)


def _block_width(n_rows: int, N: int, block_size: int | None) -> int:
    """Neurons per block so that an ``n_rows x b`` float64 block is about ``BLOCK_BYTES``."""
    if block_size is not None:
        return max(1, min(int(block_size), N))
    return max(1, min(N, BLOCK_BYTES // (8 * max(n_rows, 1))))


def _mm_abt(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """``A @ B.T`` for C-contiguous float64 ``A`` (m x k), ``B`` (p x k), via SciPy's BLAS.

    The width path calls SciPy's ``dsyrk``; keeping its other products on the
    same BLAS library avoids two OpenBLAS thread pools (NumPy's and SciPy's)
    spinning against each other on a small machine (measured: up to 2x slower
    when mixed on 2 busy cores). Returns a C-contiguous (m x p) array, no copies.
    """
    return dgemm(1.0, B.T, A.T, trans_a=1, trans_b=0).T


def _derivatives(act: Any, pre: np.ndarray, layers: str) -> tuple[np.ndarray | None, np.ndarray | None]:
    """``(sigma'(pre), sigma(pre))`` as C-contiguous float64 (``None`` where not needed)."""
    S = A = None
    if layers in ("first", "both"):
        S = np.ascontiguousarray(np.asarray(act.dsigma(pre), dtype=np.float64))
    if layers in ("second", "both"):
        A = np.ascontiguousarray(np.asarray(act.sigma(pre), dtype=np.float64))
    return S, A


class NTKernelOperator(LinearOperator):
    r"""Matrix-free empirical NT kernel ``K_N`` as a SciPy ``LinearOperator``.

    With ``S = sigma'(X W^T)`` (``n x N``) and ``A = sigma(X W^T)``:

    * ``layers="first"``: ``K_N = (X X^T / d) ∘ (S S^T / N)`` (THEORY.md section 2),
      applied as ``K_N v = (1/(N d)) rowsum(X ∘ (S U^T))`` with
      ``U = (X ∘ v)^T S`` (``d x N``), i.e. two matrix products of cost
      ``n N d`` each; for ``m`` vectors the ``(X ∘ v_j)`` are stacked into one
      ``n x (d m)`` matrix so the products stay BLAS-3.
    * ``layers="second"``: ``K v = (1/N) A (A^T v)``.
    * ``layers="both"``: the sum.

    The operator is symmetric positive semi-definite, float64, shape ``(n, n)``.

    Parameters
    ----------
    X : array_like, shape (n, d)
        Covariates (rows ``x_i``; on the sphere of radius ``sqrt(d)`` in the
        paper's setting, but any rows work).
    W : array_like, shape (N, d)
        First-layer weights (rows ``w_k``).
    activation : str or Activation
        Resolved by :func:`ntphase.activations.get_activation`.
    layers : {"first", "second", "both"}
        Which kernel (see ``docs/internals.md``).
    store : {"auto", True, False}
        Keep ``S`` (and ``A``) in memory (``8 n N`` bytes each) or recompute
        them in neuron blocks at every product. ``"auto"`` keeps them when they
        take at most ``STORE_FRACTION`` of the available memory.
    block_size : int, optional
        Neurons per block when recomputing (default: ``BLOCK_BYTES / (8 n)``).

    Notes
    -----
    Cost per product with ``m`` vectors: ``4 n N d m`` flops (first layer),
    plus ``2 n N d`` to recompute ``X W^T`` when ``S`` is not stored.
    Memory beyond the inputs: ``2 * 8 n d m_c`` bytes for a chunk of ``m_c``
    vectors (``m_c`` chosen so this is about ``BLOCK_BYTES``), ``8 d N m_c``
    for ``U``, and either ``8 n N`` per stored matrix or one ``n x b`` block.
    Inputs are never modified (float64 inputs are referenced, not copied).

    Examples
    --------
    >>> import numpy as np
    >>> from ntphase.operators import NTKernelOperator
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((30, 5)); W = rng.standard_normal((8, 5)) / np.sqrt(5)
    >>> op = NTKernelOperator(X, W, "relu")
    >>> K = op.todense()
    >>> v = rng.standard_normal(30)
    >>> bool(np.allclose(op @ v, K @ v))
    True
    """

    def __init__(
        self,
        X: Any,
        W: Any,
        activation: Any,
        layers: str = "first",
        *,
        store: str | bool = "auto",
        block_size: int | None = None,
    ) -> None:
        X = _as_f64("X", X)
        W = _as_f64("W", W, ncols=X.shape[1])
        self._layers = check_choice("layers", layers, _LAYERS)
        if block_size is not None:
            block_size = check_int("block_size", block_size, minimum=1)
        if store not in ("auto", True, False):
            raise ValueError(f"store must be 'auto', True or False; got {store!r}")
        self._X, self._W = X, W
        self._act = _activation(activation)
        self._n, self._d = X.shape
        self._N = W.shape[0]
        self._block_size = block_size
        n_matrices = 2 if self._layers == "both" else 1
        store_bytes = 8.0 * self._n * self._N * n_matrices
        if store == "auto":
            store = store_bytes <= STORE_FRACTION * available_memory()
        elif store:
            check_memory(
                store_bytes,
                f"storing sigma'(X W^T) of shape ({self._n}, {self._N})",
                "use store=False (recompute in neuron blocks)",
            )
        self._S: np.ndarray | None = None
        self._A: np.ndarray | None = None
        if store:
            # row blocks, so the transient pre-activations stay one block
            first = self._layers in ("first", "both")
            second = self._layers in ("second", "both")
            self._S = np.empty((self._n, self._N)) if first else None
            self._A = np.empty((self._n, self._N)) if second else None
            rows = max(1, BLOCK_BYTES // (8 * self._N))
            for r0 in range(0, self._n, rows):
                S_r, A_r = _derivatives(self._act, X[r0 : r0 + rows] @ W.T, self._layers)
                if first:
                    self._S[r0 : r0 + rows] = S_r
                if second:
                    self._A[r0 : r0 + rows] = A_r
        self._stored = bool(store)
        super().__init__(dtype=np.dtype(np.float64), shape=(self._n, self._n))

    # -- description -------------------------------------------------------
    @property
    def layers(self) -> str:
        """The kernel applied: ``"first"``, ``"second"`` or ``"both"``."""
        return self._layers

    @property
    def width(self) -> int:
        """Number of neurons ``N``."""
        return self._N

    @property
    def stores_features(self) -> bool:
        """Whether ``sigma'(X W^T)`` (and ``sigma(X W^T)``) are kept in memory."""
        return self._stored

    @property
    def rank_bound(self) -> int:
        """Upper bound on ``rank(K_N)``: ``N d`` (first), ``N`` (second), ``N (d + 1)`` (both)."""
        per_layer = {"first": self._N * self._d, "second": self._N, "both": self._N * (self._d + 1)}
        return min(self._n, per_layer[self._layers])

    def matvec_flops(self, nvec: int = 1) -> float:
        """Approximate flops of one product with ``nvec`` vectors (for cost models)."""
        n, N, d = self._n, self._N, self._d
        flops = 0.0
        if self._layers in ("first", "both"):
            flops += 4.0 * n * N * d * nvec
        if self._layers in ("second", "both"):
            flops += 4.0 * n * N * nvec
        if not self._stored:
            flops += 2.0 * n * N * d
        return flops

    def dense_flops(self) -> float:
        """Approximate flops of :meth:`todense` (``syrk``: ``n^2 N``; Gram ``n^2 d``)."""
        n, N, d = self._n, self._N, self._d
        per = {"first": N + d, "second": N, "both": 2 * N + d}[self._layers]
        return float(n) * n * per + 2.0 * n * N * d

    # -- blocks ------------------------------------------------------------
    def _blocks(self) -> Iterator[tuple[np.ndarray | None, np.ndarray | None]]:
        if self._stored:
            yield self._S, self._A
            return
        b = _block_width(self._n, self._N, self._block_size)
        for start in range(0, self._N, b):
            pre = self._X @ self._W[start : start + b].T
            yield _derivatives(self._act, pre, self._layers)

    # -- products ----------------------------------------------------------
    def _matmat(self, V: np.ndarray) -> np.ndarray:
        V = np.asarray(V, dtype=np.float64)
        if V.ndim == 1:
            V = V[:, None]
        n, d, N = self._n, self._d, self._N
        m = V.shape[1]
        out = np.zeros((n, m))
        chunk = max(1, min(m, BLOCK_BYTES // (8 * n * d)))
        first = self._layers in ("first", "both")
        second = self._layers in ("second", "both")
        for c0 in range(0, m, chunk):
            Vc = V[:, c0 : c0 + chunk]
            mc = Vc.shape[1]
            if first:
                # Y[i, j*mc + c] = X_ij V_ic ; acc1 = sum_blocks S_B (Y^T S_B)^T
                Y = (self._X[:, :, None] * Vc[:, None, :]).reshape(n, d * mc)
                acc1 = np.zeros((n, d * mc))
            if second:
                acc2 = np.zeros((n, mc))
            for S_B, A_B in self._blocks():
                if first:
                    U = Y.T @ S_B  # (d mc, b)
                    acc1 += S_B @ U.T  # (n, d mc)
                if second:
                    acc2 += A_B @ (A_B.T @ Vc)
            if first:
                out[:, c0 : c0 + mc] += np.einsum("ijc,ij->ic", acc1.reshape(n, d, mc), self._X) / (N * d)
            if second:
                out[:, c0 : c0 + mc] += acc2 / N
        return out

    def _matvec(self, v: np.ndarray) -> np.ndarray:
        v = np.asarray(v, dtype=np.float64).reshape(-1)
        return self._matmat(v[:, None])[:, 0]

    def _rmatvec(self, v: np.ndarray) -> np.ndarray:
        return self._matvec(v)

    def _rmatmat(self, V: np.ndarray) -> np.ndarray:
        return self._matmat(V)

    def _adjoint(self) -> NTKernelOperator:
        return self

    def _transpose(self) -> NTKernelOperator:
        return self

    # -- cheap summaries ---------------------------------------------------
    def diagonal(self) -> np.ndarray:
        """Diagonal of ``K_N``: ``(||x_i||^2 / d) mean_k S_ik^2`` (+ ``mean_k A_ik^2``); ``O(n N d)``."""
        first = np.zeros(self._n)
        second = np.zeros(self._n)
        for S_B, A_B in self._blocks():
            if S_B is not None:
                first += np.einsum("ik,ik->i", S_B, S_B)
            if A_B is not None:
                second += np.einsum("ik,ik->i", A_B, A_B)
        row_norm2 = np.einsum("ij,ij->i", self._X, self._X)
        return (row_norm2 / self._d) * first / self._N + second / self._N

    def trace(self) -> float:
        """``trace(K_N)`` = sum of :meth:`diagonal`."""
        return float(self.diagonal().sum())

    def dense_bytes(self) -> float:
        """Peak bytes of :meth:`todense`: the ``n x n`` output plus one neuron block."""
        return _path_bytes(self._n, self._n, self._layers, n_widths=1, symmetric=True, N=self._N)

    def todense(self) -> np.ndarray:
        """Form ``K_N`` densely (blocked ``syrk``; ``O(n^2 (N + d))``), guarded by the memory check."""
        *_, (_, K) = width_path(self._X, self._W, self._act, [self._N], layers=self._layers,
                                block_size=self._block_size)
        return K


# ---------------------------------------------------------------------------
# Width path
# ---------------------------------------------------------------------------


def _path_bytes(n: int, n2: int, layers: str, n_widths: int, symmetric: bool, N: int) -> float:
    """Peak bytes of :func:`width_path` beyond inputs (accumulators, Gram, one output, one block)."""
    accumulators = 2 if layers == "both" else 1
    gram = 1 if (layers != "second" and n_widths > 1) else 0
    outputs = 1 if n_widths > 1 else 0
    # pre-activation + derivative(s) of one neuron block, for X (and X2)
    rows = n if symmetric else n + n2
    block = 3.0 * 8 * rows * _block_width(max(n, n2), N, None)
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
        Neurons per block (default about ``BLOCK_BYTES / (8 n)``).

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
    neuron block; checked up front with :func:`ntphase._memory.check_memory`.
    The arguments are validated when the function is called; the work is done
    lazily as the generator is consumed.

    Examples
    --------
    >>> import numpy as np
    >>> from ntphase.operators import width_path
    >>> rng = np.random.default_rng(1)
    >>> X = rng.standard_normal((20, 4)); W = rng.standard_normal((9, 4)) / 2
    >>> [N for N, K in width_path(X, W, "relu", [3, 6, 9])]
    [3, 6, 9]
    """
    X = _as_f64("X", X)
    d = X.shape[1]
    W = _as_f64("W", W, ncols=d)
    symmetric = X2 is None
    X2 = X if symmetric else _as_f64("X2", X2, ncols=d)
    layers = check_choice("layers", layers, _LAYERS)
    widths = _check_widths(widths, W.shape[0])
    if block_size is not None:
        block_size = check_int("block_size", block_size, minimum=1)
    act = _activation(activation)
    n, n2 = X.shape[0], X2.shape[0]
    check_memory(
        _path_bytes(n, n2, layers, len(widths), symmetric, widths[-1]),
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
    acc1 = np.zeros((n2, n), order="F") if first else None
    acc2 = np.zeros((n2, n), order="F") if second else None
    gram = None
    if first and len(widths) > 1:
        gram = _mm_abt(X, X2)
        gram /= d
    b = _block_width(max(n, n2), widths[-1], block_size)
    start = 0
    for index, N in enumerate(widths):
        for b0 in range(start, N, b):
            Wb = W[b0 : min(b0 + b, N)]
            S, A = _derivatives(act, _mm_abt(X, Wb), layers)
            if symmetric:
                # acc^T (C order, n x n) lower triangle += S S^T
                if first:
                    dsyrk(1.0, S.T, beta=1.0, c=acc1, trans=1, lower=0, overwrite_c=1)
                if second:
                    dsyrk(1.0, A.T, beta=1.0, c=acc2, trans=1, lower=0, overwrite_c=1)
            else:
                S2, A2 = _derivatives(act, _mm_abt(X2, Wb), layers)
                # F-order (n2 x n) accumulator += S2 S^T, i.e. its C-order transpose += S S2^T
                if first:
                    dgemm(1.0, S2.T, S.T, beta=1.0, c=acc1, trans_a=1, trans_b=0, overwrite_c=1)
                if second:
                    dgemm(1.0, A2.T, A.T, beta=1.0, c=acc2, trans_a=1, trans_b=0, overwrite_c=1)
        start = N
        last = index == len(widths) - 1
        M1 = acc1.T if first else None  # C order, (n, n2)
        M2 = acc2.T if second else None
        out = (M1 if first else M2) if last else np.empty((n, n2))
        _finalize(M1, M2, gram, X, X2, d, N, symmetric, out)
        yield N, out


def _finalize(
    M1: np.ndarray | None,
    M2: np.ndarray | None,
    gram: np.ndarray | None,
    X: np.ndarray,
    X2: np.ndarray,
    d: int,
    N: int,
    symmetric: bool,
    out: np.ndarray,
) -> None:
    """``out = ((X X2^T/d) ∘ M1 + M2) / N`` by row blocks; symmetric: from the lower triangles.

    ``out`` may alias ``M1`` or ``M2`` (used for the last width). For the
    symmetric case only the lower triangles of ``M1``/``M2`` are read: pass 1
    writes the lower block triangle by row blocks (one Gram product per block),
    pass 2 mirrors it to the upper triangle in ``FINALIZE_TILE``-sized tiles
    (cache-sized transposes, no BLAS).
    """
    n, n2 = out.shape
    on_the_fly = M1 is not None and gram is None
    # row blocks: cache-sized when only elementwise work is left, larger when a
    # Gram block product is computed (BLAS efficiency)
    rows = max(FINALIZE_TILE, BLOCK_BYTES // (8 * max(n2, 1))) if on_the_fly else FINALIZE_TILE
    Xd = X * (1.0 / d) if on_the_fly else None
    for r0 in range(0, n, rows):
        r1 = min(n, r0 + rows)
        c1 = r1 if symmetric else n2  # columns holding valid data in this row block
        block = out[r0:r1, :c1]
        if M1 is not None:
            g = gram[r0:r1, :c1] if gram is not None else _mm_abt(Xd[r0:r1], X2[:c1])
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
