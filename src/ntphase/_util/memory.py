"""Memory guard: estimate before allocating, refuse with the estimate and the way out."""

from __future__ import annotations

import os

import psutil

#: Fraction of the available memory one step may claim before it is refused.
MEMORY_FRACTION = 0.8

_GIB = 1024.0**3


class InsufficientMemoryError(MemoryError):
    """Raised before an allocation that would not fit in the available memory."""


def available_memory() -> int:
    """Bytes available now: psutil's estimate, capped by ``NTPHASE_MEMORY_LIMIT`` (bytes) if set."""
    available = int(psutil.virtual_memory().available)
    limit = os.environ.get("NTPHASE_MEMORY_LIMIT")
    if limit:
        available = min(available, int(float(limit)))
    return available


def fits(nbytes: float) -> bool:
    """Whether ``nbytes`` fits under ``MEMORY_FRACTION`` of the available memory."""
    return float(nbytes) <= MEMORY_FRACTION * available_memory()


def check_memory(nbytes: float, what: str, hint: str = "") -> None:
    """Raise :class:`InsufficientMemoryError` if ``nbytes`` would not fit.

    Parameters
    ----------
    nbytes : float
        Estimated peak bytes of the step.
    what : str
        What would be allocated, e.g. ``"K_N of shape (50000, 50000)"``.
    hint : str
        The way out (matrix-free operator, smaller block, smaller grid).
    """
    budget = MEMORY_FRACTION * available_memory()
    if float(nbytes) > budget:
        message = (
            f"{what} needs about {nbytes / _GIB:.2f} GiB, more than the "
            f"{budget / _GIB:.2f} GiB allowed ({MEMORY_FRACTION:.0%} of the "
            f"{available_memory() / _GIB:.2f} GiB available)"
        )
        if hint:
            message += f"; {hint}"
        raise InsufficientMemoryError(message)
