"""Preconditioners for the ridge systems of NT kernels, built from the theory or from samples.

* :func:`harmonic_preconditioner`: on the sphere an inner-product kernel is
  ``K = sum_{k<=l} xi_{d,k} Y_k Y_k^T + K_{>l}`` and the high-degree rest is
  close to ``gamma_{>l} I`` when ``n << B(d, l+1)`` (docs/theory.md, sections 3-4;
  Montanari & Zhong 2022, arXiv:2007.12826; El Karoui 2010, arXiv:1001.0492), so
  ``P = F D F^T + (gamma_{>l} + lambda) I`` with the explicit harmonic features
  ``F`` (:mod:`ntphase.kernels.harmonic`) is inverted exactly by Woodbury
  (:class:`ntphase.linalg.preconditioners.WoodburyPreconditioner`). The same
  model preconditions the empirical ``K_N``, whose spikes sit on the same harmonics.
* :func:`nystrom_preconditioner`: ``m`` random centres (Falkon recipe) for data
  that is not on the sphere (:class:`ntphase.linalg.preconditioners.NystromPreconditioner`).

Level rule of the harmonic preconditioner (``level=None``)
----------------------------------------------------------
Candidates are ``l = 0 .. top``, ``top`` the highest level ``<= 2`` with
``r <= HARMONIC_RANK_FACTOR n`` features. Each costs ``build(l) = n r^2 + r^3/3 +
n r`` flops (``F^T F`` by row blocks, Cholesky of ``r x r``, ``r = sum_{k<=l}
B(d,k)``) plus ``iterations(l)`` products: ``HARMONIC_ITERATIONS_FILLED`` when no
present degree between ``l`` and ``top`` is left out (the rest is then close to
``gamma_{>l} I``), otherwise ``sqrt``-of-condition-number many (the largest left-out
spike ``n xi_k`` over ``gamma_{>top}``, at least ``HARMONIC_ITERATIONS_UNFILLED``)
(measured, relu, d = 100, n = 5,000: level 2 (r = 5,150) 4 iterations, level 1
(r = 101) 26, none 77; n = 2,000, d = 30: 7 against 82 unpreconditioned). The cheapest
candidate whose ``16 r^2`` bytes (plus one row block) fit in memory wins; a cheaper one that does not
fit is skipped with a :class:`PreconditionerWarning` naming ``r`` and the memory.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ntphase import conventions
from ntphase._util.memory import fits
from ntphase._util.validation import check_choice, check_float, check_int
from ntphase.activations import get_activation
from ntphase.conventions import LAYERS
from ntphase.kernels import nt_kernel
from ntphase.kernels.harmonic import HARMONIC_MAX_DEGREE, harmonic_model, harmonic_rank
from ntphase.kernels.tiled import dense_infinite_kernel
from ntphase.linalg.preconditioners import (
    NystromPreconditioner,
    WoodburyPreconditioner,
    woodbury_bytes,
)
from ntphase.sphere import sphere_spectrum

__all__ = [
    "HARMONIC_ITERATIONS_COEF",
    "HARMONIC_ITERATIONS_FILLED",
    "HARMONIC_ITERATIONS_UNFILLED",
    "HARMONIC_RANK_FACTOR",
    "KERNEL_ENTRY_FLOPS",
    "PreconditionerWarning",
    "harmonic_level",
    "harmonic_preconditioner",
    "infinite_product_flops",
    "nystrom_preconditioner",
]

#: PCG iterations assumed when the preconditioner's level is the one the samples fill.
HARMONIC_ITERATIONS_FILLED = 8
#: PCG iterations assumed for a lower level (the next degree's spike is left in ``K - P``).
HARMONIC_ITERATIONS_UNFILLED = 30
#: Unfilled levels: ``max(HARMONIC_ITERATIONS_UNFILLED, HARMONIC_ITERATIONS_COEF sqrt(1 + n xi_k /
#: gamma_{>top}))`` with ``xi_k`` the largest spike the model leaves out (CG needs about
#: ``sqrt(kappa)`` steps; calibrated on unpreconditioned CG, 77-84 iterations at n = 5,000-10,000, d = 100).
HARMONIC_ITERATIONS_COEF = 6.5
#: Candidate levels have at most this many features per sample (``r <= 2 n``; Woodbury works for any
#: ``r``, and ``r`` slightly above ``n`` still pays: level 2 at n = 5,000, d = 100 has r = 5,150).
HARMONIC_RANK_FACTOR = 2.0
#: One kernel-function entry of a tile in GEMM-flop equivalents (1-2 ns per entry
#: with the certified fast function against ~30-50 Gflop/s of one core's GEMM).
KERNEL_ENTRY_FLOPS = 25.0

_GIB = 1024.0**3


class PreconditionerWarning(RuntimeWarning):
    """A preconditioner was built smaller than the cost model preferred (memory)."""


def infinite_product_flops(n: int, d: int, nvec: int = 1) -> float:
    """Flops of one tiled product ``K V`` of the infinite-width kernel (``V`` with ``nvec`` columns).

    ``n^2 d`` (Gram of the lower triangle) ``+ KERNEL_ENTRY_FLOPS n^2 / 2`` (kernel
    function) ``+ 2 n^2 nvec`` (the tile times ``V`` and its mirror).
    """
    return float(n) * n * (d + 0.5 * KERNEL_ENTRY_FLOPS + 2.0 * nvec)


def _harmonic_bytes(n: int, r: int) -> float:
    """The Woodbury factor's bytes plus one row block of explicit features."""
    return woodbury_bytes(n, r) + conventions.KERNEL_BLOCK_BYTES


