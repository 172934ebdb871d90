"""Spherical harmonics: multiplicities, Gegenbauer polynomials, kernel eigenvalues.

docs/theory.md, section 3 (Montanari & Zhong 2022, section 2 and appendix). An inner
product kernel ``kappa(<x, x'>/d)`` on the sphere of radius ``sqrt(d)`` in
``R^d`` has eigenvalue ``xi_{d,k} = E_u[kappa(u) P_k(u)]`` on the degree-``k``
harmonics (dimension ``B(d,k)``), ``u`` with density proportional to
``(1 - u^2)^((d-3)/2)`` on ``[-1, 1]`` and ``P_k`` the Gegenbauer polynomial
normalized to ``P_k(1) = 1``. ``sum_k B(d,k) xi_{d,k} = kappa(1)``.

Two independent ways to compute the weights ``B(d,k) xi_{d,k}`` are used; per
degree, the one with the smaller error estimate is kept (``SphereSpectrum.method``
says which: ``"series"``, ``"quadrature"`` or ``"mixed"``; ``.error`` gives the
estimates):

1. **Power series (exact structure).** With ``kappa(u) = sum_m a_m u^m``
   (``a_m >= 0``, :meth:`Activation.power_series`) and ``u^m = sum_k
   alpha_{m,k} P_k(u)``, ``B(d,k) xi_{d,k} = sum_m a_m alpha_{m,k}``. The
   ``alpha_{m,k} >= 0`` follow from ``u P_k = p_k P_{k+1} + q_k P_{k-1}``,
   ``p_k = (k+d-2)/(2k+d-2)``, ``q_k = k/(2k+d-2)`` (``p_k + q_k = 1``): a random
   walk on degrees, so ``sum_k alpha_{m,k} = 1``. Sums of non-negative terms:
   full relative accuracy at any ``d`` (no cancellation, also for ``d = 1000``
   and high ``k``). Truncation after ``M`` terms (up to 4096) costs about
   ``(kappa(1) - sum_{m<=M} a_m) * alpha_{M,k}``: negligible for smooth
   activations at every ``d`` and for ReLU once ``d`` exceeds ~15 (the walk
   leaves low degrees fast), but ReLU's ``a_m ~ m^{-3/2}`` leave ~1e-6 at
   ``d = 10``, ``k = 100``.
2. **Quadrature in the angle.** ``u = cos(theta)``, density proportional to
   ``sin(theta)^(d-2)`` on ``[0, pi]``, composite Gauss-Legendre graded
   geometrically toward ``theta = 0, pi`` and mirrored exactly (``u -> -u``), so
   parity zeros (ReLU odd ``k >= 3``) cancel to rounding. In ``theta`` the ReLU
   kernels are analytic (``arccos(cos theta) = theta``), so this converges
   exponentially at small ``d`` (``d = 2, 3``), where the power series of ReLU
   converges only algebraically. Rounding error in ``B xi`` about
   ``eps * sqrt(B(d,k)) * max|kappa|`` (cancellation): tiny at small ``d``,
   useless at large ``d`` and ``k`` (where the series is exact).

A spectrum whose estimated error exceeds ``1e-8 * kappa(1)`` in some degree
warns (``RuntimeWarning``).
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from numpy.polynomial.legendre import leggauss

from ntphase._util.validation import check_choice, check_int
from ntphase.activations import Activation, get_activation
from ntphase.conventions import LAYERS, XI_ZERO_RTOL

__all__ = [
    "multiplicity",
    "multiplicities",
    "gegenbauer",
    "SphereSpectrum",
    "sphere_spectrum",
    "gamma_above",
    "level",
    "SERIES_TOL",
]

#: Largest relative truncation error accepted from the power-series method.
SERIES_TOL = 1e-15
#: Largest number of power-series terms tried before falling back to quadrature.
_MAX_TERMS = 4096
#: Largest kmax explored by :func:`level` (d = 2 has B(2,k) = 2 for every k).
_LEVEL_KMAX = 4096
#: Largest degree ``kmax`` a spectrum may be asked for: the cost grows as ``kmax^2``
#: (about 2.5 s at 4096 on one core), and weights of higher degrees are far below
#: float64 resolution of ``H(1)`` for every activation here.
MAX_DEGREE = 4096
#: Measured seconds of ``sphere_spectrum`` at ``kmax = MAX_DEGREE`` (one core; relu, d = 20).
_SECONDS_AT_MAX_DEGREE = 2.5
_GL_POINTS = 24
#: Angular-quadrature rounding error estimate, in units of eps sqrt(B(d,k)) max|kappa|
#: (measured against the series method: the actual error is 3-10 times smaller).
_QUAD_ERROR_FACTOR = 10.0
#: A spectrum whose estimated error exceeds this (relative to kappa(1)) warns.
_WARN_ERROR = 1e-8


def _check_d(d) -> int:
    return check_int("d", d, minimum=2)


def multiplicity(d: int, k: int) -> int:
    """Dimension ``B(d,k)`` of the degree-``k`` spherical harmonics on ``S^{d-1}``.

    ``B(d,0) = 1``, ``B(d,k) = (2k+d-2)/k * C(k+d-3, k-1)`` (so ``B(d,1) = d``,
    ``B(d,2) = (d+2)(d-1)/2``, ``B(2,k) = 2``). Exact Python integer.

    Examples
    --------
    >>> multiplicity(20, 2)
    209
    """
    d = _check_d(d)
    k = check_int("k", k, minimum=0)
    if k == 0:
        return 1
    # k * B(d,k) = (2k+d-2) C(k+d-3, k-1) exactly, so the division is exact.
    return (2 * k + d - 2) * math.comb(k + d - 3, k - 1) // k


def multiplicities(d: int, kmax: int) -> np.ndarray:
    """``B(d,k)`` for ``k = 0..kmax`` as float64 (``inf`` beyond ~1e308)."""
    d = _check_d(d)
    kmax = check_int("kmax", kmax, minimum=0)
    out = np.empty(kmax + 1)
    for k in range(kmax + 1):
        b = multiplicity(d, k)
        out[k] = float(b) if b.bit_length() < 1024 else math.inf
    return out


def _gegenbauer_rows(kmax: int, d: int, t: np.ndarray) -> Iterator[np.ndarray]:
    """Yield ``P_0(t) .. P_kmax(t)`` (new arrays, ``O(size(t))`` memory) by the recurrence of :func:`gegenbauer`."""
    prev, cur = None, np.ones_like(t)
    for k in range(kmax + 1):
        yield cur
        if k == 0:
            prev, cur = cur, t.copy()
        elif k < kmax:
            prev, cur = cur, ((2 * k + d - 2) * t * cur - k * prev) / (k + d - 2)


def _gegenbauer_table(kmax: int, d: int, t: np.ndarray) -> np.ndarray:
    """Rows ``P_0(t) .. P_kmax(t)`` by the normalized three-term recurrence."""
    out = np.empty((kmax + 1,) + t.shape)
    for k, row in enumerate(_gegenbauer_rows(kmax, d, np.asarray(t, dtype=np.float64))):
        out[k] = row
    return out


def gegenbauer(k: int, d: int, t) -> np.ndarray:
    """Gegenbauer polynomial of degree ``k`` for ``S^{d-1}``, normalized ``P_k(1) = 1``.

    ``P_k(t) = C_k^{((d-2)/2)}(t) / C_k^{((d-2)/2)}(1)`` (``d = 2``: Chebyshev ``T_k``;
    ``d = 3``: Legendre), by the recurrence
    ``P_{k+1} = ((2k+d-2) t P_k - k P_{k-1}) / (k+d-2)``, stable on ``[-1, 1]``
    for any ``d`` (all ``|P_k| <= 1`` there). Orthogonality:
    ``E_u[P_j(u) P_k(u)] = delta_{jk} / B(d,k)``.

    Parameters
    ----------
    k : int >= 0
    d : int >= 2
    t : array_like
        Any shape (float64).

    Returns
    -------
    ndarray, float64, shape of ``t``. Cost ``O(k size(t))``.

    Examples
    --------
    >>> float(gegenbauer(2, 3, 0.5))  # Legendre (3 t^2 - 1)/2
    -0.125
    """
    k = check_int("k", k, minimum=0)
    d = _check_d(d)
    t = np.asarray(t, dtype=np.float64)
    if not np.all(np.isfinite(t)):
        raise ValueError("t must contain only finite values (found NaN or inf)")
    for row in _gegenbauer_rows(k, d, t):  # noqa: B007 - the last row is P_k
        pass
    return row


# --------------------------------------------------------------------------
# method 1: power series + random walk on degrees
# --------------------------------------------------------------------------
def _walk_weights(a: np.ndarray, d: int, kmax: int) -> tuple[np.ndarray, np.ndarray]:
    """``sum_m a_m alpha_{m,k}`` for ``k <= kmax``, and the rows ``alpha_{m,k}``, ``m = M-3..M``."""
    M = a.size - 1
    size = max(M, kmax + 1) + 2
    k = np.arange(size, dtype=np.float64)
    p = (k + d - 2) / (2 * k + d - 2) if d > 2 else np.full(size, 0.5)
    q = k / (2 * k + d - 2) if d > 2 else np.full(size, 0.5)
    p[0], q[0] = 1.0, 0.0
    alpha = np.zeros(size)
    alpha[0] = 1.0
    acc = np.zeros(kmax + 1)
    acc[0] = a[0]
    rows = [np.zeros(kmax + 1)] * 3 + [alpha[: kmax + 1].copy()]
    for m in range(1, M + 1):
        new = np.zeros(size)
        top = min(m, size - 1)
        new[1 : top + 1] = alpha[:top] * p[:top]
        new[:top] += alpha[1 : top + 1] * q[1 : top + 1]
        alpha = new
        if a[m] != 0.0:
            acc += a[m] * alpha[: kmax + 1]
        if m > M - 4:
            rows = rows[1:] + [alpha[: kmax + 1].copy()]
    return acc, np.array(rows)


def _series_weights(act: Activation, d: int, kmax: int, layers: str, kappa1: float):
    """Power-series weights and a per-degree bound on their truncation error.

    The neglected ``sum_{m>M} a_m alpha_{m,k}`` is at most the neglected mass
    ``kappa(1) - sum_{m<=M} a_m`` times ``sup_{m>M} alpha_{m,k}``. For fixed ``k``
    the walk's occupation ``alpha_{m,k}`` rises and then decays in ``m``; once it
    decays at ``M`` (``alpha_{M,k} <= alpha_{M-2,k}``, each parity) the sup is taken
    as ``alpha_{M,k}``; before that only the trivial bound ``alpha <= 1`` is used
    (e.g. ``d = 2``, where the walk is diffusive and needs ``M >> k^2``).
    """
    M = max(512, 2 * kmax)
    while True:
        a = act.power_series(M, layers)
        tail = max(kappa1 - float(np.sum(a)), 0.0)
        acc, rows = _walk_weights(a, d, kmax)
        # rows: alpha at M-3, M-2, M-1, M; per degree the two parities
        latest = np.maximum(rows[3], rows[2])
        earlier = np.maximum(rows[1], rows[0])
        sup = np.where(latest <= earlier, latest, 1.0)
        error = tail * sup
        # floor: rounding in the sum of non-negative terms
        error = np.maximum(error, 4 * np.finfo(float).eps * np.abs(acc))
        done = np.all(error <= SERIES_TOL * abs(kappa1))
        # Quadrature-based coefficients beyond a few hundred terms are costly and
        # needed only for slowly converging user activations: no doubling for those.
        if done or act.closed_form is None or 2 * M > _MAX_TERMS:
            return acc, error, _parity_zeros(a, kmax)
        M *= 2


def _parity_zeros(a: np.ndarray, kmax: int) -> np.ndarray:
    """Degrees ``k`` whose weight vanishes by parity: ``a_m = 0`` for every ``m >= k``, ``m = k mod 2``.

    ``u^m`` has components only in degrees ``k <= m`` with ``k = m mod 2``, so such
    degrees get nothing (ReLU: odd ``k >= 3``; tanh: even ``k``). The coefficients
    are exact zeros for closed forms and for exactly even/odd activations.
    """
    zero = np.zeros(kmax + 1, dtype=bool)
    for parity in (0, 1):
        nz = np.flatnonzero(a[parity::2])
        first_free = (2 * nz[-1] + parity + 2) if nz.size else parity  # beyond the last nonzero
        if first_free <= kmax:
            zero[first_free::2] = True
    return zero


# --------------------------------------------------------------------------
# method 2: quadrature in theta
# --------------------------------------------------------------------------
@functools.lru_cache(maxsize=64)
def _theta_rule(d: int, kmax: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes ``u = cos(theta)`` in [0, 1] and weights of the half rule (sum of both halves = 1)."""
    half = math.pi / 2
    # geometric grading toward theta = 0, uniform panels of width <= w elsewhere
    width = min(half / 8, 2.0 / math.sqrt(d), math.pi / (kmax + 1))
    graded = half * 2.0 ** -np.arange(1, 40)
    uniform = np.linspace(0.0, half, int(math.ceil(half / width)) + 1)
    edges = np.unique(np.concatenate([[0.0], graded, uniform]))
    x, w = leggauss(_GL_POINTS)
    lo, hi = edges[:-1], edges[1:]
    theta = ((hi - lo) / 2)[:, None] * x + ((hi + lo) / 2)[:, None]
    wt = ((hi - lo) / 2)[:, None] * w
    theta, wt = theta.ravel(), wt.ravel()
    with np.errstate(divide="ignore"):
        logw = np.log(wt) + (d - 2) * np.log(np.sin(theta))
    logw -= logw.max()
    weights = np.exp(logw)
    weights /= 2.0 * weights.sum()
    u = np.cos(theta)
    keep = weights > 0
    u, weights = u[keep], weights[keep]
    u.setflags(write=False)
    weights.setflags(write=False)
    return u, weights


