"""Spectral laws of ``K`` and ``K_N`` from ``(activation, d, n, N)`` alone (docs/theory.md, sections 3, 4, 9).

Two deterministic-equivalent eigenvalue laws, computed before any data is drawn:

- :class:`KernelSpectralLaw`: the law of the infinite-width kernel matrix ``K`` in the
  Gaussian-equivalent model ``K = sum_{k<=kmax} xi_k G_k G_k^T + T I_n`` (``G_k`` an
  ``n x B_k`` matrix of i.i.d. N(0,1) entries, ``T = H(1) - sum_k B_k xi_k`` the tail),
  the model whose lower edge :func:`ntphase._equivalents.silverstein_edge` computes.
  Its Stieltjes transform ``m(z) = n^{-1} tr (K - z)^{-1}`` solves

      z = w(m) := -1/m + T + sum_k B_k xi_k / (1 + n xi_k m)                   (1)

  (Silverstein & Bai 1995; Bai & Silverstein, *Spectral Analysis of Large Dimensional
  Random Matrices*, 2010, ch. 4: the deterministic equivalent
  ``(A - z)^{-1} ~ (-z + sum_j d_j / (1 + d_j tr (A - z)^{-1}))^{-1} I`` of
  ``A = sum_j d_j g_j g_j^T`` with ``E g g^T = I_n``, shifted by ``T``).
- :class:`NTKernelSpectralLaw`: the law of the empirical NT kernel ``K_N``, modelled as
  ``K^{1/2} (Z Z^T / p) K^{1/2}`` with ``Z`` an ``n x p`` Gaussian matrix and
  ``p = N d`` features (``layers="first"``): the free multiplicative convolution of the
  law of ``K`` with Marchenko-Pastur of ratio ``c = n / p`` (Voiculescu 1987, the
  S-transform ``S_{mu boxtimes nu} = S_mu S_nu``; equivalently Silverstein 1995).
  Derivation: the ``p x p`` companion ``Z^T K Z / p`` is Silverstein's ``B = X^* T X / N``
  with ``X = Z`` (``n x p``), ``T = K``, ``N = p``; its Stieltjes transform ``m_p`` solves
  ``z = -1/m_p + c int t / (1 + t m_p) dmu_K(t)``. With ``w = -1/m_p`` and
  ``s = m_K(w)`` the integral is ``-w - w^2 s``, so

      z = Z(s) := w(s) (1 - c - c w(s) s),     m_{K_N}(z) = w(s) s / z,        (2)

  where ``w(s)`` is (1): the two equations compose into one rational equation in
  the single unknown ``s``. This is the subordination form of the multiplicative
  convolution (``m_{K_N}(z) = (w/z) m_K(w)``). For ``p > n``, ``K_N`` has no atom and
  its lower edge is the maximum of ``Z`` over ``w`` below the spectrum of ``K``; with
  ``u = 1/w`` this is ``max_u 1/u - c (1/u)(1 + m_K(1/u)/u)`` over ``u > 1/edge(K)``.
  For ``p < n``, ``K_N`` has an atom at 0 of mass ``1 - p/n`` (``rank <= p``).

**Support and atoms.** Outside the support, ``m`` is real and increasing, so the
complement of the support is the image of the real ``s`` where the map is increasing
(Silverstein & Choi 1995): for ``K``, ``w'(s) > 0`` off the poles ``s = 0, -1/(n xi_k)``;
for ``K_N``, ``Z'(s) > 0`` on the ``s`` where ``w'(s) > 0``. The edges are the values
at the critical points, found by sampling and ``brentq``. Atoms are explicit:
``K`` has one at ``T`` of mass ``1 - P/n`` when ``P = sum_k B_k <= n`` (present
degrees); ``K_N`` has one at 0 of mass ``1 - p/n`` when ``p < n``.

**Density and quantiles.** On each support interval ``[a, b]``, ``x = a + (b - a)(1 -
cos theta)/2``; the density ``Im m(x + i0)/pi`` is computed at ``QUAD_NODES + 1``
Chebyshev-Lobatto nodes (damped Newton on (1) or (2), continued from ``Im z`` large
down to ``Im z = 0`` with ``Im s > 0`` and ``Im w > 0`` enforced, which picks the
Stieltjes branch), expanded in a cosine series in ``theta`` and integrated exactly
(the square-root edges make the integrand smooth in ``theta``). The predicted
``i``-th smallest eigenvalue is the quantile at ``(i - 1/2)/n``.

All numbers are float64. Accuracy against explicit matrices and simulations:
``tests/test_spectral_law.py``.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
from scipy.fft import dct
from scipy.optimize import brentq

from ntphase._util.validation import check_choice, check_float, check_int
from ntphase.conventions import XI_ZERO_RTOL, nt_feature_count
from ntphase.sphere import multiplicity, sphere_spectrum
from ntphase.theory._degrees import default_kmax

__all__ = [
    "FILL_THRESHOLD", "QUAD_NODES", "KernelSpectralLaw", "NTKernelSpectralLaw", "SpectralLaw",
    "filling_degrees", "lambda_min_nt_edge",
]

#: Chebyshev-Lobatto nodes per support interval for the density (cosine series of
#: this length; the mass and mean are accurate to ~1e-10 for square-root edges).
QUAD_NODES = 512
#: Default fraction of ``n`` above which a degree "nearly fills" ``n`` (:func:`filling_degrees`).
FILL_THRESHOLD = 0.9
#: Samples per ``s``-interval when locating critical points (sign changes of ``w'`` / ``Z'``).
_GRID = 4000
#: A gap between two images narrower than this (relative to the mean) is a point, not an interval.
_GAP_RTOL = 1e-10
#: Newton: iterations per continuation step, relative step tolerance, continuation ratio of ``Im z``.
_NEWTON_MAXIT = 60
_NEWTON_RTOL = 1e-14
_ETA_RATIO = 0.25
_LAYERS = ("first", "second", "both")


# --------------------------------------------------------------------------- equations
class _Equation:
    """The rational maps ``w(s)`` of (1) and ``Z(s)`` of (2) on present degrees; ``c = 0`` for ``K``."""

    def __init__(self, n: float, B: np.ndarray, xi: np.ndarray, tail: float, c: float) -> None:
        keep = (xi > 0) & (B > 0)
        self.n, self.B, self.xi, self.T, self.c = float(n), B[keep], xi[keep], float(tail), float(c)
        self.P = float(np.sum(self.B))
        self.mean = self.T + float(np.sum(self.B * self.xi))
        self.poles = np.unique(-1.0 / (self.n * self.xi))  # ascending, all < 0

    def w(self, s):
        s = np.asarray(s)
        a = self.n * self.xi * s[..., None]
        return -1.0 / s + self.T + np.sum(self.B * self.xi / (1.0 + a), axis=-1)

    def dw(self, s):
        s = np.asarray(s)
        a = self.n * self.xi * s[..., None]
        return 1.0 / s**2 - np.sum(self.B * self.n * self.xi**2 / (1.0 + a) ** 2, axis=-1)

    def hw(self, s):
        """``s^2 w'(s) = 1 - n^{-1} sum_k B_k (a_k / (1 + a_k))^2``: the sign of ``w'``, bounded."""
        a = self.n * self.xi * np.asarray(s)[..., None]
        return 1.0 - np.sum(self.B * (a / (1.0 + a)) ** 2, axis=-1) / self.n

    def F(self, s):
        w = self.w(s)
        return w if self.c == 0.0 else w * (1.0 - self.c - self.c * w * s)

    def dF(self, s):
        w, dw = self.w(s), self.dw(s)
        return dw if self.c == 0.0 else dw * (1.0 - self.c - 2.0 * self.c * w * s) - self.c * w**2

    def hF(self, s):
        """``s^2 F'(s)``: the sign of ``F'``, bounded near ``s = 0``."""
        h = self.hw(s)
        if self.c == 0.0:
            return h
        ws = self.w(s) * s
        return h * (1.0 - self.c - 2.0 * self.c * ws) - self.c * ws**2

    def limit(self, tag: str, side: int) -> float:
        """Limit of ``F`` at a special end: ``tag`` in zero/pole/inf, ``side`` +1 (approached from the right)."""
        if tag == "zero":  # w ~ -1/s, Z ~ -1/s
            return -math.inf if side > 0 else math.inf
        if tag == "pole":  # only w has poles there: B/(n (s - s_k))
            return math.inf if side > 0 else -math.inf
        # s -> +inf (side < 0: approached from the left) or -inf
        if self.c == 0.0:
            return self.T
        return -math.inf if side < 0 else math.inf

    def m(self, s, z):
        """Stieltjes transform of the ``n x n`` law from the solution ``s``: ``s`` for ``K``, ``w s / z`` for ``K_N``."""
        return s if self.c == 0.0 else self.w(s) * s / z


def _samples(a: float, b: float, scale: float) -> np.ndarray:
    """Points of ``(a, b)`` dense near finite ends (relative ``1e-16``) and out to ``|s| ~ 1e14 / scale``."""
    far = 1e14 / scale
    if math.isinf(a) and math.isinf(b):
        raise AssertionError("no interval is the whole line")
    if math.isinf(b) or math.isinf(a):
        end = a if math.isinf(b) else b
        near = 1e-16 * abs(end) if end != 0.0 else 1e-16 / scale
        dist = np.geomspace(near, far, _GRID)
        return end + dist if math.isinf(b) else end - dist[::-1]
    v = np.linspace(-19.0, 19.0, _GRID)
    return a + (b - a) * 0.5 * (1.0 + np.tanh(v))


def _increasing_pieces(eq: _Equation, h, intervals: list[tuple]) -> list[tuple]:
    """Sub-intervals of each ``(a, b, tag_a, tag_b)`` where ``h > 0``; critical ends get tag ``"crit"``."""
    out = []
    scale = max(eq.mean, 1e-300)
    for a, b, ta, tb in intervals:
        s = _samples(a, b, scale)
        s = s[(s > a) & (s < b)]
        if s.size == 0:
            continue
        with np.errstate(divide="ignore", invalid="ignore"):
            hv = h(s)
        fin = np.isfinite(hv)
        s, hv = s[fin], hv[fin]
        pos = hv > 0
        change = np.nonzero(pos[1:] != pos[:-1])[0]
        roots = [brentq(h, s[i], s[i + 1], xtol=1e-300, rtol=4 * np.finfo(float).eps, maxiter=500) for i in change]
        ends = [(a, ta)] + [(r, "crit") for r in roots] + [(b, tb)]
        # sign on each sub-interval: that of the samples between its ends
        signs = [pos[0]] + [pos[i + 1] for i in change]
        for (lo, tlo), (hi, thi), up in zip(ends[:-1], ends[1:], signs):
            if up:
                out.append((lo, hi, tlo, thi))
    return out


def _image(eq: _Equation, piece: tuple) -> tuple[float, float]:
    lo, hi, tlo, thi = piece
    flo = float(eq.F(np.float64(lo))) if tlo == "crit" else eq.limit(tlo, +1)
    fhi = float(eq.F(np.float64(hi))) if thi == "crit" else eq.limit(thi, -1)
    return flo, fhi


def _support(eq: _Equation, pieces: list[tuple]) -> np.ndarray:
    """Closed support intervals ``(k, 2)``: the complement of the images of the increasing pieces."""
    images = sorted(_image(eq, p) for p in pieces)
    tol = _GAP_RTOL * max(eq.mean, 1e-300)
    out, cur = [], -math.inf
    for lo, hi in images:
        if lo > cur + tol and not math.isinf(cur):
            out.append((cur, lo))
        elif lo > cur and math.isinf(cur):
            raise AssertionError("the lowest increasing piece must start at -inf")
        cur = max(cur, hi)
    return np.array(out, dtype=np.float64).reshape(-1, 2)


# --------------------------------------------------------------------------- Newton
def _newton(eq: _Equation, z: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Damped Newton for ``F(s) = z`` keeping ``Im s > 0`` and ``Im w(s) > 0``; returns (s, converged)."""
    conv = np.zeros(z.shape, dtype=bool)
    f = eq.F(s) - z
    for _ in range(_NEWTON_MAXIT):
        act = ~conv
        if not act.any():
            break
        sa, fa, za = s[act], f[act], z[act]
        step = fa / eq.dF(sa)
        t = np.ones(sa.shape)
        new, fnew = sa, fa
        for _ in range(60):
            cand = sa - t * step
            wc = eq.w(cand)
            fc = eq.F(cand) - za
            ok = (cand.imag > 0) & ((wc.imag > 0) | (eq.c == 0.0)) & (np.abs(fc) <= np.abs(fa) * (1 - 1e-4 * t) + 1e-300)
            ok |= np.abs(fc) <= 1e-15 * np.abs(za)
            new = np.where(ok, cand, new)
            fnew = np.where(ok, fc, fnew)
            if ok.all():
                break
            t = np.where(ok, t, t / 2)
        moved = np.abs(new - sa)
        done = (moved <= _NEWTON_RTOL * np.abs(new)) | (np.abs(fnew) <= 1e-15 * np.maximum(np.abs(za), eq.mean))
        s[act], f[act] = new, fnew
        idx = np.nonzero(act)[0]
        conv[idx[done]] = True
    return s, conv