def _build_flops(n: int, r: int) -> float:
    return float(n) * r * r + r**3 / 3.0 + float(n) * r


def harmonic_level(
    n: int,
    d: int,
    activation: Any,
    *,
    layers: str = "first",
    product_flops: float | None = None,
    warn: bool = True,
) -> int:
    """The level ``l`` the harmonic preconditioner uses by default (module docstring rule).

    Parameters
    ----------
    n, d : int
    activation : str or Activation
    layers : {"first", "second", "both"}
    product_flops : float, optional
        Flops of one product with the system matrix (default
        :func:`infinite_product_flops`); a cheaper product favours lower levels.
    warn : bool
        Warn when memory forces a level below the cost model's choice.

    Returns
    -------
    int in ``0 .. 2``
    """
    n = check_int("n", n, minimum=1)
    d = check_int("d", d, minimum=2)
    act = get_activation(activation)
    product = infinite_product_flops(n, d) if product_flops is None else float(product_flops)
    spectrum = sphere_spectrum(act, d, HARMONIC_MAX_DEGREE, layers)
    present = spectrum.positive()
    ranks = [harmonic_rank(act, d, lvl, layers) for lvl in range(HARMONIC_MAX_DEGREE + 1)]
    top = max(lvl for lvl in range(HARMONIC_MAX_DEGREE + 1) if lvl == 0 or ranks[lvl] <= HARMONIC_RANK_FACTOR * n)
    gamma_top = spectrum.gamma_above(top)
    costs = []
    for lvl in range(top + 1):
        rest = [k for k in range(lvl + 1, top + 1) if present[k]]
        if rest:
            spike = n * max(float(spectrum.xi[k]) for k in rest) / gamma_top
            iters = max(HARMONIC_ITERATIONS_UNFILLED, HARMONIC_ITERATIONS_COEF * np.sqrt(1.0 + spike))
        else:
            iters = HARMONIC_ITERATIONS_FILLED
        costs.append((_build_flops(n, ranks[lvl]) + iters * product, lvl, ranks[lvl]))
    for rank, (_, lvl, r) in enumerate(sorted(costs)):
        if fits(_harmonic_bytes(n, r)):
            return lvl
        if warn:
            best = sorted(costs)[rank + 1][1] if rank + 1 < len(costs) else 0
            warnings.warn(
                f"harmonic preconditioner: level {lvl} needs r = {r} features and about "
                f"{_harmonic_bytes(n, r) / _GIB:.2f} GiB for its r x r factor and a row block, more than the memory allows; "
                f"trying level {best}",
                PreconditionerWarning,
                stacklevel=3,
            )
    return 0


