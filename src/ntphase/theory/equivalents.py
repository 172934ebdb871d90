"""Deterministic equivalents on an explicit kernel spectrum (docs/theory.md, sections 3, 6).

The spectral core of :mod:`ntphase.theory`: pure float64 functions of a spectrum
given explicitly as the multiplicities ``B_k`` and eigenvalues ``xi_k`` of the
degrees kept explicitly, plus the trace ``T`` (``tail``) of all higher degrees,
which enter as the limit ``xi << kappa``: ``T / kappa`` in the degrees of freedom,
``0`` in the learned fractions, ``T I`` in the Gaussian-equivalent kernel matrix.
Nothing here knows about activations or the sphere; the other modules of
:mod:`ntphase.theory` build the spectrum from ``(activation, d)``.

- degrees of freedom ``df(kappa)`` (:func:`kernel_df`) and the KRR effective
  regularization (:func:`solve_kappa`);
- the lower edge of the Gaussian-equivalent spectrum (:func:`silverstein_edge`);
- the KRR and random-features test-error equivalents (:func:`krr_risk_spectral`,
  :func:`rf_risk_spectral`).

References: Bordelon-Canatar-Pehlevan 2020, Simon et al. 2021, Misiakiewicz-Saeed
2024 (KRR deterministic equivalent); Bach 2023, Defilippis-Loureiro-Misiakiewicz 2024,
Atanasov-Zavatone-Veth-Pehlevan 2024 (random-features deterministic equivalent);
Silverstein & Bai 1995 (edge).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.optimize import brentq

__all__ = [
    "kernel_df", "solve_kappa", "silverstein_edge", "krr_risk_spectral", "rf_risk_spectral",
    "rf_norm_spectral", "random_features_edge",
]

#: Relative accuracy of the root solves (in log scale).
_RTOL = 4 * np.finfo(float).eps


def kernel_df(kappa: float, multiplicity: np.ndarray, xi: np.ndarray, tail: float) -> float:
    """Degrees of freedom ``df(kappa) = sum_k B_k xi_k / (xi_k + kappa) + T / kappa``.

    The high degrees (trace ``T``, each ``xi << kappa``) contribute ``T / kappa``.
    Cost ``O(kmax)``.
    """
    return float(np.sum(multiplicity * xi / (xi + kappa)) + tail / kappa)


def _kernel_ddf(kappa: float, multiplicity: np.ndarray, xi: np.ndarray, tail: float) -> float:
    """``df'(kappa) = -sum_k B_k xi_k / (xi_k + kappa)^2 - T / kappa^2``."""
    return float(-np.sum(multiplicity * xi / (xi + kappa) ** 2) - tail / kappa**2)


def _root_log(fun, lo: float, hi: float) -> float:
    """Root of a decreasing or increasing ``fun`` bracketed by ``[lo, hi]``, solved in ``log``."""
    t = brentq(lambda s: fun(math.exp(s)), math.log(lo), math.log(hi), xtol=1e-15, rtol=_RTOL, maxiter=500)
    return math.exp(t)


def _solve_df(target: float, multiplicity: np.ndarray, xi: np.ndarray, tail: float, extra: float = 0.0) -> float:
    """``kappa > 0`` with ``df(kappa) + extra / kappa = target``; ``0.0`` if ``df(0+) <= target`` and no extra.

    The left side decreases strictly from ``df(0+)`` (``+inf`` when ``T > 0`` or
    ``extra > 0``, else the number of present directions) to ``0``.
    """
    scale = float(np.sum(multiplicity * xi)) + tail + extra
    if scale <= 0.0:
        return 0.0

    def fun(k: float) -> float:
        return kernel_df(k, multiplicity, xi, tail) + extra / k - target

    hi = 2.0 * scale / max(target, 1e-300)
    while fun(hi) >= 0.0:  # df(k) + extra/k <= scale/k, so this stops at once
        hi *= 2.0
    if tail + extra > 0.0:
        lo = min(hi / 2.0, (tail + extra) / (2.0 * target))
        while fun(lo) <= 0.0:
            lo /= 2.0
    else:
        if float(np.sum(multiplicity[xi > 0])) <= target:
            return 0.0
        lo = hi / 2.0
        while fun(lo) <= 0.0:
            lo /= 2.0
    return _root_log(fun, lo, hi)