def _quadrature_weights(act: Activation, d: int, kmax: int, layers: str) -> tuple[np.ndarray, np.ndarray]:
    """Angular-quadrature weights and an estimate of their rounding error.

    The sum ``B(d,k) sum_i w_i kappa(u_i) P_k(u_i)`` cancels: its error is about
    ``eps * B(d,k) * sqrt(E[kappa^2 P_k^2])``, i.e. ``~ eps * sqrt(B(d,k)) * max|kappa|``.
    """
    u, w = _theta_rule(d, kmax)
    kp = np.asarray(act.kernel_function(u, layers))
    km = np.asarray(act.kernel_function(-u, layers))
    # P_k(-u) = (-1)^k P_k(u) exactly; the recurrence runs in place (O(nodes) memory).
    even, odd = w * (kp + km), w * (kp - km)
    xi = np.empty(kmax + 1)
    for k, P in enumerate(_gegenbauer_rows(kmax, d, u)):
        xi[k] = (odd if k % 2 else even) @ P
    B = multiplicities(d, kmax)
    scale = max(float(np.max(np.abs(kp))), float(np.max(np.abs(km))))
    error = _QUAD_ERROR_FACTOR * np.finfo(float).eps * np.sqrt(B) * scale
    return B * xi, error


# --------------------------------------------------------------------------
# spectrum
# --------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class SphereSpectrum:
    """Eigen-decomposition of an inner-product kernel on the sphere of radius ``sqrt(d)``.

    Attributes
    ----------
    activation : str
        Activation name.
    d : int
    layers : str
        ``"first" | "second" | "both"``.
    degrees : ndarray (kmax+1,)
        ``0..kmax``.
    multiplicity : ndarray float64
        ``B(d,k)``.
    xi : ndarray float64
        Eigenvalues ``xi_{d,k}`` (each repeated ``B(d,k)`` times in the operator).
    H1 : float
        Kernel function at ``t = 1`` (``= sum_k B(d,k) xi_{d,k}``).
    method : str
        ``"series"``, ``"quadrature"`` or ``"mixed"`` (per degree; module docstring).
    error : ndarray float64 or None
        Estimated absolute error of ``B(d,k) xi_{d,k}`` per degree.

    Arrays are read-only (spectra are cached and shared).
    """

    activation: str
    d: int
    layers: str
    degrees: np.ndarray
    multiplicity: np.ndarray
    xi: np.ndarray
    H1: float
    method: str = "series"
    error: np.ndarray | None = None

    @property
    def kmax(self) -> int:
        return int(self.degrees[-1])

    def weights(self) -> np.ndarray:
        """``B(d,k) xi_{d,k}`` for ``k <= kmax`` (a new array)."""
        with np.errstate(invalid="ignore", over="ignore"):
            out = self.multiplicity * self.xi
        return np.where(np.isfinite(out), out, 0.0)

    def positive(self) -> np.ndarray:
        """Boolean mask of degrees with ``xi_{d,k} > 0`` (weight above ``XI_ZERO_RTOL * H1``)."""
        return self.weights() > XI_ZERO_RTOL * abs(self.H1)

    def gamma_above(self, l: int) -> float:  # noqa: E741 - the paper's symbol
        """``gamma_{>l} = H(1) - sum_{k<=l} B(d,k) xi_{d,k}`` (never a tail sum); ``l <= kmax``."""
        l = check_int("l", l, minimum=0, maximum=self.kmax)  # noqa: E741
        return float(self.H1 - np.sum(self.weights()[: l + 1]))

    def level(self, n: int) -> int:
        """Largest ``k`` with ``xi_{d,k} > 0`` and ``sum_{j<=k, xi_j>0} B(d,j) <= n`` (0 if none).

        Raises ``ValueError`` if ``kmax`` is too small to decide.
        """
        n = check_int("n", n, minimum=1)
        result = _level_from(self, n)
        if result is None:
            raise ValueError(
                f"kmax = {self.kmax} is too small to find the level for n = {n} at d = {self.d}; "
                "compute the spectrum with a larger kmax"
            )
        return result


