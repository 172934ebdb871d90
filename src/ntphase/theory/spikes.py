"""Spike groups and bulk of the infinite-width kernel matrix (Montanari & Zhong 2022, section 3)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ntphase._util.validation import check_int
from ntphase.sphere import level as sphere_level
from ntphase.theory._degrees import _check_common, _DegreeTable
from ntphase.theory.spectral_law import KernelSpectralLaw

__all__ = ["spike_prediction"]


def spike_prediction(activation: Any, d: int, n: int, level: int | None = None, layers: str = "first",
                     kmax: int | None = None) -> list[dict]:
    """Predicted spike groups and bulk of the infinite-width kernel matrix ``K`` (docs/theory.md, section 3).

    ``K ~ sum_{k<=l} xi_{d,k} Y_k Y_k^T + gamma_{>l} I_n``: for each present degree
    ``k <= l`` a group of ``count = B(d,k)`` eigenvalues at
    ``location = n xi_{d,k} + gamma_{>l}``; then the bulk, ``count = n - sum counts`` at
    ``location = gamma_{>l}`` (its mean). ``level`` defaults to :func:`ntphase.sphere.level`.

    Spreads (``spread_low``, ``spread_high``) come from the deterministic-equivalent law
    of ``K`` (:class:`~ntphase.theory.KernelSpectralLaw`, degrees up to ``kmax``): the
    groups, ordered by decreasing location, take consecutive blocks of its predicted
    sorted eigenvalues ``quantile((i - 1/2)/n)`` (the group holding ranks
    ``r+1..r+count`` from the top spans the predicted eigenvalues of those ranks, the
    bulk the lowest ``n - sum counts``). A group of one eigenvalue (degree 0) has no
    spread: ``spread_low = spread_high = location``.

    Returns a list of dicts with keys ``kind`` ("spike" or "bulk"), ``degree`` (None
    for the bulk), ``count``, ``location``, ``spread_low``, ``spread_high``.
    Cost: one ``sphere_spectrum`` up to degree ``max(l, kmax)`` and one spectral law
    (about a second at ``n = 1000``).

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
    groups: list[dict[str, Any]] = []
    for k in range(level + 1):
        if spec.present[k]:
            groups.append({"kind": "spike", "degree": k, "count": int(spec.multiplicity[k]),
                           "location": float(n * spec.xi[k] + gamma)})
    total = sum(g["count"] for g in groups)
    if total > n:
        raise ValueError(
            f"level must leave room for the bulk: sum of B(d,k) over present k <= {level} is {total} > n = {n}"
        )
    eig = KernelSpectralLaw(activation, d, n, kmax=kmax, layers=layers).predicted_eigenvalues()[::-1]
    rank = 0
    for g in sorted(groups, key=lambda g: -g["location"]):
        block = eig[rank: rank + g["count"]]
        rank += g["count"]
        if g["count"] == 1:
            g["spread_low"] = g["spread_high"] = g["location"]
        else:
            g["spread_low"], g["spread_high"] = float(np.min(block)), float(np.max(block))
    bulk = eig[rank:]
    groups.append({"kind": "bulk", "degree": None, "count": n - total, "location": float(gamma),
                   "spread_low": float(np.min(bulk)) if bulk.size else float(gamma),
                   "spread_high": float(np.max(bulk)) if bulk.size else float(gamma)})
    return groups
