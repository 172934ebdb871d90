"""Random-state resolution: every sampling function takes a Generator or a seed."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

__all__ = ["as_generator"]


def as_generator(rng: Any = None) -> np.random.Generator:
    """Resolve ``rng`` to a ``numpy.random.Generator``.

    Parameters
    ----------
    rng : Generator, int >= 0, SeedSequence or None
        A Generator is returned as is (shared state); an int or SeedSequence seeds
        a new PCG64 generator; ``None`` uses fresh OS entropy (not reproducible).

    Examples
    --------
    >>> float(as_generator(0).standard_normal()) == float(as_generator(0).standard_normal())
    True
    """
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None:
        return np.random.default_rng()
    if isinstance(rng, np.random.SeedSequence):
        return np.random.default_rng(rng)
    if isinstance(rng, numbers.Integral) and not isinstance(rng, bool):
        if rng < 0:
            raise ValueError(f"rng must be a non-negative integer seed, got {rng}")
        return np.random.default_rng(int(rng))
    raise TypeError(
        f"rng must be a numpy.random.Generator, a non-negative int seed or None; "
        f"got {rng!r} ({type(rng).__name__})"
    )
