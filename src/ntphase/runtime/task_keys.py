"""Task keys and seeds of a sweep: canonical JSON, ``task_key`` and ``task_seed``.

A task is named by the SHA-256 of the canonical JSON of its experiment and
parameters (first ``KEY_LENGTH`` hex characters), and seeded from that key
only, so a rerun, another process or another machine finds the same key and
draws the same random numbers. Public through ``ntphase.runtime.store`` and
``ntphase.runtime.sweep``; this private module holds the concept so the store module
can stay about files.
"""

from __future__ import annotations

import hashlib
import json
import math
import numbers
from collections.abc import Mapping
from typing import Any

#: Number of hex characters kept from the SHA-256 of a task (64 bits).
KEY_LENGTH = 16


def _canonical(value: Any, where: str) -> Any:
    """Return ``value`` as plain JSON types, rejecting anything ambiguous."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Integral):  # int and numpy integers (bool handled above)
        return int(value)
    if isinstance(value, numbers.Real):  # float and numpy floats
        value = float(value)
        if not math.isfinite(value):
            raise ValueError(f"{where} must be a finite number, got {value!r}")
        return value
    if isinstance(value, (list, tuple)):
        return [_canonical(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError(f"{where} keys must be strings, got {k!r} ({type(k).__name__})")
            out[k] = _canonical(v, f"{where}[{k!r}]")
        return out
    raise TypeError(
        f"{where} must be None, bool, int, float, str, or a list/dict of those; "
        f"got {value!r} ({type(value).__name__})"
    )


def canonical_json(obj: Any, where: str = "params") -> str:
    """Canonical JSON text of ``obj``: sorted keys, no spaces, floats via ``repr``.

    Accepted values: ``None``, ``bool``, ``int`` (and NumPy integers), finite
    ``float`` (and NumPy floats), ``str``, and lists/tuples/dicts (string keys)
    of those. ``1`` and ``1.0`` are different values (``"1"`` vs ``"1.0"``).

    Raises
    ------
    TypeError
        For any other type (arrays, sets, objects), naming where it occurs.
    ValueError
        For NaN or infinite floats.
    """
    return json.dumps(
        _canonical(obj, where), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )


def task_key(experiment: str, params: Mapping[str, Any]) -> str:
    """Stable key of one task: the first 16 hex characters of a SHA-256.

    ``key = sha256(canonical_json({"experiment": experiment, "params": params}))[:16]``

    The key does not depend on the order of the dictionary's items, on the
    Python process (no ``hash()``), or on the machine. 64 bits make a collision
    among a million tasks about a ``3e-8`` event.

    Parameters
    ----------
    experiment : str
        The experiment's name (part of the key, so two experiments never share one).
    params : mapping
        The task's parameters (see ``canonical_json`` for the accepted types).

    Examples
    --------
    >>> task_key("demo", {"n": 10, "d": 5}) == task_key("demo", {"d": 5, "n": 10})
    True
    """
    if not isinstance(experiment, str) or not experiment:
        raise TypeError(f"experiment must be a non-empty string, got {experiment!r}")
    if not isinstance(params, Mapping):
        raise TypeError(f"params must be a dict, got {type(params).__name__}")
    plain = _canonical(dict(params), "params")
    text = canonical_json({"experiment": experiment, "params": plain})
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:KEY_LENGTH]


def _check_key(key: Any) -> str:
    if (
        not isinstance(key, str)
        or len(key) != KEY_LENGTH
        or any(c not in "0123456789abcdef" for c in key)
    ):
        raise ValueError(f"key must be a {KEY_LENGTH}-character lowercase hex string, got {key!r}")
    return key


def task_seed(key: str) -> int:
    """Seed of a task, derived from its key only: ``int(key, 16) mod 2**63``.

    The key holds the first 8 bytes of the SHA-256, so the seed is those 8
    bytes read big-endian, reduced to a non-negative ``int64``. Used as
    ``numpy.random.default_rng(seed)`` by the experiment.
    """
    return int(_check_key(key), 16) % (1 << 63)
