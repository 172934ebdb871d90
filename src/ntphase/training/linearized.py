r"""Linearized (NT-model) theory of lazy training (docs/theory.md, section 8).

The closed-form gradient-descent dynamics of the linearized
model ``f_NT(x; a) = <a, phi(x)>`` with loss ``(1/2) ||Phi a - y||^2``, started
from ``f_0 = 0`` with step ``lr`` in kernel units, written through the kernel
``K = Phi Phi^T`` alone (for the trained network, ``K = K_N(W_0)``: see
:mod:`ntphase.training.gradient_descent` for the model, the step-size units and why the
network's residual obeys ``r_{t+1} = (I - lr K) r_t`` to first order). These
are the predictions that :func:`ntphase.training.train_network` is compared
with.

With ``K = V diag(lambda) V^T`` and ``c = V^T y`` (``r_0 = -y`` since ``f_0 = 0``)::

    mse_t = (1/n) sum_i (1 - eta lambda_i)^(2 t) c_i^2            (exact discrete GD)
          ~ (1/n) sum_i exp(-2 eta lambda_i t) c_i^2             (gradient flow, time eta t)
    mse_inf = (1/n) ||(I - P) y||^2                                (P: projector on range(K_N)),

nonzero exactly when ``rank(K_N) < n`` (e.g. ``N d / 2 < n``); for random labels
with unit variance its expectation is ``1 - rank(K_N)/n``. The asymptotic
per-step decay rate of ``mse_t`` is ``-2 log|1 - eta lambda_min(K_N)|``
(``~ 2 eta lambda_min``; :func:`predicted_rate`), and :func:`fit_linear_rate`
measures the same rate on a loss curve.

Eigenvalues with ``|lambda| <= n eps max|lambda|`` count as zero (the
convention of ``numpy.linalg.matrix_rank``), so the curves reach the floor.
Everything is NumPy float64; each function costs one ``O(n^3)`` symmetric
eigendecomposition.
"""

from __future__ import annotations

import math

import numpy as np

from ntphase._util.validation import check_float, check_int, check_matrix, check_vector

__all__ = [
    "fit_linear_rate",
    "linearized_loss_curve",
    "linearized_loss_floor",
    "linearized_predictions",
    "predicted_rate",
]

#: Relative threshold below which an eigenvalue of K_N counts as zero (times
#: n * machine epsilon * lambda_max, the convention of numpy.linalg.matrix_rank).
_RANK_EPS = np.finfo(np.float64).eps


def _kernel_eigh(K, name="K"):
    import scipy.linalg

    K = np.asarray(check_matrix(name, K), dtype=np.float64)
    if K.shape[0] != K.shape[1]:
        raise ValueError(f"{name} must be a square kernel matrix, got shape {K.shape}")
    lam, V = scipy.linalg.eigh((K + K.T) / 2.0)
    return _zero_small(lam), V


def _zero_small(lam: np.ndarray) -> np.ndarray:
    """Set the eigenvalues with ``|lambda| <= n eps max|lambda|`` to 0 (``n = lam.size``)."""
    cutoff = lam.size * _RANK_EPS * np.max(np.abs(lam))
    return np.where(np.abs(lam) <= cutoff, 0.0, lam)


def _steps_array(steps) -> np.ndarray:
    if np.ndim(steps) == 0:
        return np.arange(check_int("steps", steps, minimum=0) + 1, dtype=np.float64)
    arr = np.asarray(steps)
    if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.number) or np.any(arr < 0):
        raise ValueError(f"steps must be an integer >= 0 or a 1-D array of steps >= 0, got {steps!r}")
    return arr.astype(np.float64)


