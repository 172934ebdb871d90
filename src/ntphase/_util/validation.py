"""Validation at the public boundary: errors name the argument, the rule and the value."""

from __future__ import annotations

import numbers
from collections.abc import Iterable
from typing import Any

import numpy as np


def check_int(name: str, value: Any, minimum: int | None = None, maximum: int | None = None) -> int:
    """Return ``value`` as an ``int`` or raise a ``TypeError``/``ValueError`` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        if isinstance(value, numbers.Real) and float(value).is_integer():
            value = int(float(value))
        else:
            raise TypeError(f"{name} must be an integer, got {value!r} ({type(value).__name__})")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be an integer <= {maximum}, got {value}")
    return value


def check_float(
    name: str,
    value: Any,
    minimum: float | None = None,
    allow_equal: bool = True,
    finite: bool = True,
) -> float:
    """Return ``value`` as a ``float`` or raise, naming ``name`` and the rule."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r} ({type(value).__name__})")
    value = float(value)
    if finite and not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if minimum is not None:
        if allow_equal and value < minimum:
            raise ValueError(f"{name} must be >= {minimum}, got {value}")
        if not allow_equal and value <= minimum:
            raise ValueError(f"{name} must be > {minimum}, got {value}")
    return value


def check_choice(name: str, value: Any, choices: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``choices``, else raise a ``ValueError`` listing them."""
    choices = tuple(choices)
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}")
    return value


def check_matrix(name: str, X: Any, ncols: int | None = None, xp: Any = None) -> Any:
    """Check that ``X`` is a finite 2-D floating array (any array-API namespace).

    NumPy inputs that are not arrays (lists) are converted to float64; other
    namespaces are left as they are. Integer NumPy input is converted to float64.
    """
    if xp is None:
        import array_api_compat

        try:
            xp = array_api_compat.array_namespace(X)
        except TypeError:
            X = np.asarray(X, dtype=np.float64)
            xp = array_api_compat.array_namespace(X)
    if getattr(X, "ndim", None) != 2:
        shape = getattr(X, "shape", None)
        raise ValueError(f"{name} must be a 2-D array (samples x features), got shape {shape}")
    if xp.isdtype(X.dtype, "integral") or xp.isdtype(X.dtype, "bool"):
        X = xp.astype(X, xp.float64)
    if not xp.isdtype(X.dtype, "real floating"):
        raise TypeError(f"{name} must have a real floating dtype, got {X.dtype}")
    if ncols is not None and X.shape[1] != ncols:
        raise ValueError(f"{name} must have {ncols} columns, got shape {tuple(X.shape)}")
    if X.shape[0] < 1:
        raise ValueError(f"{name} must have at least one row, got shape {tuple(X.shape)}")
    if not bool(xp.all(xp.isfinite(X))):
        raise ValueError(f"{name} must contain only finite values (found NaN or inf)")
    return X


def check_vector(name: str, y: Any, length: int | None = None) -> np.ndarray:
    """Check that ``y`` is a finite 1-D float64 NumPy vector (of ``length`` if given).

    Complex input is a ``TypeError`` (NumPy would silently drop the imaginary part)."""
    if np.iscomplexobj(y) or (not isinstance(y, np.ndarray) and np.iscomplexobj(np.asarray(y))):
        raise TypeError(f"{name} must be real; got complex values (dtype {np.asarray(y).dtype})")
    y = np.asarray(y, dtype=np.float64)
    if y.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array, got shape {y.shape}")
    if length is not None and y.shape[0] != length:
        raise ValueError(f"{name} must have length {length}, got {y.shape[0]}")
    if not np.all(np.isfinite(y)):
        raise ValueError(f"{name} must contain only finite values (found NaN or inf)")
    return y