def _level_from(spec: SphereSpectrum, n: int) -> int | None:
    pos = spec.positive()
    total = 0
    best = 0
    for k in range(spec.kmax + 1):
        if not pos[k]:
            continue
        total += multiplicity(spec.d, k)
        if total > n:
            return best
        best = k
    return None


@functools.lru_cache(maxsize=256)
def _spectrum_cached(act: Activation, d: int, kmax: int, layers: str) -> SphereSpectrum:
    kappa1 = float(np.asarray(act.kernel_function(np.array(1.0), layers)))
    weights, error, zeros = _series_weights(act, d, kmax, layers, kappa1)
    method = "series"
    if np.any(error > SERIES_TOL * abs(kappa1)):
        # Per degree, keep whichever method has the smaller error estimate.
        qweights, qerror = _quadrature_weights(act, d, kmax, layers)
        use_q = qerror < error
        if use_q.any():
            weights = np.where(use_q, qweights, weights)
            error = np.where(use_q, qerror, error)
            method = "quadrature" if use_q.all() else "mixed"
    # structural zeros are exact whatever the method
    weights = np.where(zeros, 0.0, weights)
    error = np.where(zeros, 0.0, error)
    worst = float(np.max(error))
    if worst > _WARN_ERROR * abs(kappa1):
        warnings.warn(
            f"sphere_spectrum({act.name!r}, d={d}, kmax={kmax}): estimated absolute error of "
            f"B(d,k) xi_(d,k) up to {worst:.1e} (degree {int(np.argmax(error))}); "
            "use a smaller kmax",
            RuntimeWarning,
            stacklevel=3,
        )
    B = multiplicities(d, kmax)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        xi = np.where(np.isfinite(B), weights / B, 0.0)
    degrees = np.arange(kmax + 1)
    for arr in (degrees, B, xi):
        arr.setflags(write=False)
    error = np.asarray(error, dtype=np.float64)
    error.setflags(write=False)
    return SphereSpectrum(act.name, d, layers, degrees, B, xi, kappa1, method, error)


