"""Test-error estimation: Monte-Carlo risk of a fitted function, with exact parts.

Public concept (docs/theory.md, sections 5, 7): the risk ``R = E_x (f*(x) - f_hat(x))^2``
of a fit is estimated on fresh test points by :func:`test_error` (mean and
standard error, vectorized over a ridge path), and by :func:`split_test_error`
when the fit provably has no component in some target degrees, whose energies
are then added exactly instead of estimated.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ntphase._util.validation import check_vector
from ntphase.data import HarmonicTarget
from ntphase.linalg.ridge import as_float64_matrix

__all__ = ["test_error", "split_test_error"]


def test_error(y_pred: Any, y_true: Any) -> tuple[Any, Any]:
    """Monte-Carlo test error ``mean_j (y_pred_j - y_true_j)^2`` and its standard error.

    Standard error ``std(squared errors, ddof=1) / sqrt(m)`` over the ``m`` test
    points. ``y_true`` should be the noiseless target ``f*(x_j)`` on fresh points,
    so that the mean estimates ``R = E_x (f*(x) - f_hat(x))^2`` (docs/theory.md
    section 5).

    Heavy-tail pitfall (docs/theory.md, section 7): for targets such as ``He_3(<v,x>)``
    the squared error has very heavy tails, so with thousands of points the
    sample mean is typically *below* the true risk (rare large values are missed)
    and the sample standard deviation, hence this standard error, is itself
    biased low and noisy. Report the standard error, use many more test points
    for such targets, and where the fit provably has no component in some target
    degrees use :func:`split_test_error`, which adds those energies exactly.

    Parameters
    ----------
    y_pred : array, shape (m,) or (L, m)
        Predictions (one row per ridge for a path's ``predictions_test``).
    y_true : array, shape (m,)
        Target values, ``m >= 2``.

    Returns
    -------
    mean, standard_error : float, or ndarrays of shape (L,) for 2-D ``y_pred``
    """
    y_true = check_vector("y_true", y_true)
    m = y_true.shape[0]
    if m < 2:
        raise ValueError(f"y_true must have at least 2 test points for a standard error, got {m}")
    y_pred = np.asarray(y_pred, dtype=np.float64)
    if y_pred.ndim not in (1, 2) or y_pred.shape[-1] != m:
        raise ValueError(
            f"y_pred must have shape ({m},) or (L, {m}) to match y_true, got {y_pred.shape}"
        )
    if not np.all(np.isfinite(y_pred)):
        raise ValueError("y_pred must contain only finite values (found NaN or inf)")
    sq = (y_pred - y_true) ** 2
    mean = sq.mean(axis=-1)
    se = sq.std(axis=-1, ddof=1) / np.sqrt(m)
    if y_pred.ndim == 1:
        return float(mean), float(se)
    return mean, se


def split_test_error(
    y_pred: Any, target: Any, X_test: Any, exact_degrees: Any
) -> tuple[Any, Any]:
    """Test error with the energies of the degrees the fit cannot reach added exactly.

    For a target ``f* = sum_k c_k q_k`` (:class:`ntphase.data.HarmonicTarget`) and
    a fitted function ``f_hat`` with no component in the degrees ``k`` of
    ``exact_degrees`` (e.g. ReLU NT fits in odd degrees ``>= 3``: ``xi_{d,k} = 0``),
    orthogonality of spherical harmonics of different degrees gives

        E (f* - f_hat)^2 = E (f*_rest - f_hat)^2 + sum_{k in exact_degrees} c_k^2,

    ``f*_rest`` the target without those degrees. Only the first term is estimated
    by Monte Carlo (:func:`test_error`), so the heavy-tailed high-degree parts of
    ``f*`` no longer add noise or bias (docs/theory.md, section 7). The identity is
    only valid when the premise holds; it is the caller's statement about the
    model, not checked here. ``X_test`` must be uniform on the sphere of radius
    ``sqrt(d)`` for the expectation to be the population one.

    Parameters
    ----------
    y_pred : array, shape (m,) or (L, m)
        ``f_hat`` at ``X_test``.
    target : HarmonicTarget
    X_test : array, shape (m, d)
    exact_degrees : iterable of int
        Degrees whose energy is added exactly (degrees absent from the target
        contribute 0).

    Returns
    -------
    mean, standard_error
        As :func:`test_error`; the standard error is that of the estimated part.
    """
    if not isinstance(target, HarmonicTarget):
        raise TypeError(f"target must be a ntphase.data.HarmonicTarget, got {type(target).__name__}")
    try:
        exact = {int(k) for k in exact_degrees}
    except TypeError:
        raise TypeError(
            f"exact_degrees must be an iterable of integer degrees, got {exact_degrees!r}"
        ) from None
    if any(k < 0 for k in exact):
        raise ValueError(f"exact_degrees must be degrees >= 0, got {sorted(exact)}")
    energies = target.energies()
    rest = {k: c for k, c in _coefficients(target).items() if k not in exact}
    exact_energy = float(sum(v for k, v in energies.items() if k in exact))
    X_test = as_float64_matrix("X_test", X_test, ncols=target.d)
    if rest:
        f_rest = HarmonicTarget(target.d, rest, direction=target.direction)(X_test)
    else:
        f_rest = np.zeros(X_test.shape[0])
    mean, se = test_error(y_pred, f_rest)
    return mean + exact_energy, se


def _coefficients(target: Any) -> dict[int, float]:
    coefficients = target.coefficients
    return {int(k): float(c) for k, c in dict(coefficients).items()}


# pytest must not collect these when a test module imports them by name.
test_error.__test__ = False  # type: ignore[attr-defined]
split_test_error.__test__ = False  # type: ignore[attr-defined]