def _solve_upper(eq: _Equation, x: np.ndarray, eta_final: np.ndarray, eta0: float) -> tuple[np.ndarray, np.ndarray]:
    """Solution ``s`` at ``z = x + i eta_final`` by continuation from ``Im z = eta0`` (``s ~ -1/z`` there)."""
    x = np.asarray(x, dtype=np.float64)
    eta_final = np.broadcast_to(np.asarray(eta_final, dtype=np.float64), x.shape)
    eta = np.full(x.shape, eta0)
    s = -1.0 / (x + 1j * eta)
    conv = np.ones(x.shape, dtype=bool)
    floor = np.maximum(eta_final, 1e-15 * eq.mean)
    while True:
        eta = np.maximum(eta * _ETA_RATIO, floor)
        s, conv = _newton(eq, x + 1j * eta, s)
        if np.all(eta <= floor):
            break
    zero = eta_final == 0.0
    if zero.any():  # final step on the real axis (interior of the support): the exact boundary value
        s0 = s[zero].copy()
        s1, ok = _newton(eq, x[zero] + 0j, s0.copy())
        good = ok & (s1.imag > 0)
        s[zero] = np.where(good, s1, s0)
        conv[zero] = good | conv[zero]
    return s, conv


# --------------------------------------------------------------------------- laws
class SpectralLaw:
    """A deterministic-equivalent eigenvalue law: atoms plus a density on closed intervals.

    Built by :class:`KernelSpectralLaw` and :class:`NTKernelSpectralLaw` (use those).

    Attributes
    ----------
    n : int
        Matrix size (eigenvalue count for :meth:`predicted_eigenvalues`).
    intervals : ndarray (k, 2)
        Support of the density, ascending, disjoint.
    atoms : list of (location, mass)
    continuous_mass : float
        ``int density`` as computed (should equal ``1 - sum of atom masses``; measured in tests).
    """

    def __init__(self, eq: _Equation, n: int, atoms: list[tuple[float, float]], pieces: list[tuple]) -> None:
        self._eq = eq
        self.n = int(n)
        self.atoms = [(float(a), float(m)) for a, m in atoms if m > 0]
        self._pieces = pieces
        self.intervals = _support(eq, pieces)
        self._build_quadrature()

    # -- construction
    def _build_quadrature(self) -> None:
        M = QUAD_NODES
        theta = np.pi * np.arange(M + 1) / M
        self._coef, self._mass_i, self._xmean_i = [], [], []
        if self.intervals.size:
            a, b = self.intervals[:, :1], self.intervals[:, 1:]
            x = a + (b - a) * 0.5 * (1.0 - np.cos(theta))
            rho = np.zeros(x.shape)
            inner = np.ones(x.shape, dtype=bool)
            inner[:, [0, -1]] = False
            rho[inner] = self._density_inside(x[inner])
            g = rho * (b - a) * 0.5 * np.sin(theta)  # d(mass)/d(theta)
            for gi, xi, _ai, _bi in zip(g, x, a[:, 0], b[:, 0]):
                c = self._cosine_coefficients(gi)
                self._coef.append(c)
                self._mass_i.append(math.pi * c[0])
                self._xmean_i.append(math.pi * self._cosine_coefficients(gi * xi)[0])
        self.continuous_mass = float(sum(self._mass_i))
        # components in increasing location: ("atom", loc, mass) / ("interval", index, mass)
        comps = [(loc, "atom", loc, mass) for loc, mass in self.atoms]
        comps += [(float(self.intervals[i, 0]), "interval", i, self._mass_i[i]) for i in range(len(self._mass_i))]
        comps.sort(key=lambda t: t[0])
        total = self.continuous_mass + sum(m for _, m in self.atoms)
        self._components = [(kind, ref, mass / total) for _, kind, ref, mass in comps]

    @staticmethod
    def _cosine_coefficients(g: np.ndarray) -> np.ndarray:
        """``a_k`` with ``g(theta) = sum_k a_k cos(k theta)`` at ``theta_j = pi j / M`` (DCT-I)."""
        M = g.size - 1
        c = dct(g, type=1) / M
        c[0] /= 2.0
        c[-1] /= 2.0
        return c

    def _density_inside(self, x: np.ndarray) -> np.ndarray:
        eq = self._eq
        eta0 = 4.0 * max(float(np.max(np.abs(self.intervals))), eq.mean)
        s, conv = _solve_upper(eq, x, np.zeros(x.shape), eta0)
        if not conv.all():
            bad = x[~conv]
            raise ArithmeticError(f"spectral law: Newton did not converge at x = {bad[:3]} ({bad.size} points)")
        return np.maximum(eq.m(s, x + 0j).imag, 0.0) / math.pi

    # -- public API
    @property
    def atom_mass(self) -> float:
        """Total mass of the atoms."""
        return float(sum(m for _, m in self.atoms))

    @property
    def lambda_min(self) -> float:
        """Smallest point of the support (atoms included): the predicted smallest eigenvalue."""
        pts = [loc for loc, _ in self.atoms] + ([float(self.intervals[0, 0])] if self.intervals.size else [])
        return float(min(pts))

    @property
    def lower_edge(self) -> float:
        """Lower edge of the density (``nan`` without one); atoms excluded."""
        return float(self.intervals[0, 0]) if self.intervals.size else math.nan

    def mean(self) -> float:
        """Mean eigenvalue ``int x dmu`` (quadrature + atoms); equals ``n^{-1} tr K = H(1)`` for both laws."""
        return float(sum(self._xmean_i) + sum(loc * m for loc, m in self.atoms))

    def stieltjes(self, z: Any) -> np.ndarray:
        """Stieltjes transform ``m(z) = int dmu(t) / (t - z)`` for ``Im z > 0`` (array, complex128).

        Solved by damped Newton on (1) / (2) with continuation from ``Im z`` large; cost
        ``O(kmax)`` per point and iteration (about 30 continuation steps).
        """
        z = np.asarray(z, dtype=np.complex128)
        if np.any(z.imag <= 0):
            raise ValueError("z must have Im z > 0 (use density() on the real axis)")
        eq = self._eq
        eta0 = 4.0 * max(float(np.max(np.abs(z))), float(np.max(np.abs(self.intervals), initial=0.0)), eq.mean)
        flat = z.ravel()
        s, conv = _solve_upper(eq, flat.real.copy(), flat.imag.copy(), eta0)
        if not conv.all():
            raise ArithmeticError("spectral law: Newton did not converge")
        return eq.m(s, flat).reshape(z.shape)

    def density(self, x: Any) -> np.ndarray:
        """Density ``Im m(x + i0)/pi`` of the continuous part (atoms excluded); 0 off the support.

        Parameters
        ----------
        x : array_like of float
        Returns
        -------
        ndarray, shape of ``x``. Cost: one continued Newton solve per point inside the support.
        """
        x = np.asarray(x, dtype=np.float64)
        out = np.zeros(x.shape)
        flat = x.ravel()
        inside = np.zeros(flat.shape, dtype=bool)
        for a, b in self.intervals:
            inside |= (flat > a) & (flat < b)
        if inside.any():
            vals = np.zeros(flat.shape)
            vals[inside] = self._density_inside(flat[inside])
            out = vals.reshape(x.shape)
        return out

    def _interval_cdf(self, i: int, theta: np.ndarray) -> np.ndarray:
        c = self._coef[i]
        k = np.arange(1, c.size)
        return c[0] * theta + np.sin(np.multiply.outer(theta, k)) @ (c[1:] / k)

    def cdf(self, x: Any) -> np.ndarray:
        """Cumulative distribution ``mu((-inf, x])`` (atoms included), normalized to total mass 1."""
        x = np.asarray(x, dtype=np.float64)
        out = np.zeros(x.shape)
        total = self.continuous_mass + self.atom_mass
        for loc, m in self.atoms:
            out += np.where(x >= loc, m / total, 0.0)
        for i, (a, b) in enumerate(self.intervals):
            u = np.clip((2.0 * x - a - b) / (b - a), -1.0, 1.0)
            theta = np.arccos(-u)
            out += self._interval_cdf(i, theta.ravel()).reshape(x.shape) / total
        return np.clip(out, 0.0, 1.0)

    def quantile(self, q: Any) -> np.ndarray:
        """Quantile function ``inf {x: cdf(x) >= q}`` for ``q`` in ``[0, 1]`` (vectorized).

        Inside an interval: the cumulative cosine series inverted by interpolation on
        ``16 QUAD_NODES`` points and two Newton steps. Atoms return their location.
        """
        q = np.asarray(q, dtype=np.float64)
        if np.any(~np.isfinite(q)) or np.any((q < 0) | (q > 1)):
            raise ValueError(f"q must lie in [0, 1], got min {np.min(q)}, max {np.max(q)}")
        flat = q.ravel()
        out = np.full(flat.shape, math.nan)
        total = self.continuous_mass + self.atom_mass
        start = 0.0
        for n_comp, (kind, ref, mass) in enumerate(self._components):
            last = n_comp == len(self._components) - 1
            sel = (flat >= start) & ((flat <= start + mass) | last) & np.isnan(out)
            if sel.any():
                if kind == "atom":
                    out[sel] = ref
                else:
                    out[sel] = self._interval_quantile(int(ref), (flat[sel] - start) * total)
            start += mass
        return out.reshape(q.shape)

    def _interval_quantile(self, i: int, target: np.ndarray) -> np.ndarray:
        a, b = self.intervals[i]
        grid = np.linspace(0.0, math.pi, 16 * QUAD_NODES + 1)
        G = np.maximum.accumulate(self._interval_cdf(i, grid))
        target = np.clip(target, 0.0, G[-1])
        theta = np.interp(target, G, grid)
        c = self._coef[i]
        k = np.arange(c.size)
        for _ in range(2):
            gval = np.cos(np.multiply.outer(theta, k)) @ c
            resid = self._interval_cdf(i, theta) - target
            ok = gval > 1e-12 * max(self._mass_i[i], 1e-300)
            theta = np.where(ok, np.clip(theta - resid / np.where(ok, gval, 1.0), 0.0, math.pi), theta)
        return a + (b - a) * 0.5 * (1.0 - np.cos(theta))

    def predicted_eigenvalues(self, n: int | None = None) -> np.ndarray:
        """Predicted sorted eigenvalues: ``quantile((i - 1/2)/n)``, ``i = 1..n`` (default ``n = self.n``)."""
        n = self.n if n is None else check_int("n", n, minimum=1)
        return self.quantile((np.arange(1, n + 1) - 0.5) / n)


