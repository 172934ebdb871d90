"""Ridge-path arithmetic in an eigenbasis of the hat matrix (private).

One concept: given the eigenvalues ``e`` of ``K`` (or ``s^2`` of ``Phi``) and
the coordinates ``z`` of ``y`` in the eigenbasis, every ridge-path quantity is
a sum over directions (THEORY.md section 5): ``g = 1/(e + lambda)``, training
error, RKHS norm, degrees of freedom, GCV and rank, for all ridges at once,
with numerically zero directions dropped loudly (a
:class:`scipy.linalg.LinAlgWarning` carrying the condition number). Both routes
of :mod:`ntphase.ridge` use it: the dual one (``eigh`` of ``K``) and the primal
one (thin SVD of ``Phi``); they differ only in how they turn ``g`` into
coefficients.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.linalg import LinAlgWarning

__all__ = ["spectral_path"]


def spectral_path(
    e: np.ndarray,
    z: np.ndarray,
    lam: np.ndarray,
    cutoff: float,
    n: int,
    outside: float,
    n_outside: int,
    what: str,
    e_raw: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Path quantities in an eigenbasis of the hat matrix.

    ``e``: eigenvalues of ``K`` restricted to the basis (``r``), ``z`` the
    coordinates of ``y`` in it; ``outside = ||y - proj y||^2`` over the
    ``n_outside`` directions not in the basis (hat eigenvalue 0 there).
    Returns ``g`` (L, r) = ``1/(e + lambda)`` or 0 where dropped, and the path.
    ``e_raw``: the computed eigenvalues before zeroing rounding noise, for the
    condition number in the warning.
    """
    shift = e[None, :] + lam[:, None]  # (L, r)
    keep = np.abs(shift) > cutoff
    with np.errstate(divide="ignore", invalid="ignore"):
        g = np.where(keep, 1.0 / np.where(keep, shift, 1.0), 0.0)
    # residual factor 1 - e g: written as lambda g on kept directions (no cancellation
    # when lambda << e), 1 on dropped ones.
    s = np.where(keep, lam[:, None] * g, 1.0)
    rss = outside + np.sum((s * z[None, :]) ** 2, axis=1)
    w = g * z[None, :]
    norm = np.sum(e[None, :] * w**2, axis=1)
    dof = np.sum(np.where(keep, e[None, :] * g, 0.0), axis=1)
    n_minus_dof = n_outside + np.sum(s, axis=1)  # tr(I - A), computed without cancellation
    with np.errstate(divide="ignore", invalid="ignore"):
        gcv = n * rss / n_minus_dof**2
        # lambda = 0 with everything kept and nothing outside: s == 0 exactly; use
        # the finite lambda -> 0+ limit n sum z^2 g^2 / (sum g)^2.
        limit = n * np.sum(w**2, axis=1) / np.sum(g, axis=1) ** 2
    gcv = np.where(n_minus_dof == 0, limit, gcv)
    rank = keep.sum(axis=1)

    dropped = rank < e.size
    if np.any(dropped):
        e_cond = e if e_raw is None else e_raw
        abs_e = np.abs(e_cond)
        i = int(np.flatnonzero(dropped)[0])
        smallest = float(np.min(np.abs(e_cond + lam[i])))
        cond = float((abs_e.max() + lam[i]) / smallest) if smallest > 0 else np.inf
        warnings.warn(
            f"{what} + lambda I is numerically singular for lambda in "
            f"{lam[dropped].tolist()}: condition number {cond:.3e} at lambda = {lam[i]:g} "
            f"exceeds max|e|/cutoff = {abs_e.max() / cutoff if cutoff > 0 else np.inf:.3e}; "
            f"{e.size - int(rank[i])} of {e.size} eigen-directions with "
            f"|e + lambda| <= {cutoff:.3e} were dropped (pseudo-inverse, minimum-norm solution)",
            LinAlgWarning,
            stacklevel=3,
        )
    return {
        "g": g,
        "w": w,
        "train_error": rss / n,
        "norm": norm,
        "dof": dof,
        "gcv": gcv,
        "rank": rank,
    }
