"""Input checks and numerical-zero conventions shared by the ridge solvers.

Private concept: what a valid ridge input is (a float64 matrix, a symmetric
kernel, a path of ridges ``lambdas >= 0``, a cutoff ``rcond``) and the two
tolerances behind it, :data:`SYMMETRY_RTOL` and :func:`pinv_rcond`. Both are
public through :mod:`ntphase.ridge`, whose module docstring explains the
``rcond`` convention; the checks are used by :mod:`ntphase.ridge` and
:mod:`ntphase.evaluation`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ntphase._validation import check_float, check_matrix

__all__ = [
    "SYMMETRY_RTOL",
    "pinv_rcond",
    "as_float64_matrix",
    "check_kernel",
    "check_lambdas",
    "check_rcond",
]

_EPS = float(np.finfo(np.float64).eps)

#: ``K`` counts as symmetric when ``max|K - K^T| <= SYMMETRY_RTOL * max|K|``.
#: Kernel matrices computed in blocks are symmetric to a few ulps (~1e-15
#: relative); a real asymmetry (a cross kernel passed by mistake) is O(1). The
#: matrix is then symmetrized as ``(K + K^T) / 2``.
SYMMETRY_RTOL = 1e-8


def pinv_rcond(size: int) -> float:
    """Default relative cutoff for numerically zero eigenvalues: ``size * eps``.

    ``size`` is ``n`` for the eigenvalues of an ``n x n`` kernel matrix and
    ``max(n, p)`` for the singular values of an ``n x p`` feature matrix: the
    rounding error of backward-stable ``eigh``/``svd`` relative to the largest
    eigenvalue (singular value) is a modest multiple of ``eps``, and ``size * eps``
    is the customary bound (``numpy.linalg.matrix_rank``).
    """
    return float(size) * _EPS


def as_float64_matrix(name: str, A: Any, ncols: int | None = None) -> np.ndarray:
    """Validated float64 NumPy copy-free view of a 2-D finite array of any array library."""
    A = check_matrix(name, A, ncols=ncols)
    if not isinstance(A, np.ndarray):
        from ntphase._arrays import to_numpy

        A = to_numpy(A)
    return np.asarray(A, dtype=np.float64)


def check_kernel(name: str, K: Any) -> np.ndarray:
    """Square, finite, symmetric float64 matrix; returns a symmetrized copy."""
    K = as_float64_matrix(name, K)
    n, m = K.shape
    if n != m:
        raise ValueError(f"{name} must be a square n x n kernel matrix, got shape {(n, m)}")
    scale = float(np.max(np.abs(K)))
    asym = float(np.max(np.abs(K - K.T)))
    if asym > SYMMETRY_RTOL * scale:
        raise ValueError(
            f"{name} must be symmetric (max|K - K^T| <= {SYMMETRY_RTOL:g} * max|K|), "
            f"got max|K - K^T| = {asym:.3e} with max|K| = {scale:.3e}; "
            "pass the training kernel K(X, X), not a cross kernel"
        )
    return (K + K.T) * 0.5


def check_lambdas(lambdas: Any) -> np.ndarray:
    """Non-empty 1-D float64 copy of finite ridges ``>= 0`` (a scalar becomes shape (1,))."""
    try:
        lam = np.asarray(lambdas, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(
            f"lambdas must be a real number or a 1-D sequence of real numbers, got {lambdas!r}"
        ) from None
    if lam.ndim == 0:
        lam = lam.reshape(1)
    if lam.ndim != 1 or lam.size == 0:
        raise ValueError(f"lambdas must be a non-empty 1-D sequence, got shape {lam.shape}")
    if not np.all(np.isfinite(lam)):
        raise ValueError(f"lambdas must be finite, got {lam.tolist()}")
    if np.any(lam < 0):
        raise ValueError(f"lambdas must all be >= 0, got {lam.tolist()}")
    return lam.copy()


def check_rcond(rcond: Any, size: int) -> float:
    """``rcond`` if given (a float ``>= 0``), else :func:`pinv_rcond` of ``size``."""
    if rcond is None:
        return pinv_rcond(size)
    return check_float("rcond", rcond, minimum=0.0)