def solve_kappa(n: float, ridge: float, multiplicity: np.ndarray, xi: np.ndarray, tail: float) -> float:
    """Effective regularization of KRR: ``kappa > 0`` solving ``df(kappa) + ridge / kappa = n``.

    ``df`` as in :func:`kernel_df` (docs/theory.md, section 6). Solved by ``brentq`` in
    ``log kappa`` on a bracket that is guaranteed (``df(k) <= (H(1) + ridge)/k`` above,
    ``(T + ridge)/k`` below). ``ridge = 0`` is fine when ``T > 0`` or there are more
    than ``n`` present directions; otherwise (finite rank ``<= n``, no ridge) the
    solution is the limit ``kappa = 0``, returned as ``0.0``.

    Examples
    --------
    >>> B, xi = np.array([1.0, 10.0]), np.array([0.5, 0.05])
    >>> kappa = solve_kappa(100, 0.0, B, xi, 0.1)
    >>> bool(abs(kernel_df(kappa, B, xi, 0.1) - 100) < 1e-9)
    True
    """
    return _solve_df(float(n), multiplicity, xi, tail, extra=float(ridge))


def silverstein_edge(n: float, multiplicity: np.ndarray, xi: np.ndarray, tail: float) -> float:
    """Lower edge of the Gaussian-equivalent spectrum (docs/theory.md, section 3).

    Model: ``K = sum_k xi_k G_k G_k^T + T I_n`` with ``G_k`` an ``n x B_k`` matrix of i.i.d.
    N(0,1) entries. With ``m = n^{-1} tr (K - z)^{-1} > 0`` for ``z`` below the
    spectrum, the Silverstein equation inverts to
    ``z(m) = -1/m + T + sum_k B_k xi_k / (1 + n xi_k m)``, and the lower edge is the
    value of ``z`` at its (first) local maximum on ``m > 0``. Since
    ``m^2 z'(m) = 1 - n^{-1} sum_k B_k (a_k/(1+a_k))^2`` with ``a_k = n xi_k m``
    decreases monotonically from 1 to ``1 - P/n`` (``P = sum_k B_k`` over present
    degrees), the critical point is unique and exists iff ``P > n``; it is found by
    ``brentq`` in ``log m``.

    If ``P <= n`` the explicit part has an atom at 0 of mass ``1 - P/n`` (no gap):
    the edge is ``T`` (for ``T > 0``, the Gaussian-equivalent matrix then has about
    ``n - P`` eigenvalues exactly equal to ``T``).

    Examples
    --------
    >>> B, xi = np.array([1.0, 10.0, 300.0]), np.array([0.5, 0.05, 1e-3])
    >>> round(silverstein_edge(100, B, xi, 0.1), 4)  # 300 > 100 dims: a gap above T
    0.1621
    >>> silverstein_edge(400, B, xi, 0.1)  # 311 <= 400 dims: no gap, edge = T
    0.1
    """
    keep = (xi > 0) & (multiplicity > 0)
    B, x = multiplicity[keep], xi[keep]
    P = float(np.sum(B))
    if P <= n:
        return float(tail)

    def slope(m: float) -> float:  # m^2 z'(m), decreasing from 1 to 1 - P/n
        a = n * x * m
        return 1.0 - float(np.sum(B * (a / (1.0 + a)) ** 2)) / n

    lo = hi = 1.0 / (n * float(np.max(x)))
    while slope(hi) >= 0.0:
        hi *= 4.0
    while slope(lo) <= 0.0:
        lo /= 4.0
    m = _root_log(slope, lo, hi)
    a = n * x * m
    return float(tail + (float(np.sum((B / n) * a / (1.0 + a))) - 1.0) / m)


def _excess_error(n: float, df2: float, bias: float, noise: float) -> float:
    """Test error over noise ``n / (n - df2) (bias + noise^2) - noise^2``; ``inf`` if ``df2 >= n``.

    The variance factor ``E = n / (n - df2)`` shared by both equivalents (``df2 = sum_k B_k L_k^2``
    for KRR, ``tr Sigma_F^2 (Sigma_F + kappa_1)^{-2}`` for random features).
    """
    denom = n - df2
    if denom <= 0:
        return math.inf
    return n / denom * (bias + noise**2) - noise**2


