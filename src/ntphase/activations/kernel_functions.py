"""Kernel functions of an activation on NumPy float64 correlations.

docs/theory.md, section 2: ``h(t) = E[sigma'(G) sigma'(G')] = sum_j (mu_j/sqrt(j!))^2 t^j``,
first layer ``H(t) = t h(t)``, second layer ``g(t) = sum_j (c_j/sqrt(j!))^2 t^j``,
evaluated behind :meth:`ntphase.activations.Activation.kernel_function` on a
validated, clipped float64 array ``t``:

- closed forms (``act.closed_form.h`` and ``.g``): ``relu``'s arc-cosine kernels
  :func:`relu_h`, :func:`relu_g` and ``erf``'s arcsine kernels :func:`erf_h`, :func:`erf_g`;
- otherwise the power series with the coefficients of :mod:`ntphase.activations.hermite`
  (``SERIES_TERMS`` of them), truncated per band of ``|t|`` so that the
  neglected tail is below ``SERIES_RTOL`` times the series at ``|t| = 1``;
  ``|t| = 1`` exactly uses the 1-D quadrature endpoint values
  (``h(1) = E[sigma'(G)^2]``, ``h(-1) = E[sigma'(G) sigma'(-G)]``). Evaluation
  is a vectorized Horner scheme in ``t^2`` split by parity: a few dozen array
  passes for the ``|t| <= 1/2`` entries that dominate kernel matrices. Plans
  are cached per :class:`~ntphase.activations.Activation` object; a slowly
  converging series (kinked custom activations) warns when its plan is built.
"""
from __future__ import annotations

import functools
import math
import warnings
from typing import Any

import numpy as np

from ntphase.activations.hermite import SERIES_TERMS, cached_normalized, endpoint_values

#: Relative truncation error allowed in the kernel-function series.
SERIES_RTOL = 1e-16
#: Bands of |t| in which the series is truncated separately (cheap for small |t|).
_BANDS = (0.15, 0.25, 0.35, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98, 0.995, 0.999, 1.0)
#: The base band (terms applied to every entry) holds this quantile of |t| ...
_BASE_QUANTILE = 0.98
#: ... but is never wider than |t| <= _BANDS[_MAX_BASE_BAND] (0.7).
_MAX_BASE_BAND = 5


def _series_endpoints(act: Any, which: str) -> tuple[float, float]:
    """Values at t = 1 and t = -1 from 1-D quadrature (exact endpoints of the series)."""
    hp, hm = endpoint_values(act, "derivative")
    gp, gm = endpoint_values(act, "activation")
    if which == "h":
        return hp, hm
    plus, minus = 0.0, 0.0
    if which in ("first", "both"):
        plus, minus = plus + hp, minus - hm  # H(t) = t h(t)
    if which in ("second", "both"):
        plus, minus = plus + gp, minus + gm
    return plus, minus


def _series_coefficients(act: Any, which: str) -> np.ndarray:
    """Power-series coefficients of ``h`` or of the kernel function ``which``."""
    if which == "h":
        return np.asarray(cached_normalized(act, SERIES_TERMS, "derivative")) ** 2
    return act.power_series(SERIES_TERMS + 1, which)


@functools.lru_cache(maxsize=64)
def _series_plan(act: Any, which: str):
    """Coefficients and, per band of |t|, the number of terms that makes the tail negligible."""
    A = _series_coefficients(act, which)
    j = np.arange(A.size)
    total = float(np.sum(np.abs(A)))
    plan = []
    for r in _BANDS:
        terms = np.abs(A) * r**j
        tail = np.cumsum(terms[::-1])[::-1]  # tail[J] = sum_{j >= J} terms
        ok = np.nonzero(tail <= SERIES_RTOL * max(total, 1e-300))[0]
        plan.append(int(ok[0]) if ok.size else A.size)
    last = np.abs(A[-20:])
    if float(np.sum(last)) > SERIES_RTOL * 1e4 * max(total, 1e-300):
        est = 2.0 * A.size * float(np.mean(last))
        warnings.warn(
            f"Hermite series of {act.name!r} ({which}) converges slowly: with {A.size} terms the "
            f"truncation error near |t| = 1 is about {est:.1e} (relative {est / total:.1e}); "
            "values at |t| = 1 exactly use direct quadrature",
            RuntimeWarning,
            stacklevel=6,
        )
    A.setflags(write=False)
    return A, tuple(plan), _series_endpoints(act, which)


