"""Spike groups and bulk of the infinite-width kernel matrix (Montanari & Zhong 2022, section 3)."""

from __future__ import annotations

import math
from typing import Any

from ntphase._util.validation import check_int
from ntphase.sphere import level as sphere_level
from ntphase.theory._degrees import _check_common, _DegreeTable

__all__ = ["spike_prediction"]


def spike_prediction(activation: Any, d: int, n: int, level: int | None = None, layers: str = "first") -> list[dict]:
    """Predicted spike groups and bulk of the infinite-width kernel matrix ``K`` (docs/theory.md, section 3).

    ``K ~ sum_{k<=l} xi_{d,k} Y_k Y_k^T + gamma_{>l} I_n``: for each present degree
    ``k <= l`` a group of ``count = B(d,k)`` eigenvalues at
    ``location = n xi_{d,k} + gamma_{>l}``, spread over the Marchenko-Pastur support of
    ratio ``B/n``: ``[n xi (1 - sqrt(B/n))^2 + gamma, n xi (1 + sqrt(B/n))^2 + gamma]``
    (``spread_low``, ``spread_high``); then the bulk, ``count = n - sum counts`` at
    ``location = gamma_{>l}`` (its mean; its width is set by degree ``l+1``, see
    :func:`lambda_min_edge`). ``level`` defaults to :func:`ntphase.sphere.level`.

    Returns a list of dicts with keys ``kind`` ("spike" or "bulk"), ``degree`` (None
    for the bulk), ``count``, ``location``, ``spread_low``, ``spread_high``.
    Cost: one ``sphere_spectrum`` up to degree ``l``.

    Examples
    --------
    >>> [(g["degree"], g["count"]) for g in spike_prediction("relu", 20, 300)]
    [(0, 1), (1, 20), (2, 209), (None, 70)]
    """
    d, layers = _check_common(d, layers)
    n = check_int("n", n, minimum=1)
    if level is None:
        level = int(sphere_level(n, d, activation, layers=layers))
    level = check_int("level", level, minimum=0)
    spec = _DegreeTable(activation, d, level, layers)
    gamma = spec.gamma_above(level)
    groups: list[dict] = []
    for k in range(level + 1):
        if not spec.present[k]:
            continue
        B, x = spec.multiplicity[k], spec.xi[k]
        r = math.sqrt(B / n)
        groups.append(
            {
                "kind": "spike",
                "degree": k,
                "count": int(B),
                "location": float(n * x + gamma),
                "spread_low": float(n * x * (1 - r) ** 2 + gamma),
                "spread_high": float(n * x * (1 + r) ** 2 + gamma),
            }
        )
    total = sum(g["count"] for g in groups)
    if total > n:
        raise ValueError(
            f"level must leave room for the bulk: sum of B(d,k) over present k <= {level} is {total} > n = {n}"
        )
    groups.append(
        {"kind": "bulk", "degree": None, "count": n - total, "location": float(gamma),
         "spread_low": float(gamma), "spread_high": float(gamma)}
    )
    return groups