def krr_risk_spectral(n: float, ridge: float, multiplicity: np.ndarray, xi: np.ndarray, tail: float,
                      degree_energy: np.ndarray, energy_above: float = 0.0, noise: float = 0.0) -> float:
    """KRR deterministic equivalent on an explicit spectrum (docs/theory.md, section 6).

    ``kappa`` from :func:`solve_kappa`; ``L_k = xi_k / (xi_k + kappa)``;
    ``E0 = n / (n - sum_k B_k L_k^2)`` (the tail's ``L ~ 0``); excess test error
    ``E0 (sum_k (1 - L_k)^2 c_k^2 + E_above + noise^2) - noise^2`` where ``c_k^2`` is the
    target energy of degree ``k`` (spread evenly over its ``B_k`` directions) and
    ``E_above`` the energy above ``kmax`` (``L ~ 0``: fully in the error).
    Returns ``inf`` where ``E0`` diverges (``kappa = 0`` with exactly ``n`` directions).
    """
    kappa = solve_kappa(n, ridge, multiplicity, xi, tail)
    if kappa > 0:
        L = xi / (xi + kappa)
    else:
        L = (xi > 0).astype(np.float64)
    bias = float(np.sum((1.0 - L) ** 2 * degree_energy)) + energy_above
    return _excess_error(n, float(np.sum(multiplicity * L**2)), bias, noise)


def _rf_kappas(n: float, p: float, ridge: float, multiplicity: np.ndarray, xi: np.ndarray,
               tail: float) -> tuple[float, float]:
    """``(kappa_1, kappa_2)`` of the random-features equivalent (:func:`rf_risk_spectral`); ``p != n`` if ``ridge = 0``."""
    target = min(float(n), float(p))
    kstar = _solve_df(target, multiplicity, xi, tail)
    floor = np.finfo(float).tiny ** 0.5 * max(float(np.sum(multiplicity * xi)) + tail, 1.0)
    kstar = max(kstar, floor)

    def kappa1(k2: float) -> float:
        return k2 * (1.0 - kernel_df(k2, multiplicity, xi, tail) / p)

    if ridge == 0.0:
        return (0.0 if p < n else max(kappa1(kstar), 0.0)), kstar

    def g(k2: float) -> float:  # increasing on (kstar, inf) from -ridge to inf
        return kappa1(k2) * (n - kernel_df(k2, multiplicity, xi, tail)) - ridge

    hi = 2.0 * kstar
    while g(hi) <= 0.0:
        hi *= 2.0
    k2 = _root_log(g, kstar, hi)
    return max(kappa1(k2), 0.0), k2


def rf_risk_spectral(n: float, p: float, ridge: float, multiplicity: np.ndarray, xi: np.ndarray, tail: float,
                     degree_energy: np.ndarray, energy_above: float = 0.0, noise: float = 0.0) -> float:
    """Random-features deterministic equivalent with ``p`` features (docs/theory.md, section 6).

    Derivation (Bach 2023; Defilippis-Loureiro-Misiakiewicz 2024; Atanasov et al. 2024):
    conditionally on the features, ridge with ``p`` features of covariance
    ``Sigma_F`` has the linear-ridge equivalent with effective ridge ``kappa_1``,
    ``n = tr Sigma_F (Sigma_F + kappa_1)^{-1} + ridge / kappa_1``; the feature Gram
    satisfies ``kappa_1 (Sigma_F' + kappa_1)^{-1} ~ kappa_2 (Lambda + kappa_2)^{-1}`` with
    ``kappa_1 = kappa_2 (1 - df(kappa_2)/p)``, hence
    ``kappa_1 (n - df(kappa_2)) = ridge``. The bias (best-linear-predictor error plus
    the ridge bias) is ``-kappa_1^2 d/dkappa_1 [(kappa_2/kappa_1) sum v_i^2/(xi_i+kappa_2)]``:

    ``bias = sum_i v_i^2 kappa_2/(xi_i + kappa_2) - kappa_1 kappa_2' sum_i v_i^2 xi_i/(xi_i + kappa_2)^2``,
    ``kappa_2' = d kappa_2/d kappa_1 = 1 / (1 - df(kappa_2)/p - kappa_2 df'(kappa_2)/p)``,

    ``df_2 = df(kappa_2) + kappa_1 df'(kappa_2) kappa_2'`` (= ``tr Sigma_F^2 (Sigma_F+kappa_1)^{-2}``),
    ``E = n / (n - df_2)``, error ``E (bias + noise^2) - noise^2``.

    ``ridge = 0``: ``p > n`` gives ``df(kappa_2) = n``, ``kappa_1 = kappa_2 (1 - n/p)``;
    ``p < n`` gives ``df(kappa_2) = p``, ``kappa_1 = 0``, ``E = n/(n - p)``; ``p = n``
    returns ``inf`` (the interpolation peak). As ``p -> inf``, ``kappa_1 = kappa_2`` and
    the formula is exactly :func:`krr_risk_spectral`.

    The tail ``T`` (high degrees, ``xi << kappa_2``) enters only through ``df`` as
    ``T / kappa`` and contributes nothing to the learned part: for ``p`` features it
    is extra isotropic feature variance, which in the ``n x n`` Gram matrix is a
    Marchenko-Pastur block ``(T/p) Z Z^T`` of rank ``<= p`` (an effective ridge ``T``
    only when ``p >> n``), not ``T I``.
    """
    if ridge == 0.0 and p == n:
        return math.inf
    k1, k2 = _rf_kappas(n, p, ridge, multiplicity, xi, tail)
    df = kernel_df(k2, multiplicity, xi, tail)
    ddf = _kernel_ddf(k2, multiplicity, xi, tail)
    k2prime = 1.0 / (1.0 - df / p - k2 * ddf / p)
    df2 = df + k1 * ddf * k2prime
    bias = (
        float(np.sum(degree_energy * k2 / (xi + k2)))
        - k1 * k2prime * float(np.sum(degree_energy * xi / (xi + k2) ** 2))
        + energy_above
    )
    return _excess_error(n, df2, bias, noise)