def linearized_loss_curve(K, y, lr: float, steps, continuous: bool = False) -> np.ndarray:
    """Predicted training mse of the linearized (NT) model under gradient descent.

    With ``K = V diag(lambda) V^T``, ``c = V^T y`` and ``f_0 = 0``::

        mse_t = (1/n) sum_i (1 - lr lambda_i)^(2t) c_i^2      (continuous=False: exact GD)
        mse_t = (1/n) sum_i exp(-2 lr lambda_i t) c_i^2      (continuous=True: gradient flow)

    ``lr`` is the step in kernel units (module docstring); eigenvalues below
    ``n eps lambda_max`` count as zero, so the curve tends to the floor
    :func:`linearized_loss_floor`.

    Parameters
    ----------
    K : ndarray (n, n)
        Kernel of the linearized model, e.g. ``TrainingResult.kernel``.
    y : ndarray (n,)
    lr : float
        Step size ``eta`` (> 0).
    steps : int or 1-D array
        ``steps = T`` gives ``t = 0..T``; an array gives those steps.
    continuous : bool

    Returns
    -------
    ndarray (len(steps),). Cost ``O(n^3 + n len(steps))``.
    """
    lam, V = _kernel_eigh(K)
    y = check_vector("y", y, length=lam.shape[0])
    lr = check_float("lr", lr, minimum=0.0, allow_equal=False)
    t = _steps_array(steps)
    c2 = (V.T @ y) ** 2
    n = y.shape[0]
    if continuous:
        log_factor = -2.0 * lr * lam
    else:
        with np.errstate(divide="ignore"):
            log_factor = 2.0 * np.log(np.abs(1.0 - lr * lam))
    # (len(t), n) exponents; -inf (lr * lambda = 1 exactly) gives 0 for t > 0.
    with np.errstate(invalid="ignore"):
        E = np.outer(t, log_factor)
    E[:, log_factor == -np.inf] = np.where(t[:, None] == 0, 0.0, -np.inf)
    return np.exp(E) @ c2 / n


def linearized_predictions(K, y, lr: float, steps, K_cross=None) -> np.ndarray:
    """Predictions of the linearized (NT) model after ``t`` gradient steps from ``f_0 = 0``.

    GD on ``a`` with ``(1/2)||Phi a - y||^2`` and step ``lr`` keeps ``a_t = Phi^T beta_t`` with
    ``beta_t = V diag(g_t(lambda)) V^T y``, ``g_t(lambda) = (1 - (1 - lr lambda)^t) / lambda``
    (0 on the null space of ``K``, where ``K_cross`` vanishes too). Predictions:
    ``K beta_t = V diag(1 - (1 - lr lambda)^t) V^T y`` on the training points, or
    ``K_cross beta_t`` on test points. ``t -> infinity`` gives the min-norm interpolator
    ``K_cross K^+ y``.

    Parameters
    ----------
    K : ndarray (n, n)
    y : ndarray (n,)
    lr : float
        Step in kernel units (> 0).
    steps : int or 1-D array of int
    K_cross : ndarray (n_test, n), optional
        ``K(X_test, X)`` with the same weights (e.g. ``nt_kernel(X_test, W0, act, X2=X)``).

    Returns
    -------
    ndarray (n_out,) for an int ``steps``, (len(steps), n_out) for an array; ``n_out``
    is ``n`` or ``n_test``. Cost ``O(n^3 + len(steps) n n_out)``.
    """
    y = check_vector("y", y, length=np.shape(K)[0])
    lr = check_float("lr", lr, minimum=0.0, allow_equal=False)
    scalar = np.ndim(steps) == 0
    t = _steps_array(steps)[-1:] if scalar else _steps_array(steps)
    if K_cross is not None:
        K_cross = np.asarray(check_matrix("K_cross", K_cross, ncols=np.shape(K)[0]), dtype=np.float64)
    out = _LinearizedModel(K, y, K_cross).predict(lr, t)
    return out[0] if scalar else out


class _LinearizedModel:
    """Eigendecomposition of K (once) for the linearized predictions at many steps."""

    def __init__(self, K, y, K_cross=None):
        self.lam, V = _kernel_eigh(K)
        self.c = V.T @ y
        # rows of the output map: V (training points) or K_cross V (test points)
        self.B = V if K_cross is None else K_cross @ V
        self.cross = K_cross is not None

    def predict(self, lr: float, t: np.ndarray) -> np.ndarray:
        lam = self.lam
        filt = 1.0 - (1.0 - lr * lam)[None, :] ** t[:, None]  # 1 - (1 - lr lambda)^t
        if self.cross:
            safe = np.where(lam != 0.0, lam, 1.0)
            filt = np.where(lam != 0.0, filt / safe, 0.0)
        return (filt * self.c) @ self.B.T


