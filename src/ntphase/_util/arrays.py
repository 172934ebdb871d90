"""Array-API helpers: namespace resolution and the NumPy round trip.

The numerical core is written against the Python array API standard
(``array_api_compat.array_namespace``). NumPy arrays take fast paths (``out=``
buffers, in-place updates); every other namespace (``array_api_strict``,
PyTorch, CuPy, JAX) goes through plain standard operations. Where the array API
has nothing (special functions, quadrature) values make a round trip through
NumPy with :func:`to_numpy` and :func:`from_numpy`.
"""

from __future__ import annotations

from typing import Any

import array_api_compat
import numpy as np


def namespace(*arrays: Any, names: tuple[str, ...] | None = None) -> Any:
    """Return the array-API namespace shared by ``arrays`` (``None`` entries skipped).

    Raises
    ------
    TypeError
        If the arrays come from different libraries (e.g. a NumPy ``X`` with a
        PyTorch ``W``); the message names the arguments when ``names`` is given.
    """
    present = [a for a in arrays if a is not None]
    try:
        return array_api_compat.array_namespace(*present)
    except TypeError as exc:
        label = ", ".join(names) if names else "the arrays"
        kinds = ", ".join(sorted({type(a).__module__ + "." + type(a).__name__ for a in present}))
        raise TypeError(
            f"{label} must all come from the same array library; got {kinds} ({exc})"
        ) from None


def is_numpy(xp: Any) -> bool:
    """Whether ``xp`` is NumPy (or array_api_compat's NumPy wrapper)."""
    return bool(array_api_compat.is_numpy_namespace(xp))


def to_numpy(x: Any) -> np.ndarray:
    """Copy (or view) an array of any array-API library as a NumPy array on the host."""
    if isinstance(x, np.ndarray):
        return x
    if array_api_compat.is_cupy_array(x):
        return x.get()
    if array_api_compat.is_torch_array(x):
        return x.detach().cpu().numpy()
    try:
        return np.from_dlpack(x)
    except (TypeError, RuntimeError, BufferError, AttributeError):
        return np.asarray(x)


def from_numpy(a: np.ndarray, xp: Any, like: Any) -> Any:
    """Return NumPy array ``a`` as an array of namespace ``xp`` on the device of ``like``."""
    if is_numpy(xp):
        return a
    return xp.asarray(a, device=array_api_compat.device(like))