#: Relative size of the two small ridges of the ``lambda -> 0`` extrapolation in :func:`rf_norm_spectral`.
_NORM_EPS = 1e-8


def rf_norm_spectral(n: float, p: float, ridge: float, multiplicity: np.ndarray, xi: np.ndarray, tail: float,
                     degree_energy: np.ndarray, energy_above: float = 0.0, noise: float = 0.0) -> float:
    """Random-features deterministic equivalent of the squared norm ``||a_hat||^2 = y^T K_N (K_N + lambda)^{-2} y``.

    ``a_hat`` are the ridge coefficients on the ``p`` features (``K_N = Phi Phi^T``,
    ``a_hat = Phi^T (K_N + lambda I)^{-1} y``). Derivation (beyond the paper; two exact
    identities and the equivalents of :func:`rf_risk_spectral`):

    - ``||a_hat||^2 = Q(lambda) - R_train / lambda`` with ``Q = y^T (K_N + lambda)^{-1} y``
      and ``R_train = lambda^2 ||(K_N + lambda)^{-1} y||^2`` the training residual (sum);
    - leave-one-out: ``[(K_N + lambda)^{-1} y]_i = r_i / [(K_N + lambda)^{-1}]_{ii}`` with
      ``r_i = y_i - f_{-i}(x_i)``; the diagonal concentrates at ``1/(n kappa_1)``
      (``lambda / (n kappa_1) = 1 - df(kappa_2)/n``), so
      ``R_train = n (lambda/(n kappa_1))^2 (E + tau^2)`` (the GCV identity; ``E`` the
      excess test error of :func:`rf_risk_spectral`) and
      ``Q = (1/kappa_1) (||f*||^2 + tau^2 - <f*, f_hat>)`` with the learned part
      ``<f*, f_hat> = sum_k c_k^2 xi_k / (xi_k + kappa_2)``.

    Hence ``||a_hat||^2 = (1/kappa_1) [sum_k c_k^2 kappa_2/(xi_k + kappa_2) + E_above + tau^2
    - (1 - df(kappa_2)/n)(E + tau^2)]``. For ``ridge = 0``: ``p > n`` gives
    ``df(kappa_2) = n`` and the bracket's first terms over ``kappa_1 = kappa_2 (1 - n/p)``
    (``inf`` at ``p = n``, the interpolation peak); ``p < n`` is a ``0/0`` limit (the
    min-norm least-squares fit), evaluated as the linear extrapolation to ``lambda = 0``
    from ``lambda = eps, 2 eps`` with ``eps = 1e-8 H(1)`` (error ``O(eps^2)``; the bracket
    cancels to ``O(kappa_1)``, leaving ~1e-10 relative round-off).
    As ``p -> inf`` it is the KRR norm ``y^T K (K + lambda)^{-2} y``. Cost ``O(kmax)`` per
    root-finding step.
    """
    if ridge == 0.0 and p == n:
        return math.inf
    if ridge == 0.0 and p < n:
        eps = _NORM_EPS * (float(np.sum(multiplicity * xi)) + tail)
        one = rf_norm_spectral(n, p, eps, multiplicity, xi, tail, degree_energy, energy_above, noise)
        two = rf_norm_spectral(n, p, 2.0 * eps, multiplicity, xi, tail, degree_energy, energy_above, noise)
        return 2.0 * one - two
    k1, k2 = _rf_kappas(n, p, ridge, multiplicity, xi, tail)
    if k1 <= 0.0:
        return math.inf
    unlearned = float(np.sum(degree_energy * k2 / (xi + k2))) + energy_above + noise**2
    if ridge == 0.0:
        return unlearned / k1
    risk = rf_risk_spectral(n, p, ridge, multiplicity, xi, tail, degree_energy, energy_above, noise)
    shrink = 1.0 - kernel_df(k2, multiplicity, xi, tail) / n
    return (unlearned - shrink * (risk + noise**2)) / k1