def _spectrum_head(activation: Any, d: int, n: int, kmax: int | None, layers: str):
    """``(B, xi, T)`` of the degrees ``0..kmax`` (absent ones zeroed), ``T = H(1) - head`` (0 below ``XI_ZERO_RTOL H(1)``)."""
    d = check_int("d", d, minimum=2)
    n = check_int("n", n, minimum=1)
    check_choice("layers", layers, _LAYERS)
    kmax = default_kmax(d, n) if kmax is None else check_int("kmax", kmax, minimum=0)
    spec = sphere_spectrum(activation, d, kmax, layers=layers)
    B = np.asarray(spec.multiplicity, dtype=np.float64)
    xi = np.where(spec.positive(), np.asarray(spec.xi, dtype=np.float64), 0.0)
    H1 = float(spec.H1)
    tail = H1 - float(np.sum(B * xi))
    return B, xi, (tail if tail > XI_ZERO_RTOL * abs(H1) else 0.0)


def _check_spectrum(multiplicity: Any, xi: Any, tail: Any):
    B = np.atleast_1d(np.asarray(multiplicity, dtype=np.float64))
    x = np.atleast_1d(np.asarray(xi, dtype=np.float64))
    if B.shape != x.shape or B.ndim != 1:
        raise ValueError(f"multiplicity and xi must be 1-D of equal length, got shapes {B.shape} and {x.shape}")
    if not (np.all(np.isfinite(B)) and np.all(np.isfinite(x))) or np.any(B < 0) or np.any(x < 0):
        raise ValueError("multiplicity and xi must be finite and >= 0")
    tail = check_float("tail", tail, minimum=0.0)
    return B, x, tail