def _horner_parity(A: np.ndarray, t: np.ndarray) -> np.ndarray:
    """``sum_j A_j t^j`` as even and odd Horner chains in ``t^2``, skipping a zero part."""
    even, odd = A[0::2], A[1::2]
    s = t * t
    out = None
    for part, is_odd in ((even, False), (odd, True)):
        nz = np.flatnonzero(part)
        if nz.size == 0:
            continue
        part = part[: nz[-1] + 1]
        acc = np.full_like(t, part[-1])
        for c in part[-2::-1]:
            acc *= s
            acc += c
        if is_odd:
            acc *= t
        out = acc if out is None else out + acc
    return np.zeros_like(t) if out is None else out


def series_eval(act: Any, which: str, t: np.ndarray) -> np.ndarray:
    """Banded evaluation of the truncated power series.

    Every entry is first evaluated with the terms of a base band chosen from a
    small sample of ``|t|`` (so that ~98% of the entries fall in it); the few
    entries beyond are re-evaluated with the terms their band needs. ``|t| = 1``
    exactly takes the quadrature endpoint values.
    """
    A, plan, (plus, minus) = _series_plan(act, which)
    bands = np.asarray(_BANDS)
    flat = t.ravel()
    a = np.abs(flat)
    if a.size == 0:
        return np.empty_like(t)
    sample = a[:: max(1, a.size // 4096)]
    base = int(np.searchsorted(bands, np.quantile(sample, _BASE_QUANTILE), side="left"))
    base = min(base, _MAX_BASE_BAND)
    out = _horner_parity(A[: plan[base]], flat)
    rest = np.flatnonzero(a > bands[base])
    if rest.size:
        ra, rt = a[rest], flat[rest]
        rb = np.searchsorted(bands, ra, side="left")  # ra <= bands[rb]
        order = np.argsort(rb, kind="stable")
        rest, ra, rt, rb = rest[order], ra[order], rt[order], rb[order]
        bounds = np.searchsorted(rb, np.arange(base + 1, len(bands) + 1), side="left")
        for i, b in enumerate(range(base + 1, len(bands))):
            lo, hi = bounds[i], bounds[i + 1]
            if hi > lo:
                out[rest[lo:hi]] = _horner_parity(A[: plan[b]], rt[lo:hi])
        ends = rest[ra == 1.0]
        out[ends] = np.where(flat[ends] > 0, plus, minus)
    return out.reshape(t.shape)


def relu_h(t: np.ndarray) -> np.ndarray:
    """ReLU: ``h(t) = (pi - arccos t)/(2 pi)`` (arc-cosine kernel of degree 0)."""
    return (math.pi - np.arccos(t)) / (2.0 * math.pi)


def relu_g(t: np.ndarray) -> np.ndarray:
    """ReLU: ``g(t) = (sqrt(1 - t^2) + (pi - arccos t) t)/(2 pi)`` (arc-cosine kernel of degree 1)."""
    return (np.sqrt(np.maximum(1.0 - t * t, 0.0)) + (math.pi - np.arccos(t)) * t) / (2.0 * math.pi)


def relu_from_gaps(t: np.ndarray, gap_minus: np.ndarray, gap_plus: np.ndarray, layers: str) -> np.ndarray:
    """Arc-cosine kernels from ``t`` and the gaps ``1 - t``, ``1 + t`` (Cho & Saul 2009).

    ``arccos t = 2 arcsin(sqrt((1 - t)/2))`` and ``pi - arccos t = 2 arcsin(sqrt((1 + t)/2))``,
    each used on the side where its argument is small, and ``sqrt(1 - t^2) = sqrt(gap_minus gap_plus)``.
    ``H(t) = t (pi - arccos t)/(2 pi)``, ``g(t) = (sqrt(1 - t^2) + (pi - arccos t) t)/(2 pi)``.
    """
    positive = t >= 0.0
    angle = np.where(
        positive,
        math.pi - 2.0 * np.arcsin(np.sqrt(0.5 * np.minimum(gap_minus, 2.0))),
        2.0 * np.arcsin(np.sqrt(0.5 * np.minimum(gap_plus, 2.0))),
    )  # pi - arccos t
    out = np.zeros_like(t)
    if layers in ("first", "both"):
        out += t * angle
    if layers in ("second", "both"):
        out += np.sqrt(gap_minus * gap_plus) + angle * t
    out *= 1.0 / (2.0 * math.pi)
    return out


def erf_h(t: np.ndarray) -> np.ndarray:
    """``sigma = erf``: ``h(t) = (4/pi)/sqrt(9 - 4 t^2)``."""
    return (4.0 / math.pi) / np.sqrt(9.0 - 4.0 * t * t)


def erf_g(t: np.ndarray) -> np.ndarray:
    """``sigma = erf``: ``g(t) = (2/pi) arcsin(2t/3)``."""
    return (2.0 / math.pi) * np.arcsin(2.0 * t / 3.0)


def kernel_values(act: Any, which: str, t: np.ndarray) -> np.ndarray:
    """``h`` (``which="h"``) or the kernel function ``which`` in ``("first", "second", "both")``.

    ``t``: float64 NumPy array already checked to lie in ``[-1, 1]``; returns a
    new float64 array of the same shape. The activation's closed forms when it
    has them, else the banded series (:func:`series_eval`).
    """
    closed = act.closed_form
    if closed is None:
        return series_eval(act, which, t)
    if which == "h":
        return closed.h(t)
    out = np.zeros_like(t)
    if which in ("first", "both"):
        out += t * closed.h(t)
    if which in ("second", "both"):
        out += closed.g(t)
    return out


#: Closed-form kernel functions on an array-API namespace, keyed by ``ClosedForm.name``:
#: ``(h, g)`` written with ``xp.acos``, ``xp.asin``, ``xp.sqrt`` (same formulas as above).
_XP_CLOSED = {
    "relu": (
        lambda xp, t: (math.pi - xp.acos(t)) / (2.0 * math.pi),
        lambda xp, t: (xp.sqrt(xp.clip(1.0 - t * t, min=0.0)) + (math.pi - xp.acos(t)) * t) / (2.0 * math.pi),
    ),
    "erf": (
        lambda xp, t: (4.0 / math.pi) / xp.sqrt(9.0 - 4.0 * t * t),
        lambda xp, t: (2.0 / math.pi) * xp.asin(2.0 * t / 3.0),
    ),
}


def kernel_values_xp(act: Any, which: str, t: Any, xp: Any) -> Any:
    """:func:`kernel_values` on an array-API array ``t`` (float64, clipped to ``[-1, 1]``).

    Closed forms (relu, erf) with ``xp`` operations; otherwise the power series by
    Horner in ``t^2`` (even and odd parts) with the coefficients of the band holding
    the largest ``|t| < 1`` of ``t`` (one band for the whole array: one reduction
    and up to ``SERIES_TERMS`` array passes), and the quadrature endpoint values
    where ``|t| = 1`` exactly. The coefficients come from the host (SciPy
    quadrature, cached); the evaluation stays on ``t``'s device.
    """
    closed = act.closed_form
    if closed is not None and closed.name in _XP_CLOSED:
        h, g = _XP_CLOSED[closed.name]
        if which == "h":
            return h(xp, t)
        out = xp.zeros_like(t)
        if which in ("first", "both"):
            out = out + t * h(xp, t)
        if which in ("second", "both"):
            out = out + g(xp, t)
        return out
    A, plan, (plus, minus) = _series_plan(act, which)
    a = xp.abs(t)
    interior = a < 1.0
    top = float(xp.max(xp.where(interior, a, xp.zeros_like(a)))) if t.size else 0.0
    band = min(int(np.searchsorted(np.asarray(_BANDS), top, side="left")), len(_BANDS) - 1)
    coef = A[: max(plan[band], 1)]
    s = t * t
    out = xp.zeros_like(t)
    for part, odd in ((coef[0::2], False), (coef[1::2], True)):
        nz = np.flatnonzero(part)
        if nz.size == 0:
            continue
        part = part[: nz[-1] + 1]
        acc = xp.full_like(t, float(part[-1]))
        for c in part[-2::-1]:
            acc = acc * s + float(c)
        out = out + (acc * t if odd else acc)
    ends = xp.where(t > 0, xp.full_like(t, plus), xp.full_like(t, minus))
    return xp.where(interior, out, ends)
