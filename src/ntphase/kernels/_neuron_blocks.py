"""Float64 neuron blocks shared by the matrix-free operator and the width path.

One concept: how :class:`ntphase.kernels.operator.NTKernelOperator` and
:func:`ntphase.kernels.width_path.width_path` see the neurons: float64 C-contiguous
inputs, blocks of ``b`` neurons sized to ``conventions.NEURON_BLOCK_BYTES``, the
derivative matrices ``sigma'(X W_B^T)`` / ``sigma(X W_B^T)`` of one block, and
``A @ B.T`` on SciPy's BLAS. (A module of its own because the operator's
``todense`` runs the width path: both import these helpers.)
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.linalg.blas import dgemm

from ntphase import conventions
from ntphase._util.validation import check_matrix


def as_f64(name: str, X: Any, ncols: int | None = None) -> np.ndarray:
    """Validate a 2-D finite float matrix and return it as float64 NumPy (no copy if already)."""
    X = check_matrix(name, np.asarray(X), ncols=ncols)
    return np.ascontiguousarray(X, dtype=np.float64)


def block_width(n_rows: int, N: int, block_size: int | None) -> int:
    """Neurons per block so that an ``n_rows x b`` float64 block is about ``NEURON_BLOCK_BYTES``."""
    if block_size is not None:
        return max(1, min(int(block_size), N))
    return max(1, min(N, conventions.NEURON_BLOCK_BYTES // (8 * max(n_rows, 1))))


def mm_abt(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """``A @ B.T`` for C-contiguous float64 ``A`` (m x k), ``B`` (p x k), via SciPy's BLAS.

    The width path calls SciPy's ``dsyrk``; keeping its other products on the
    same BLAS library avoids two OpenBLAS thread pools (NumPy's and SciPy's)
    spinning against each other on a small machine (measured: up to 2x slower
    when mixed on 2 busy cores). Returns a C-contiguous (m x p) array, no copies.
    """
    return dgemm(1.0, B.T, A.T, trans_a=1, trans_b=0).T


def derivatives(act: Any, pre: np.ndarray, layers: str) -> tuple[Any, Any]:
    """``(sigma'(pre), sigma(pre))`` as C-contiguous float64 arrays (``None`` where not needed)."""
    S: Any = None
    A: Any = None
    if layers in ("first", "both"):
        S = np.ascontiguousarray(np.asarray(act.dsigma(pre), dtype=np.float64))
    if layers in ("second", "both"):
        A = np.ascontiguousarray(np.asarray(act.sigma(pre), dtype=np.float64))
    return S, A
