"""Input checks and blocking constants shared by the NT kernels.

One concept: what every kernel in :mod:`ntphase.kernels` and
:mod:`ntphase._inner_product` (and the layer choice of
:mod:`ntphase.operators`) accepts: the ``layers`` choices, the data check
(2-D, finite, floating, ``d >= 2``, one array namespace), the common dtype,
the ``block_size`` check, the sphere-radius check of the infinite-width and
truncated kernels (``RADIUS_RTOL``), and the row-block budget ``BLOCK_BYTES``.
Private: the public names are re-exported by :mod:`ntphase.kernels`.
"""

from __future__ import annotations

from typing import Any

import array_api_compat
import numpy as np

from ntphase._arrays import namespace
from ntphase._validation import check_int, check_matrix

#: The kernels selectable with ``layers``.
LAYERS = ("first", "second", "both")

#: Default size of the reusable block buffer of :func:`nt_kernel` (bytes).
#: 32 MiB keeps the buffer a small fraction of any output worth blocking while
#: every block product stays large enough to run at full matrix-multiply speed.
BLOCK_BYTES = 32 * 2**20

#: Relative tolerance on ``||x||^2 / d = 1`` for the sphere-only kernels
#: (:func:`infinite_kernel`, :func:`truncated_kernel`). Norms are checked in
#: float64; rounding a sphere point to float32 moves ``||x||^2`` by at most
#: about ``2^-23 ≈ 1.2e-7`` relative, so ``1e-6`` accepts float32 data with a
#: margin while any real departure from the sphere is refused.
RADIUS_RTOL = 1e-6


def resolve_activation(activation: Any) -> Any:
    from ntphase.activations import get_activation

    return get_activation(activation)


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