def sphere_spectrum(activation, d: int, kmax: int, layers: str = "first") -> SphereSpectrum:
    """Multiplicities and eigenvalues ``xi_{d,k}``, ``k <= kmax``, of the kernel on the sphere.

    ``xi_{d,k} = E_u[kappa(u) P_k(u)]`` with ``kappa = activation.kernel_function(., layers)``
    (docs/theory.md, section 3). Computed by the power series / random-walk method when
    its truncation error is below ``SERIES_TOL`` relative, else by angular
    quadrature (module docstring). Cached per ``(activation, d, kmax, layers)``;
    arrays are read-only.

    Parameters
    ----------
    activation : str or Activation
    d : int >= 2
    kmax : int >= 0
    layers : {"first", "second", "both"}

    Returns
    -------
    SphereSpectrum

    Examples
    --------
    >>> s = sphere_spectrum("relu", 50, 4)
    >>> bool(abs(s.weights()[1] - 0.25) < 0.01)  # B(d,1) xi_{d,1} -> a_1 = mu_0^2 = 1/4
    True
    """
    act = get_activation(activation)
    d = _check_d(d)
    kmax = check_degree("kmax", kmax)
    check_choice("layers", layers, LAYERS)
    return _spectrum_cached(act, d, kmax, layers)


def check_degree(name: str, kmax: int) -> int:
    """``kmax`` as an int in ``[0, MAX_DEGREE]``, else an error with the time it would take.

    Used by every entry point that computes a spectrum up to a degree
    (``sphere_spectrum``, ``gamma_above``, ``truncated_kernel``,
    ``PolynomialRidge(level=...)``, ``ntphase theory --lmax``).
    """
    kmax = check_int(name, kmax, minimum=0)
    if kmax > MAX_DEGREE:
        seconds = _SECONDS_AT_MAX_DEGREE * (kmax / MAX_DEGREE) ** 2
        raise ValueError(
            f"{name} = {kmax} exceeds MAX_DEGREE = {MAX_DEGREE}: the spectrum would take about "
            f"{seconds / 60:.3g} minutes (cost grows as {name}^2) for weights far below float64 "
            f"resolution; use {name} <= {MAX_DEGREE} (the level l(n, d) of any feasible n is far smaller)"
        )
    return kmax


