"""Fast, certified evaluation of the infinite-width kernel function on tiles of correlations.

The infinite-width NT kernel is ``K(x, x') = H(<x, x'>/d)`` with ``H(t) = t h(t)``
(first layer), ``g(t)`` (second layer) or their sum (Montanari & Zhong 2022,
arXiv:2007.12826, section 2). Evaluating ``H`` entry by entry through its
closed form (ReLU's ``arccos``) or its Hermite power series costs far more than
the Gram product that produced ``t``. This module replaces it by a polynomial
fitted once per (activation, layers, interval) and certified against the exact
function:

- **Polynomial.** On ``|t| <= tmax`` the kernel function is split by parity,
  ``H(t) = E(t^2) + t O(t^2)``, and ``E``, ``O`` are Chebyshev interpolants in
  ``s = t^2`` on ``[0, tmax^2]`` (Trefethen, *Approximation Theory and
  Approximation Practice*, 2013, chapters 3-8), stored in the monomial basis of
  ``s`` and evaluated by Horner's rule. Both the degree and the basis are
  accepted only if the evaluator itself, run on a dense check grid of
  ``[-tmax, tmax]``, is within ``KERNEL_RTOL / FIT_MARGIN`` of
  :meth:`ntphase.activations.Activation.kernel_function` relative to ``H(1)``;
  the measured error is stored on the :class:`KernelPlan`. An interval whose
  fit needs more than ``MAX_DEGREE`` (in ``s``) or whose monomial form loses
  accuracy (ReLU beyond ``|t| = 0.8``: the branch point at ``t = 1`` makes the
  monomial coefficients grow) is not offered.
- **Exact entries.** Entries with ``|t| > tmax`` (the diagonal, near-duplicate
  and near-antipodal pairs) take the exact function. For the closed forms with
  a square-root singularity at ``|t| = 1`` (ReLU) the exact evaluator is the
  closed form's ``from_gaps`` (:class:`ntphase.activations.ClosedForm`): it takes the gaps ``1 - t`` and
  ``1 + t``, which the caller computes from the points as
  ``|x - x'|^2 / (2d)`` and ``|x + x'|^2 / (2d)`` (accurate to relative
  rounding even when ``t`` rounds to 1), so ``K(x, x) = H(1)`` exactly and a
  near-duplicate pair is accurate to ~1e-15 relative instead of ~1e-8.
- **Interval per tile.** Each tile picks, from a strided sample of its
  ``|t|``, the cached interval that minimizes ``steps + EXACT_COST * fraction
  beyond``.
- **Fused pass.** One compiled pass per row: count the entries beyond
  ``tmax`` (recording them if any), then the two Horner chains in place.
  Measured on a 4000 x 4000 ReLU tile (d = 100, one thread, a shared 2-core
  Xeon VM with AVX-512; ranges over runs under load, 16-20 Horner steps):
  numba with the coefficients as fixed-length tuples (unrolled and vectorized
  by LLVM) 1.5-2.4 ns/entry; NumPy Horner in L2-sized chunks 16-43 ns/entry;
  numexpr, one expression, 33-55 ns/entry; numba looping over a coefficient
  array 21 ns/entry (not vectorized); NumPy's exact ``arccos`` form 20-59
  ns/entry; the Gram GEMM itself 7-18 ns/entry. numba is therefore the
  engine; without it the module warns once and uses the chunked NumPy Horner
  (same plans, certificate re-measured with that engine).
  ``benchmarks/bench_tiled.py --engines``
  re-measures these numbers.

Public names: :class:`KernelPlan`, :func:`kernel_plans`, :func:`kernel_tile`,
:func:`fast_kernel_function`, :data:`ENGINE`.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.polynomial import Chebyshev, Polynomial

from ntphase._util.validation import check_choice
from ntphase.activations import Activation, get_activation
from ntphase.conventions import CORRELATION_SLACK, LAYERS

try:  # numba is optional: the NumPy fallback gives the same values, slower
    import numba
except ImportError:  # pragma: no cover - exercised by monkeypatching ENGINE in the tests
    numba = None  # type: ignore[assignment]

__all__ = [
    "ENGINE",
    "EXACT_COST",
    "FIT_MARGIN",
    "INTERVALS",
    "KERNEL_RTOL",
    "MAX_DEGREE",
    "KernelPlan",
    "fast_kernel_function",
    "kernel_plans",
    "kernel_tile",
]

#: Certified accuracy of the polynomial: ``|fast - exact| <= KERNEL_RTOL * |H(1)|``.
#: ``|H(t)| <= H(1)`` on ``[-1, 1]`` because every power-series coefficient is >= 0.
KERNEL_RTOL = 1e-12
#: The fit must reach ``KERNEL_RTOL / FIT_MARGIN`` (1e-14 H(1), ~45 ulp of H(1)) on
#: the check grid. The margin covers the error between grid points (>= 100 grid
#: points per oscillation of the error at the degrees used) and another engine's
#: rounding order, and keeps products accurate: an entry error ``eps`` with a
#: consistent sign adds up over a row, so ``K v`` has relative error ~``eps`` over
#: the spread of the off-diagonal entries (~0.02 at d = 100). With a margin of 4
#: the n = 8000 products were off by 1.5e-12 relative; with 100, ~1e-13, for
#: 0-4 more Horner steps per entry.
FIT_MARGIN = 100.0
#: Half-widths ``tmax`` of the intervals ``|t| <= tmax`` on which plans are fitted.
#: Random sphere data at d = 100 has off-diagonal ``|t| < 0.6`` up to n ~ 1e5.
INTERVALS = (0.25, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
#: Largest polynomial degree in ``s = t^2`` per parity (two Horner pieces of
#: ``PIECE`` coefficients in the numba engine).
MAX_DEGREE = 23
#: Coefficient tuples are padded to a multiple of this length: numba compiles one
#: variant per pair of lengths (~0.5 s each, then cached on disk); at most 3
#: wasted multiply-adds per chain.
TUPLE_QUANTUM = 4
#: Points of the check grid on ``[0, tmax]`` (each checked at ``+t`` and ``-t``).
CHECK_POINTS = 8193
#: Cost of one exact entry in units of one Horner step on one entry (measured:
#: ~0.08 ns per step per entry with numba; 40-200 ns per exact entry).
EXACT_COST = 1000.0
#: Size of the strided sample of ``|t|`` from which a tile picks its interval.
SAMPLE_SIZE = 4096


# --------------------------------------------------------------------------
# exact evaluation, stable near |t| = 1 where a closed form allows it
# --------------------------------------------------------------------------
def _exact(act: Activation, layers: str, t: np.ndarray, gaps: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Exact kernel function on a 1-D array ``t`` (clipped to [-1, 1]); ``gaps`` = (1 - t, 1 + t)."""
    t = np.clip(t, -1.0, 1.0)
    stable = act.closed_form.from_gaps if act.closed_form is not None else None
    if stable is None:
        return np.asarray(act.kernel_function(t, layers), dtype=np.float64)
    if gaps is None:
        gaps = (1.0 - t, 1.0 + t)
    else:  # t consistent with the gaps (t = 1 exactly when x = x')
        t = np.where(t >= 0.0, 1.0 - gaps[0], gaps[1] - 1.0)
    return stable(t, gaps[0], gaps[1], layers)