class KernelSpectralLaw(SpectralLaw):
    """Deterministic-equivalent eigenvalue law of the infinite-width kernel matrix ``K`` (``n x n``).

    Gaussian-equivalent model ``K = sum_{k<=kmax} xi_{d,k} G_k G_k^T + T I_n``, ``G_k`` an
    ``n x B(d,k)`` i.i.d. N(0,1) matrix, ``T = H(1) - sum_{k<=kmax} B(d,k) xi_{d,k}``; the
    Stieltjes transform solves ``z = -1/m + T + sum_k B_k xi_k / (1 + n xi_k m)`` (module
    docstring, equation (1)). Atom at ``T`` of mass ``1 - P/n`` when the present degrees
    hold ``P <= n`` dimensions. Its lower edge is :func:`ntphase._equivalents.silverstein_edge`.

    Parameters
    ----------
    activation : str or Activation
    d, n : int
    kmax : int, optional
        Degrees kept explicitly (default :func:`ntphase.theory.default_kmax`).
    layers : {"first", "second", "both"}

    Cost: one sphere spectrum, ``O(kmax * _GRID)`` for the support, and
    ``O(kmax * QUAD_NODES * intervals * 30 * iterations)`` for the density.

    Examples
    --------
    >>> law = KernelSpectralLaw("relu", 20, 300)
    >>> bool(abs(law.mean() - law.H1) < 1e-8)  # trace identity n^{-1} tr K = H(1)
    True
    """

    def __init__(self, activation: Any, d: int, n: int, kmax: int | None = None, layers: str = "first") -> None:
        B, xi, tail = _spectrum_head(activation, d, n, kmax, layers)
        self._init_from(int(n), B, xi, tail)

    @classmethod
    def from_spectrum(cls, n: int, multiplicity: Any, xi: Any, tail: float) -> KernelSpectralLaw:
        """The law of ``sum_k xi_k G_k G_k^T + tail I_n`` for an explicit spectrum (arrays of equal length)."""
        n = check_int("n", n, minimum=1)
        B, x, tail = _check_spectrum(multiplicity, xi, tail)
        self = cls.__new__(cls)
        self._init_from(n, B, x, tail)
        return self

    def _init_from(self, n: int, B: np.ndarray, xi: np.ndarray, tail: float) -> None:
        eq = _Equation(n, B, xi, tail, 0.0)
        if eq.P == 0 and tail == 0.0:
            raise ValueError("the kernel is zero: no present degree and tail = 0")
        self.multiplicity, self.xi, self.tail, self.H1 = eq.B, eq.xi, eq.T, eq.mean
        self.pieces_ = _kernel_pieces(eq)
        atoms = [(tail, 1.0 - eq.P / n)] if eq.P < n else []
        SpectralLaw.__init__(self, eq, n, atoms, self.pieces_)

    @property
    def edge(self) -> float:
        """Predicted ``lambda_min(K)``: equals :func:`silverstein_edge` (``T`` when ``P <= n``)."""
        return self.lambda_min