def linearized_loss_floor(K, y) -> float:
    """Floor ``(1/n) ||(I - P) y||^2`` of the linearized loss, ``P`` the projector on range(K).

    Zero when ``K`` is invertible (``N d / 2 > n`` generically); for i.i.d.
    unit-variance labels its expectation is ``1 - rank(K)/n``. Cost ``O(n^3)``.
    """
    lam, V = _kernel_eigh(K)
    y = check_vector("y", y, length=lam.shape[0])
    c = V.T @ y
    return float(np.sum(c[lam == 0.0] ** 2) / y.shape[0])


def predicted_rate(K, lr: float, exclude_null: bool = False) -> float:
    """Asymptotic per-step decay rate of the linearized mse: ``-2 log max_i |1 - lr lambda_i|``.

    For ``lr <= 2 / (lambda_min + lambda_max)`` the maximum is attained at
    ``lambda_min(K_N)``: the rate is ``-2 log(1 - lr lambda_min) ~ 2 lr lambda_min``,
    so ``mse_t ~ C exp(-rate t)``. With ``exclude_null=True`` the zero eigenvalues
    are skipped: the rate at which the mse approaches its floor when ``K`` is singular.

    Parameters
    ----------
    K : ndarray (n, n) or 1-D array of eigenvalues
    lr : float
        Step in kernel units (> 0).
    exclude_null : bool

    Returns
    -------
    float (0 when ``lambda_min = 0`` and ``exclude_null`` is False).
    """
    lr = check_float("lr", lr, minimum=0.0, allow_equal=False)
    if np.ndim(K) == 1:
        lam = _zero_small(np.sort(np.asarray(K, dtype=np.float64)))
    else:
        lam = _kernel_eigh(K)[0]
    if exclude_null:
        lam = lam[lam != 0.0]
        if lam.size == 0:
            raise ValueError("K has no nonzero eigenvalue; the rate to the floor is undefined")
    worst = float(np.max(np.abs(1.0 - lr * lam)))
    return math.inf if worst == 0.0 else -2.0 * math.log(worst)


def fit_linear_rate(losses, steps=None, window: tuple[float, float] = (1e-3, 1e-8)) -> float:
    """Measured linear rate: minus the least-squares slope of ``log(loss)`` against the step.

    Only the points with ``window[1] <= loss / loss[0] <= window[0]`` enter the fit
    (the tail, where the slowest eigendirection dominates).

    Parameters
    ----------
    losses : 1-D array
        Loss curve, ``losses[0]`` the initial loss.
    steps : 1-D array or None
        Steps of the losses (default ``0, 1, 2, ...``).
    window : (upper, lower)
        Relative loss range of the fit, ``0 < lower < upper``.

    Returns
    -------
    float: rate per step (``loss_t ~ C exp(-rate t)``).
    """
    losses = check_vector("losses", losses)
    if steps is None:
        steps = np.arange(losses.size, dtype=np.float64)
    else:
        steps = check_vector("steps", steps, length=losses.size)
    upper, lower = (float(w) for w in window)
    if not 0 < lower < upper:
        raise ValueError(f"window must be (upper, lower) with 0 < lower < upper, got {window!r}")
    if losses[0] <= 0:
        raise ValueError(f"losses[0] must be > 0 to define relative losses, got {losses[0]}")
    rel = losses / losses[0]
    keep = (rel >= lower) & (rel <= upper)
    if np.count_nonzero(keep) < 2:
        raise ValueError(
            f"fewer than 2 losses fall in the relative window {window!r}; "
            f"the run reached {rel.min():.3g} of its start"
        )
    slope = np.polyfit(steps[keep], np.log(rel[keep]), 1)[0]
    return float(-slope)