def _point_gaps(x_rows: np.ndarray, y_rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(|x - y|^2/(2d), |x + y|^2/(2d))`` row by row: ``1 - t`` and ``1 + t`` on the sphere."""
    d = x_rows.shape[1]
    diff = x_rows - y_rows
    plus = x_rows + y_rows
    scale = 1.0 / (2.0 * d)
    return (np.einsum("ij,ij->i", diff, diff) * scale, np.einsum("ij,ij->i", plus, plus) * scale)


# --------------------------------------------------------------------------
# the two engines: fused numba pass, chunked NumPy fallback
# --------------------------------------------------------------------------
#: Coefficients per Horner piece of the numba engine. numba passes a coefficient
#: tuple as a fixed-length argument and LLVM unrolls and vectorizes a chain of up
#: to 15 (measured: 1-2.5 ns/entry); from 16 on it keeps the loop and runs 15-20x
#: slower. Longer polynomials are split, ``P = P_0 + s^12 P_1``.
PIECE = 12

if numba is not None:

    @numba.njit(inline="always")
    def _horner_tuple(c, s):  # pragma: no cover - compiled
        n = len(c)
        acc = c[n - 1]
        for k in range(n - 2, -1, -1):
            acc = acc * s + c[k]
        return acc

    @numba.njit(cache=True, nogil=True, fastmath={"contract"})
    def _poly_rows_numba(A, r_start, r_stop, n_cols, scale, e0, e1, o0, o1, tmax, out_r, out_c, out_t):  # pragma: no cover - compiled
        # Rows r_start..r_stop-1, columns 0..n_cols-1 of A (Gram values; t = scale * A).
        # H(t) ~ E(s) + t O(s), s = t^2, E = e0 + s^12 e1, O = o0 + s^12 o1 (e1, o1 = (0.0,) when
        # unused). Returns (next row, number of recorded entries with |t| > tmax); stops before a
        # row whose outliers would overflow out_* (callers pass capacity >= n_cols).
        split = len(e1) > 1 or len(o1) > 1
        cap = out_r.size
        count = 0
        for r in range(r_start, r_stop):
            row = A[r]
            big = 0
            for i in range(n_cols):
                big += abs(row[i] * scale) > tmax
            if big:
                if count + big > cap:
                    return r, count
                for i in range(n_cols):
                    t = row[i] * scale
                    if abs(t) > tmax:
                        out_r[count] = r
                        out_c[count] = i
                        out_t[count] = t
                        count += 1
            if split:
                for i in range(n_cols):
                    t = min(max(row[i] * scale, -tmax), tmax)
                    s = t * t
                    s4 = (s * s) * (s * s)
                    s12 = s4 * s4 * s4  # s^PIECE, PIECE = 12 hard-wired
                    a = _horner_tuple(e0, s) + s12 * _horner_tuple(e1, s)
                    b = _horner_tuple(o0, s) + s12 * _horner_tuple(o1, s)
                    row[i] = a + t * b
            else:
                for i in range(n_cols):
                    t = min(max(row[i] * scale, -tmax), tmax)
                    s = t * t
                    row[i] = _horner_tuple(e0, s) + t * _horner_tuple(o0, s)
        return r_stop, count


def _pieces(coef: tuple[float, ...]) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """``(P_0, P_1)`` with ``P = P_0 + s^PIECE P_1`` (``P_1 = (0.0,)`` when short)."""
    if len(coef) <= PIECE:
        return coef, (0.0,)
    return coef[:PIECE], coef[PIECE:]


def _polynomial_numba(A, r_start, r_stop, n_cols, scale, plan):
    """Polynomial in place on ``A[r_start:r_stop, :n_cols]``; returns the outliers (rows, cols, t)."""
    cap = max(4 * n_cols, 1024)
    found: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    out_r = np.empty(cap, dtype=np.int64)
    out_c = np.empty(cap, dtype=np.int64)
    out_t = np.empty(cap, dtype=np.float64)
    (e0, e1), (o0, o1) = _pieces(plan.even), _pieces(plan.odd)
    r = r_start
    while r < r_stop:
        r, count = _poly_rows_numba(A, r, r_stop, n_cols, scale, e0, e1, o0, o1, plan.tmax, out_r, out_c, out_t)
        if count:
            found.append((out_r[:count].copy(), out_c[:count].copy(), out_t[:count].copy()))
    return _concat(found)


#: Entries per chunk of the NumPy engine: its work arrays stay in the L2 cache.
_CHUNK = 1 << 14


def _horner_numpy(coef: tuple[float, ...], s: np.ndarray, acc: np.ndarray) -> np.ndarray:
    acc.fill(coef[-1])
    for c in coef[-2::-1]:
        acc *= s
        acc += c
    return acc


def _polynomial_numpy(A, r_start, r_stop, n_cols, scale, plan):
    """Same contract as :func:`_polynomial_numba`, in NumPy (rows in chunks of ~``_CHUNK`` entries)."""
    rows = max(1, _CHUNK // max(n_cols, 1))
    found = []
    for r0 in range(r_start, r_stop, rows):
        r1 = min(r0 + rows, r_stop)
        block = A[r0:r1, :n_cols]
        block *= scale
        rr, cc = np.nonzero(np.abs(block) > plan.tmax)
        if rr.size:
            found.append((rr + r0, cc, block[rr, cc]))
        t = np.clip(block, -plan.tmax, plan.tmax)
        s = t * t
        a = _horner_numpy(plan.even, s, np.empty_like(s))
        b = _horner_numpy(plan.odd, s, np.empty_like(s))
        b *= t
        np.add(a, b, out=block)
    return _concat(found)


def _concat(found):
    if not found:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty, np.empty(0)
    return tuple(np.concatenate(parts) for parts in zip(*found))


#: The engine in use: ``"numba"`` (fused, compiled) or ``"numpy"`` (fallback, warned once).
ENGINE = "numba" if numba is not None else "numpy"


@functools.cache
def _warn_fallback() -> None:
    warnings.warn(
        "numba is not importable: the fast kernel function runs on its NumPy engine "
        "(same values, about 10x slower); install numba for the fused engine",
        RuntimeWarning,
        stacklevel=4,
    )


def _polynomial(A, r_start, r_stop, n_cols, scale, plan):
    if ENGINE == "numba" and numba is not None:
        return _polynomial_numba(A, r_start, r_stop, n_cols, scale, plan)
    _warn_fallback()
    return _polynomial_numpy(A, r_start, r_stop, n_cols, scale, plan)


# --------------------------------------------------------------------------
# plans: fit, convert, certify
# --------------------------------------------------------------------------
@dataclass(frozen=True)
class KernelPlan:
    """A certified polynomial for one activation, layer choice and interval ``|t| <= tmax``.

    ``kernel_function(t) ~= P_even(t^2) + t P_odd(t^2)`` with
    ``P(s) = sum_k coef[k] s^k``.

    Attributes
    ----------
    activation, layers : str
        What it approximates (``Activation.name``; ``"first"``/``"second"``/``"both"``).
    tmax : float
        Half-width of the interval.
    even, odd : tuple of float
        Monomial coefficients in ``s = t^2``, lowest degree first (``(0.0,)`` for
        a part that vanishes by symmetry).
    value_at_one : float
        ``kernel_function(1)`` (``H(1) = E[sigma'(G)^2]`` for the first layer).
    max_error : float
        Measured ``max |fast - exact|`` on the check grid of ``[-tmax, tmax]``
        (``CHECK_POINTS`` points per sign), with the engine in use.
    engine : str
        Engine that evaluated the certificate.
    """

    activation: str
    layers: str
    tmax: float
    even: tuple[float, ...]
    odd: tuple[float, ...]
    value_at_one: float
    max_error: float
    engine: str

    @property
    def relative_error(self) -> float:
        """``max_error / |kernel_function(1)|`` (certified <= ``KERNEL_RTOL / FIT_MARGIN``)."""
        return self.max_error / abs(self.value_at_one)

    @property
    def steps(self) -> int:
        """Horner steps per entry (cost unit of the interval choice)."""
        return len(self.even) + len(self.odd)


def _chebyshev_in_s(values: Callable[[np.ndarray], np.ndarray], smax: float, degree: int) -> tuple[float, ...]:
    """Interpolant of ``values(s)`` at Chebyshev points of ``[0, smax]``, as monomial coefficients in ``s``."""
    series = Chebyshev.interpolate(values, degree, domain=[0.0, smax])
    coef = series.convert(kind=Polynomial).coef  # default domain = window: coefficients in s itself
    return tuple(float(c) for c in coef)


def _horner_s(coef: tuple[float, ...], s: np.ndarray) -> np.ndarray:
    return _horner_numpy(coef, s, np.empty_like(s))


def _fit_part(part: Callable[[np.ndarray], np.ndarray], s_grid, target, weight, smax, goal) -> tuple[float, ...] | None:
    """Lowest degree <= MAX_DEGREE whose interpolant is within ``goal`` of ``target`` (times ``weight``)."""
    if float(np.max(np.abs(target))) <= 1e-3 * goal:
        return (0.0,)  # vanishes by symmetry (odd or even kernel function)
    for degree in range(1, MAX_DEGREE + 1):
        coef = _chebyshev_in_s(part, smax, degree)
        if float(np.max(np.abs(weight * _horner_s(coef, s_grid) - target))) <= goal:
            return coef
    return None


def _pad(coef: tuple[float, ...]) -> tuple[float, ...]:
    """Pad with zero top coefficients to a multiple of ``TUPLE_QUANTUM`` (fewer compiled variants)."""
    if len(coef) == 1:
        return coef
    return coef + (0.0,) * (-len(coef) % TUPLE_QUANTUM)


def _build_plan(act: Activation, layers: str, tmax: float) -> KernelPlan | None:
    smax = tmax * tmax
    one = _value_at_one(act, layers)
    tol = KERNEL_RTOL * abs(one)

    def exact_pm(s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        r = np.sqrt(np.maximum(s, 0.0))
        return act.kernel_function(r, layers), act.kernel_function(-r, layers)

    def even(s: np.ndarray) -> np.ndarray:
        hp, hm = exact_pm(s)
        return 0.5 * (hp + hm)

    def odd(s: np.ndarray) -> np.ndarray:  # Chebyshev points of the first kind: s > 0
        hp, hm = exact_pm(s)
        return 0.5 * (hp - hm) / np.sqrt(s)

    t_grid = np.linspace(0.0, tmax, CHECK_POINTS)
    s_grid = t_grid * t_grid
    hp, hm = act.kernel_function(t_grid, layers), act.kernel_function(-t_grid, layers)
    goal = tol / (2.0 * FIT_MARGIN)
    e_coef = _fit_part(even, s_grid, 0.5 * (hp + hm), 1.0, smax, goal)
    o_coef = _fit_part(odd, s_grid, 0.5 * (hp - hm), t_grid, smax, goal)
    if e_coef is None or o_coef is None:
        return None
    e_coef, o_coef = _pad(e_coef), _pad(o_coef)
    plan = KernelPlan(act.name, layers, float(tmax), e_coef, o_coef, one, math.inf, ENGINE)
    # certificate: the engine itself on the signed grid against the exact function
    grid = np.concatenate([-t_grid[::-1], t_grid])
    exact = np.concatenate([hm[::-1], hp])
    values = grid.reshape(1, -1).copy()
    _polynomial(values, 0, 1, values.shape[1], 1.0, plan)
    error = float(np.max(np.abs(values[0] - exact)))
    if not error <= tol / FIT_MARGIN:
        return None
    return KernelPlan(act.name, layers, float(tmax), e_coef, o_coef, one, error, ENGINE)


@functools.lru_cache(maxsize=64)
def _value_at_one(act: Activation, layers: str) -> float:
    """``kernel_function(1)`` (``H(1) = E[sigma'(G)^2]``), from the exact evaluator."""
    return float(act.kernel_function(np.array([1.0]), layers)[0])


@functools.lru_cache(maxsize=64)
def _plans_cached(act: Activation, layers: str, engine: str) -> tuple[KernelPlan, ...]:
    plans = (_build_plan(act, layers, tmax) for tmax in INTERVALS)
    return tuple(p for p in plans if p is not None)


def kernel_plans(activation: Any, layers: str = "first") -> tuple[KernelPlan, ...]:
    """The certified polynomial plans of an activation, one per offered interval.

    Parameters
    ----------
    activation : str or Activation
    layers : {"first", "second", "both"}

    Returns
    -------
    tuple of KernelPlan
        Increasing ``tmax`` (a subset of :data:`INTERVALS`: intervals whose fit
        fails the certificate within ``MAX_DEGREE`` are left out). Built once
        per activation object, layer choice and engine (cost: a few hundred
        kernel-function evaluations per degree tried plus ``2 * CHECK_POINTS``
        for each certificate; ~0.1 s for ReLU, more for series activations).

    Examples
    --------
    >>> plans = kernel_plans("relu")
    >>> all(p.relative_error <= KERNEL_RTOL for p in plans)
    True
    """
    act = get_activation(activation)
    check_choice("layers", layers, LAYERS)
    return _plans_cached(act, layers, ENGINE)


def _choose_plan(plans: tuple[KernelPlan, ...], sample: np.ndarray) -> KernelPlan | None:
    """Plan minimizing ``steps + EXACT_COST * (fraction of the sample beyond tmax)``; None = all exact."""
    best, best_cost = None, EXACT_COST
    a = np.sort(np.abs(sample))
    for plan in plans:
        beyond = (a.size - np.searchsorted(a, plan.tmax, side="right")) / max(a.size, 1)
        cost = plan.steps + EXACT_COST * beyond
        if cost < best_cost:
            best, best_cost = plan, cost
    return best


# --------------------------------------------------------------------------
# public evaluation
# --------------------------------------------------------------------------
def kernel_tile(
    A: np.ndarray,
    activation: Any,
    layers: str = "first",
    *,
    scale: float = 1.0,
    n_rows: int | None = None,
    n_cols: int | None = None,
    row_offset: int = 0,
    x_rows: np.ndarray | None = None,
    y_rows: np.ndarray | None = None,
    diagonal_offset: int | None = None,
) -> KernelPlan | None:
    """Apply the kernel function in place to the correlations ``scale * A[:n_rows, :n_cols]``.

    ``A[r, c] <- kernel_function(clip(scale * A[r, c], -1, 1))`` for
    ``r < n_rows``, ``c < n_cols``: the certified polynomial of the interval the
    tile needs (chosen from a strided sample of ``|t|``) where ``|t| <= tmax``,
    the exact function elsewhere. This is the elementwise half of a kernel
    tile; the Gram half (``A = X_i Y^T``, ``scale = 1/d``) is the caller's GEMM.

    Parameters
    ----------
    A : ndarray of float64, 2-D, C-contiguous rows
        Gram values; overwritten. May be a larger buffer than the tile.
    activation : str or Activation
    layers : {"first", "second", "both"}
    scale : float
        ``t = scale * A`` (``1/d`` for ``A = X Y^T``).
    n_rows, n_cols : int, optional
        Tile extent inside ``A`` (default: all of ``A``).
    row_offset : int
        Row ``r`` of the tile is row ``row_offset + r`` of ``x_rows``.
    x_rows, y_rows : ndarray of float64, shape (*, d), optional
        The points (on the sphere of radius ``sqrt(d)``) whose correlations are
        the tile: ``t[r, c] = <x_rows[row_offset + r], y_rows[c]>/d``. When given,
        entries beyond the polynomial use the gaps ``|x - y|^2/(2d) = 1 - t``
        and ``|x + y|^2/(2d) = 1 + t`` in the exact evaluator of
        :attr:`ClosedForm.from_gaps <ntphase.activations.ClosedForm>` (ReLU): exact diagonal, accurate near-duplicates.
    diagonal_offset : int, optional
        Symmetric kernels: ``x_rows[row_offset + r]`` is ``y_rows[r + diagonal_offset]``,
        so those entries get ``t = 1`` exactly (``kernel_function(1)``).

    Returns
    -------
    KernelPlan or None
        The plan used (None: every entry exact).

    Notes
    -----
    Cost per entry: one fused pass of ``plan.steps`` multiply-adds (~1-2 ns with
    numba), plus ~50-200 ns for each entry beyond ``tmax`` (``O(d)`` for its
    gaps). No validation: callers pass float64 arrays with ``|t| <= 1 + 1e-6``.
    """
    act = get_activation(activation)
    n_rows = A.shape[0] if n_rows is None else n_rows
    n_cols = A.shape[1] if n_cols is None else n_cols
    if n_rows == 0 or n_cols == 0:
        return None
    diagonal = None
    if diagonal_offset is not None:
        # t = 1 exactly there: set after the pass (0 meanwhile, so rows are not flagged)
        diagonal = np.arange(max(0, -diagonal_offset), min(n_rows, n_cols - diagonal_offset))
        A[diagonal, diagonal + diagonal_offset] = 0.0
    view = A[:n_rows, :n_cols]
    step = max(1, (n_rows * n_cols) // SAMPLE_SIZE)
    flat_index = np.arange(0, n_rows * n_cols, step)[:SAMPLE_SIZE]
    sample = view[flat_index // n_cols, flat_index % n_cols] * scale
    plan = _choose_plan(kernel_plans(act, layers), sample)
    if plan is None:  # every entry exact (a tile of near-duplicates)
        rr, cc = np.divmod(np.arange(n_rows * n_cols), n_cols)
        tt = view[rr, cc] * scale
    else:
        rr, cc, tt = _polynomial(A, 0, n_rows, n_cols, scale, plan)
    if rr.size:
        gaps = None
        if x_rows is not None and y_rows is not None and act.closed_form is not None and act.closed_form.from_gaps is not None:
            gaps = _point_gaps(x_rows[row_offset + rr], y_rows[cc])
        A[rr, cc] = _exact(act, layers, tt, gaps)
    if diagonal is not None and diagonal.size:
        A[diagonal, diagonal + diagonal_offset] = _value_at_one(act, layers)
    return plan


def fast_kernel_function(t: Any, activation: Any, layers: str = "first") -> np.ndarray:
    """The kernel function on an array of correlations, through the certified fast path.

    Same values as ``get_activation(activation).kernel_function(t, layers)`` to
    ``KERNEL_RTOL * |kernel_function(1)|`` (``|t| <= tmax`` of the chosen plan;
    exact beyond it).

    Parameters
    ----------
    t : array_like of float
        Correlations in ``[-1, 1]`` (values within ``CORRELATION_SLACK = 1e-6`` outside are clipped,
        like :meth:`~ntphase.activations.Activation.kernel_function`).
    activation : str or Activation
    layers : {"first", "second", "both"}

    Returns
    -------
    ndarray of float64, same shape as ``t`` (a new array).

    Examples
    --------
    >>> import numpy as np
    >>> t = np.linspace(-1, 1, 5)
    >>> exact = get_activation("relu").kernel_function(t)
    >>> bool(np.max(np.abs(fast_kernel_function(t, "relu") - exact)) <= 1e-12 * 0.5)
    True
    """
    act = get_activation(activation)
    check_choice("layers", layers, LAYERS)
    values = np.array(t, dtype=np.float64)
    if not np.all(np.isfinite(values)):
        raise ValueError("t must contain only finite values (found NaN or inf)")
    if values.size and float(np.max(np.abs(values))) > 1.0 + CORRELATION_SLACK:
        raise ValueError(f"t must be a correlation in [-1, 1]; got max |t| = {np.max(np.abs(values)):.6g}")
    shape = values.shape
    flat = np.ascontiguousarray(values.reshape(1, -1))
    kernel_tile(flat, act, layers)
    return flat.reshape(shape)