def random_features_edge(eigenvalues: Any, num_features: Any) -> Any:
    """Lower spectral edge of ``K^{1/2} (Z Z^T / p) K^{1/2}``: the random-features prediction of ``lambda_min(K_N)``.

    The NT kernel of width ``N`` is ``K_N = Phi Phi^T`` with ``p = N d`` features whose
    mean over the weights is ``K`` (docs/theory.md, section 6, the random-features view).
    Modelling the ``p`` feature columns as i.i.d. with covariance ``K / p`` gives a
    sample-covariance matrix with population spectrum ``tau`` (the eigenvalues of
    ``K``) and ratio ``n / p``. For ``p > n`` the lower edge of its limiting
    spectrum (Silverstein's equation for the companion Stieltjes transform
    ``m``, ``z(m) = -1/m + (1/p) sum_i tau_i / (1 + tau_i m)``) is ``z`` at its local
    maximum on ``m < -1/tau_min``. With ``u = -m`` the critical point solves

        g(u) = 1 - (1/p) sum_i (tau_i u / (tau_i u - 1))^2 = 0,   u > 1/tau_min,

    ``g`` increasing (a unique root, bracketed by doubling), and the edge is
    ``1/u - (1/p) sum_i tau_i / (tau_i u - 1)``. For ``tau_i = gamma`` it reduces to
    the Marchenko-Pastur edge ``gamma (1 - sqrt(n/p))^2``; as ``p -> infinity`` it
    tends to ``tau_min = lambda_min(K)``. ``p <= n`` gives 0 (``rank K_N <= p``).
    This model is beyond the paper; its accuracy is measured (tests, experiment 1).

    Parameters
    ----------
    eigenvalues : array (n,)
        Eigenvalues of ``K`` (the population spectrum), all ``> 0``.
    num_features : int or array
        ``p = N d``. Vectorized.

    Returns
    -------
    float or ndarray (shape of ``num_features``). Cost ``O(n)`` per root-finding step.
    """
    tau = np.asarray(eigenvalues, dtype=np.float64).ravel()
    if tau.size < 1 or not np.all(np.isfinite(tau)):
        raise ValueError("eigenvalues must be a non-empty array of finite values")
    if np.min(tau) <= 0.0:
        raise ValueError(f"eigenvalues must all be > 0 (a positive definite K), got min {np.min(tau):.3e}")
    p_arr = np.asarray(num_features, dtype=np.float64)
    if not np.all(np.isfinite(p_arr)) or np.any(p_arr < 1):
        raise ValueError(f"num_features must be finite and >= 1, got {num_features!r}")
    n, t_min = tau.size, float(np.min(tau))

    def one(p: float) -> float:
        if p <= n:
            return 0.0

        def g(u: float) -> float:
            r = tau * u / (tau * u - 1.0)
            return 1.0 - float(np.sum(r * r)) / p

        lo = (1.0 + 1e-12) / t_min
        hi = 2.0 / t_min
        while g(hi) <= 0.0:
            hi *= 2.0
        u = brentq(g, lo, hi, xtol=1e-15 * hi, rtol=_RTOL, maxiter=500)
        return float(1.0 / u - np.sum(tau / (tau * u - 1.0)) / p)

    out = np.array([one(float(p)) for p in p_arr.ravel()]).reshape(p_arr.shape)
    return float(out) if out.ndim == 0 else out