def _kernel_pieces(eq: _Equation) -> list[tuple]:
    """Increasing pieces of ``w`` on the real ``s`` line minus the poles ``0, -1/(n xi_k)``."""
    ends = [(-math.inf, "inf")] + [(p, "pole") for p in eq.poles] + [(0.0, "zero")]
    base = [(a, b, ta, tb) for (a, ta), (b, tb) in itertools.pairwise(ends)]
    base.append((0.0, math.inf, "zero", "inf"))
    return _increasing_pieces(eq, eq.hw, base)


class NTKernelSpectralLaw(SpectralLaw):
    """Eigenvalue law of the empirical NT kernel ``K_N ~ K^{1/2} (Z Z^T / p) K^{1/2}`` (``n x n``).

    The free multiplicative convolution of :class:`KernelSpectralLaw` with
    Marchenko-Pastur of ratio ``c = n/p``, ``p = N d`` (``layers="first"``;
    :func:`ntphase.conventions.nt_feature_count`). Stieltjes transform from
    ``z = w(s)(1 - c - c w(s) s)``, ``m_{K_N}(z) = w(s) s / z`` (module docstring, (2)).
    Atom at 0 of mass ``1 - p/n`` when ``p < n``. The lower edge for ``p > n`` is
    ``max_u [1/u - c (1/u)(1 + m_K(1/u)/u)]`` over ``u > 1/edge(K)``; it tends to
    ``gamma (1 - sqrt(c))^2`` when ``K = gamma I`` and to ``edge(K)`` as ``p -> infinity``.

    Parameters
    ----------
    activation, d, n, kmax, layers : as :class:`KernelSpectralLaw`
    N : int
        Width; ``p = nt_feature_count(N, d, layers)``.

    Examples
    --------
    >>> law = NTKernelSpectralLaw("tanh", 20, 400, 40)  # p = 800 = 2 n
    >>> 0 < law.lambda_min < KernelSpectralLaw("tanh", 20, 400).edge
    True
    """

    def __init__(self, activation: Any, d: int, n: int, N: int, kmax: int | None = None,
                 layers: str = "first") -> None:
        N = check_int("N", N, minimum=1)
        B, xi, tail = _spectrum_head(activation, d, n, kmax, layers)
        self._init_from(int(n), float(nt_feature_count(N, int(d), layers)), B, xi, tail)

    @classmethod
    def from_spectrum(cls, n: int, p: float, multiplicity: Any, xi: Any, tail: float) -> NTKernelSpectralLaw:
        """The law for an explicit spectrum of ``K`` and ``p`` features (``p`` real, ``> 0``)."""
        n = check_int("n", n, minimum=1)
        p = check_float("p", p, minimum=0.0, allow_equal=False)
        B, x, tail = _check_spectrum(multiplicity, xi, tail)
        self = cls.__new__(cls)
        self._init_from(n, p, B, x, tail)
        return self

    def _init_from(self, n: int, p: float, B: np.ndarray, xi: np.ndarray, tail: float) -> None:
        if p == n:
            raise ValueError(f"p = N d must differ from n = {n} (at p = n the density diverges at 0)")
        eqK = _Equation(n, B, xi, tail, 0.0)
        if tail == 0.0 and eqK.P <= n:
            raise ValueError("K is singular (tail = 0 and at most n present directions): no K_N law")
        self.p, self.ratio = float(p), n / float(p)
        self.kernel_pieces_ = _kernel_pieces(eqK)
        eq = _Equation(n, B, xi, tail, n / float(p))
        self.multiplicity, self.xi, self.tail, self.H1 = eq.B, eq.xi, eq.T, eq.mean
        # Z on the s where w is increasing; the ends of those pieces are critical points of w or 0 / inf
        pieces = _increasing_pieces(eq, eq.hF, self.kernel_pieces_)
        atoms = [(0.0, 1.0 - p / n)] if p < n else []
        SpectralLaw.__init__(self, eq, n, atoms, pieces)