def harmonic_preconditioner(
    X: Any,
    activation: Any,
    ridge: float = 0.0,
    level: int | None = None,
    layers: str = "first",
    *,
    product_flops: float | None = None,
) -> WoodburyPreconditioner:
    r"""``P^{-1}`` for ``P = K_{<=l} + (gamma_{>l} + ridge) I``, the theory's model of ``K + ridge I``.

    ``K_{<=l} = F D F^T`` (``F`` the spherical harmonics of the kept degrees
    ``k <= l``, implicit; ``D`` the ``xi_{d,k}``) and ``gamma_{>l} = H(1) -
    sum_{k<=l} B(d,k) xi_{d,k}`` (docs/theory.md, section 3), applied by Woodbury:
    ``P^{-1} v = (v - F C^{-1} F^T v)/c``, ``C = c D^{-1} + F^T F``,
    ``c = gamma_{>l} + ridge``.

    Parameters
    ----------
    X : array_like, shape (n, d)
        Rows on the sphere of radius ``sqrt(d)``.
    activation : str or Activation
    ridge : float >= 0
        ``lambda`` of the system ``(K + lambda I) x = b``.
    level : int in {0, 1, 2} or None
        ``l``; None: the module's level rule (cost model and memory).
    layers : {"first", "second", "both"}
    product_flops : float, optional
        Cost of one product with the system matrix, for the level rule.

    Returns
    -------
    WoodburyPreconditioner
        With extra attributes ``level``, ``degrees`` and ``gamma`` (``gamma_{>l}``, its ``base``).

    Raises
    ------
    InsufficientMemoryError
        An explicit ``level`` whose ``r x r`` factor does not fit.
    ValueError
        ``ridge + gamma_{>l} = 0`` (no mass above the level and no ridge).

    Notes
    -----
    Build ``O(n r^2 + r^3)`` flops, ``16 r^2`` bytes (``r = 5,151`` at d = 100,
    l = 2: 0.4 GB); apply to ``m`` vectors ``O(n d^2 m + r^2 m)``.

    Examples
    --------
    >>> import numpy as np
    >>> from ntphase.data import sample_sphere
    >>> X = sample_sphere(300, 10, rng=0)
    >>> P = harmonic_preconditioner(X, "relu", ridge=1e-3, level=2)
    >>> P.rank
    65
    >>> v = np.ones(300)
    >>> bool(np.allclose(P.forward(P @ v), v))
    True
    """
    ridge = check_float("ridge", ridge, minimum=0.0)
    layers = check_choice("layers", layers, LAYERS)
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"X must be a 2-D array (n, d), got shape {X.shape}")
    n, d = X.shape
    if level is None:
        level = harmonic_level(n, d, activation, layers=layers, product_flops=product_flops)
    else:
        level = check_int("level", level, minimum=0, maximum=HARMONIC_MAX_DEGREE)
    model = harmonic_model(X, activation, level, layers)
    shift = model.gamma + ridge
    if not shift > 0.0:
        raise ValueError(
            f"ridge + gamma_(>l) must be > 0 for the preconditioner, got ridge = {ridge} and "
            f"gamma_(>{level}) = {model.gamma:.3g} (the kernel has no mass above degree {level}); "
            "use a positive ridge or a lower level"
        )
    P = WoodburyPreconditioner(model.features, model.column_eigenvalues, shift, n=n, ridge=ridge)
    P.level = model.level
    P.degrees = model.degrees
    P.gamma = model.gamma
    return P


def nystrom_preconditioner(
    X: Any,
    activation: Any,
    ridge: float = 0.0,
    m: int = 2000,
    *,
    W: Any = None,
    layers: str = "first",
    rng: Any = None,
) -> NystromPreconditioner:
    """Nystrom preconditioner of ``K + ridge I`` from ``m`` random centres (Falkon recipe).

    ``K`` is the infinite-width kernel of ``X`` (sphere rows), or the empirical
    ``K_N`` of the weights ``W`` when given (any rows). The ``m`` centre columns
    are computed directly (``K(X, X[centres])``), never the ``n x n`` kernel.

    Parameters
    ----------
    X : array_like, shape (n, d)
    activation : str or Activation
    ridge : float >= 0
    m : int
        Centres, capped at ``n``.
    W : array_like (N, d), optional
        First-layer weights: precondition ``K_N`` instead of ``K``.
    layers : {"first", "second", "both"}
    rng : Generator, int or None
        Picks the centres.

    Notes
    -----
    Build: ``m`` kernel columns (``O(n m d)``, plus ``O(n m N)`` for ``K_N``),
    ``O(n m^2 + m^3)`` flops, ``24 n m`` bytes at peak. Apply ``O(n m)`` per vector.
    """
    X = np.asarray(X, dtype=np.float64)
    n = X.shape[0]
    m = min(check_int("m", m, minimum=1), n)
    if W is None:

        def columns(idx: np.ndarray) -> np.ndarray:
            return dense_infinite_kernel(X, activation, X2=X[idx], layers=layers)

    else:
        weights = np.asarray(W, dtype=np.float64)

        def columns(idx: np.ndarray) -> np.ndarray:
            return np.asarray(nt_kernel(X, weights, activation, X2=X[idx], layers=layers))

    return NystromPreconditioner(columns, m, ridge, rng, n=n)