def gamma_above(activation, d: int, l: int, layers: str = "first") -> float:  # noqa: E741
    """Finite-``d`` self-induced ridge ``gamma_{>l} = H(1) - sum_{k<=l} B(d,k) xi_{d,k}``.

    Computed as ``kappa(1)`` minus the head, never as a tail sum (ReLU's tail
    converges like ``1/k``). ``d -> infinity`` limit: ``sum_{k>l} a_k = Activation.gamma(l)``.
    """
    l = check_degree("l", l)  # noqa: E741
    return sphere_spectrum(activation, d, l, layers).gamma_above(l)


def level(n: int, d: int, activation, layers: str = "first") -> int:
    """The level ``l(n, d)``: the degrees that ``n`` samples can fill.

    Operational definition (docs/theory.md, section 3): the largest degree ``k`` with
    ``xi_{d,k} > 0`` such that ``sum_{j<=k, xi_{d,j} > 0} B(d,j) <= n``; 0 if none.
    Degrees with ``xi_{d,k} = 0`` (weight below ``XI_ZERO_RTOL * H(1)``) do not count.

    Examples
    --------
    >>> level(200, 20, "relu")  # B(20,0) + B(20,1) = 21 <= 200 < 21 + B(20,2) = 230
    1
    >>> level(300, 20, "relu")
    2
    """
    n = check_int("n", n, minimum=1)
    d = _check_d(d)
    act = get_activation(activation)
    check_choice("layers", layers, LAYERS)
    kmax = 2
    while sum(multiplicity(d, k) for k in range(kmax + 1)) <= n:
        kmax += 1
    kmax += 2  # the next degree may have xi = 0
    while True:
        result = _level_from(sphere_spectrum(act, d, kmax, layers), n)
        if result is not None:
            return result
        if kmax >= _LEVEL_KMAX:
            raise ValueError(
                f"n = {n} is too large for d = {d}: the level exceeds {_LEVEL_KMAX} degrees"
            )
        kmax = min(2 * kmax, _LEVEL_KMAX)
