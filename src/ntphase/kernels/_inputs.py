"""Input checks shared by the NT kernels.

What every kernel in :mod:`ntphase.kernels` accepts: the data check (2-D,
finite, floating, ``d >= 2``, one array namespace), the common dtype, the
``block_size`` check, and the sphere-radius check of the infinite-width and
truncated kernels (``RADIUS_RTOL`` of :mod:`ntphase.conventions`).
"""

from __future__ import annotations

from typing import Any

import array_api_compat
import numpy as np

from ntphase._util.arrays import namespace
from ntphase._util.validation import check_int, check_matrix
from ntphase.conventions import RADIUS_RTOL


def check_data(X: Any, X2: Any = None, W: Any = None) -> tuple[Any, Any, Any, Any]:
    """Validate ``X`` (and ``X2``, ``W``): 2-D, finite, floating, ``d >= 2``, same namespace.

    Non-arrays (nested lists) become NumPy arrays first.
    """
    X, X2, W = (a if a is None or array_api_compat.is_array_api_obj(a) else np.asarray(a) for a in (X, X2, W))
    xp = namespace(X, X2, W, names=("X", "X2", "W"))
    X = check_matrix("X", X, xp=xp)
    d = X.shape[1]
    if d < 2:
        raise ValueError(f"X must have d >= 2 columns (the input dimension d), got shape {tuple(X.shape)}")
    if W is not None:
        W = check_matrix("W", W, ncols=d, xp=xp)
    if X2 is not None:
        X2 = check_matrix("X2", X2, ncols=d, xp=xp)
    return xp, X, X2, W


def common_dtype(xp: Any, *arrays: Any) -> Any:
    return xp.result_type(*[a.dtype for a in arrays if a is not None])


def check_block_size(block_size: Any) -> int | None:
    if block_size is None:
        return None
    return check_int("block_size", block_size, minimum=1)


def check_on_sphere(Xn: np.ndarray, name: str) -> None:
    d = Xn.shape[1]
    radius2 = np.einsum("ij,ij->i", Xn, Xn, dtype=np.float64) / d
    worst = int(np.argmax(np.abs(radius2 - 1.0)))
    if abs(radius2[worst] - 1.0) > RADIUS_RTOL:
        raise ValueError(
            f"{name} must have rows on the sphere of radius sqrt(d) "
            f"(| ||x||^2/d - 1 | <= {RADIUS_RTOL:g}); row {worst} has ||x||^2/d = {radius2[worst]:.6g}. "
            f"The infinite-width kernel H(<x,x'>/d) is the limit of K_N only there; "
            f"rescale with X * sqrt(d) / ||x|| or use nt_kernel"
        )

