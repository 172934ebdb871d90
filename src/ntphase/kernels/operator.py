"""Matrix-free NT kernel operator.

:class:`NTKernelOperator` applies the empirical NT kernel ``K_N`` (docs/theory.md
section 2; Montanari & Zhong 2022, section 2) to vectors without forming the
``n x n`` matrix: ``O(n N d)`` time per product and ``O((n + N) d)`` memory
beyond the inputs (plus the ``n x N`` derivative matrix when it is cheap to
keep, see ``store``). Eigensolvers (:mod:`ntphase.linalg.eigen`) run on it.
NumPy/SciPy only (float64): the CPU fast path behind the spectra;
:func:`ntphase.kernels.nt_kernel` is the array-API-generic kernel and
:func:`ntphase.kernels.nt_kernel_product` the array-API-generic product.

Memory policy (documented constants)
------------------------------------
``conventions.NEURON_BLOCK_BYTES``
    Target size of one neuron block (``n x b`` float64) or one column chunk
    of a multi-vector product; the working memory beyond inputs and outputs.
``STORE_FRACTION``
    ``NTKernelOperator(store="auto")`` keeps ``S = sigma'(X W^T)`` (and
    ``A = sigma(X W^T)`` for ``layers="second"/"both"``), ``8 n N`` bytes each,
    when that is at most this fraction of the available memory
    (:func:`ntphase._util.memory.available_memory`). Keeping it saves the
    ``X W_B^T`` product and the activation in every product (a third of the
    flops for ReLU, more for activations with special functions); otherwise
    each product recomputes it block by block and the memory is
    ``O(n b + (n + N) d)``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
from scipy.sparse.linalg import LinearOperator

from ntphase import conventions
from ntphase._util.memory import available_memory, check_memory
from ntphase._util.validation import check_choice, check_int
from ntphase.activations import get_activation
from ntphase.conventions import LAYERS
from ntphase.kernels._neuron_blocks import as_f64, block_width, derivatives
from ntphase.kernels.width_path import path_bytes, width_path

__all__ = ["STORE_FRACTION", "NTKernelOperator"]

#: ``store="auto"`` keeps ``S`` (``8 n N`` bytes per layer) up to this fraction
#: of the available memory.
STORE_FRACTION = 0.25


class NTKernelOperator(LinearOperator):
    r"""Matrix-free empirical NT kernel ``K_N`` as a SciPy ``LinearOperator``.

    With ``S = sigma'(X W^T)`` (``n x N``) and ``A = sigma(X W^T)``:

    * ``layers="first"``: ``K_N = (X X^T / d) ∘ (S S^T / N)`` (docs/theory.md, section 2),
      applied as ``K_N v = (1/(N d)) rowsum(X ∘ (S U^T))`` with
      ``U = (X ∘ v)^T S`` (``d x N``), i.e. two matrix products of cost
      ``n N d`` each; for ``m`` vectors the ``(X ∘ v_j)`` are stacked into one
      ``n x (d m)`` matrix so the products stay BLAS-3.
    * ``layers="second"``: ``K v = (1/N) A (A^T v)``.
    * ``layers="both"``: the sum.

    The operator is symmetric positive semi-definite, float64, shape ``(n, n)``.

    NumPy only: PyTorch, CuPy or JAX inputs are copied to the host. Device
    arrays use :func:`ntphase.kernels.nt_kernel_product` (the same product with
    the inputs' namespace on their device), which
    :func:`ntphase.linalg.block_cg` takes as a callable; the estimators' cg
    route does this inside :func:`ntphase.kernels.use_device`.

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
        Neurons per block when recomputing (default: ``NEURON_BLOCK_BYTES / (8 n)``).

    Notes
    -----
    Cost per product with ``m`` vectors: ``4 n N d m`` flops (first layer),
    plus ``2 n N d`` to recompute ``X W^T`` when ``S`` is not stored.
    Memory beyond the inputs: ``2 * 8 n d m_c`` bytes for a chunk of ``m_c``
    vectors (``m_c`` chosen so this is about ``NEURON_BLOCK_BYTES``), ``8 d N m_c``
    for ``U``, and either ``8 n N`` per stored matrix or one ``n x b`` block.
    Inputs are never modified (float64 inputs are referenced, not copied).

    Examples
    --------
    >>> import numpy as np
    >>> from ntphase.kernels.operator import NTKernelOperator
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
        X = as_f64("X", X)
        W = as_f64("W", W, ncols=X.shape[1])
        self._layers = check_choice("layers", layers, LAYERS)
        if block_size is not None:
            block_size = check_int("block_size", block_size, minimum=1)
        if store not in ("auto", True, False):
            raise ValueError(f"store must be 'auto', True or False; got {store!r}")
        self._X, self._W = X, W
        self._act = get_activation(activation)
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
        self._S: Any = None  # stored sigma'(X W^T), or None (not stored / layer off)
        self._A: Any = None
        if store:
            # row blocks, so the transient pre-activations stay one block
            first = self._layers in ("first", "both")
            second = self._layers in ("second", "both")
            self._S = np.empty((self._n, self._N)) if first else None
            self._A = np.empty((self._n, self._N)) if second else None
            rows = max(1, conventions.NEURON_BLOCK_BYTES // (8 * self._N))
            for r0 in range(0, self._n, rows):
                S_r, A_r = derivatives(self._act, X[r0 : r0 + rows] @ W.T, self._layers)
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
    def _blocks(self) -> Iterator[tuple[Any, Any]]:  # (S_B, A_B), None where a layer is off
        if self._stored:
            yield self._S, self._A
            return
        b = block_width(self._n, self._N, self._block_size)
        for start in range(0, self._N, b):
            pre = self._X @ self._W[start : start + b].T
            yield derivatives(self._act, pre, self._layers)

    # -- products ----------------------------------------------------------
    def _matmat(self, V: np.ndarray) -> np.ndarray:
        V = np.asarray(V, dtype=np.float64)
        if V.ndim == 1:
            V = V[:, None]
        n, d, N = self._n, self._d, self._N
        m = V.shape[1]
        out = np.zeros((n, m))
        chunk = max(1, min(m, conventions.NEURON_BLOCK_BYTES // (8 * n * d)))
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
        return path_bytes(self._n, self._n, self._layers, n_widths=1, symmetric=True, N=self._N)

    def todense(self) -> np.ndarray:
        """Form ``K_N`` densely (blocked ``syrk``; ``O(n^2 (N + d))``), guarded by the memory check."""
        *_, (_, K) = width_path(self._X, self._W, self._act, [self._N], layers=self._layers,
                                block_size=self._block_size)
        return K