# --------------------------------------------------------------------------- user-level
def lambda_min_nt_edge(activation: Any, d: int, n: Any, N: Any, kmax: int | None = None, layers: str = "first"):
    """Purely theoretical ``lambda_min(K_N)``: lower edge of :class:`NTKernelSpectralLaw`, 0 for ``p <= n``.

    From ``(activation, d, n, N)`` alone. Vectorized over ``n`` and ``N`` (broadcast;
    a loop). Only the support is computed (no density): cost ``O(kmax * _GRID)`` per
    point.

    Examples
    --------
    >>> e = lambda_min_nt_edge("erf", 30, 600, [30, 40, 80])  # Nd/n = 1.5, 2, 4
    >>> bool(e[0] < e[1] < e[2])
    True
    """
    d = check_int("d", d, minimum=2)
    check_choice("layers", layers, _LAYERS)
    n_arr = np.asarray(n)
    N_arr = np.asarray(N)
    for name, arr in (("n", n_arr), ("N", N_arr)):
        if arr.dtype == bool or not np.issubdtype(arr.dtype, np.number) or np.any(arr < 1) or np.any(arr != np.round(arr)):
            raise ValueError(f"{name} must be integers >= 1, got {arr!r}")
    shape = np.broadcast_shapes(n_arr.shape, N_arr.shape)
    out = np.empty(shape)
    for idx in np.ndindex(shape):
        nn, NN = int(np.broadcast_to(n_arr, shape)[idx]), int(np.broadcast_to(N_arr, shape)[idx])
        p = float(nt_feature_count(NN, d, layers))
        if p <= nn:
            out[idx] = 0.0
            continue
        B, xi, tail = _spectrum_head(activation, d, nn, kmax, layers)
        out[idx] = _nt_lower_edge(nn, p, B, xi, tail)
    return float(out) if out.ndim == 0 else out


def _nt_lower_edge(n: int, p: float, B: np.ndarray, xi: np.ndarray, tail: float) -> float:
    """Lower edge of the ``K_N`` law (``p > n``) without the density: the lowest image gap."""
    eqK = _Equation(n, B, xi, tail, 0.0)
    eq = _Equation(n, B, xi, tail, n / p)
    pieces = _increasing_pieces(eq, eq.hF, _kernel_pieces(eqK))
    sup = _support(eq, pieces)
    return float(sup[0, 0])


def filling_degrees(activation: Any, d: int, n: int, threshold: float = FILL_THRESHOLD,
                    layers: str = "first", kmax: int | None = None) -> list[dict]:
    """Degrees that nearly fill ``n``: present (``xi_{d,k} > 0``) with ``threshold n <= B(d,k) <= n / threshold``.

    Rule: the spike/bulk picture and the Gaussian equivalence assume every present
    degree is either well below ``n`` (a spike group) or well above it (part of the
    bulk, ``xi << kappa``). A degree of dimension within a factor ``threshold`` of ``n``
    (on either side) is neither: its group spreads over the whole spectrum and the
    Gaussian-equivalent edge is measured 24-102% off there (e.g. tanh, ``d = 30``,
    ``n = 5000``: ``B(30,3) = 4930``). Degrees up to ``default_kmax(d, n)`` are checked.

    Returns
    -------
    list of dict with keys ``degree``, ``multiplicity``, ``fraction`` (``B(d,k)/n``), in
    increasing degree; empty when no degree nearly fills ``n``.

    Examples
    --------
    >>> [(g["degree"], g["multiplicity"]) for g in filling_degrees("tanh", 30, 5000)]
    [(3, 4930)]
    """
    d = check_int("d", d, minimum=2)
    n = check_int("n", n, minimum=1)
    threshold = check_float("threshold", threshold, minimum=0.0, allow_equal=False)
    if threshold > 1.0:
        raise ValueError(f"threshold must lie in (0, 1], got {threshold}")
    check_choice("layers", layers, _LAYERS)
    kmax = default_kmax(d, n) if kmax is None else check_int("kmax", kmax, minimum=0)
    present = sphere_spectrum(activation, d, kmax, layers=layers).positive()
    out = []
    for k in range(kmax + 1):
        Bk = multiplicity(d, k)
        if present[k] and threshold * n <= Bk <= n / threshold:
            out.append({"degree": k, "multiplicity": int(Bk), "fraction": Bk / n})
    return out
