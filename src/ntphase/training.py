r"""Lazy training of the two-layer network (THEORY.md section 8).

Model, initialization and scaling
---------------------------------
The network has ``N`` hidden units (``N`` even) and an output scale ``alpha``
(Chizat, Oyallon & Bach, "On lazy training in differentiable programming",
NeurIPS 2019)::

    f(x; W, b) = (alpha / sqrt(N)) * sum_k b_k sigma(<w_k, x>),      W: (N, d), b: (N,)

``alpha`` enters only as this output multiplier. At ``alpha = 1`` this is the
network of THEORY.md section 1.

*Symmetric initialization.* With ``m = N / 2``: ``w_1..w_m`` are drawn i.i.d.
``N(0, I_d / d)`` (or uniform on the unit sphere), ``w_{m+j} = w_j``,
``b_j = +1`` and ``b_{m+j} = -1``. Then ``f(x; W_0, b_0) = 0`` for every ``x``
(exactly in floating point: the two halves are summed separately, see
:func:`network_output`).

*Objective.* Gradient descent minimizes the Chizat-Oyallon-Bach rescaled square
loss::

    L(W, b) = (1 / (2 n alpha^2)) * sum_i (f(x_i; W, b) - y_i)^2.

The training loss that is *reported* everywhere (history, curves, tolerances) is
the plain mean squared residual ``mse = (1/n) ||f - y||^2 = 2 alpha^2 L``.

*Link to the NT kernel K_N.* The Jacobian of the output in ``w_k`` is
``d f(x)/d w_k = (alpha / sqrt(N)) b_k sigma'(<w_k, x>) x``, so the tangent kernel
in the first-layer weights is::

    sum_k <d f(x)/d w_k, d f(x')/d w_k> = alpha^2 (1/N) sum_k b_k^2 sigma'(<w_k,x>) sigma'(<w_k,x'>) <x, x'>
                                         = alpha^2 d K_N(x, x')              (b_k^2 = 1),

with ``K_N = (X X^T / d) o (S S^T / N)`` exactly as :func:`ntphase.kernels.nt_kernel`
computes it. The factor ``d`` appears because THEORY's features
``phi(x) = (N d)^(-1/2) (sigma'(<w_k,x>) x)_k`` carry ``d^(-1/2)`` that the network's
gradient does not: ``phi(x) = J_W f(x) / (alpha sqrt(d))`` up to the signs ``b_k``.

*Step size in kernel units.* One step is::

    W <- W - (n eta / d) * grad_W L(W, b)          i.e.  Delta W = -(eta / (alpha^2 d)) J_W^T (f - y),
    b <- b - (n eta) * grad_b L(W, b)              (only with train_second_layer=True),

so that, to first order in ``Delta W``, the training residual ``r = f(X) - y`` obeys::

    r_{t+1} = (I - eta K_N) r_t,

which is exactly gradient descent with step ``eta`` on the NT model
``f_NT(x; a) = <a, phi(x)>`` with loss ``(1/2) ||Phi a - y||^2``; the NT
coefficients are ``a_k = alpha sqrt(d) b_k (w_k - w_k^0)`` (hence
``||W_t - W_0||_F = ||a_t|| / (alpha sqrt d)``: the weights move by ``O(1/alpha)``
while ``f`` moves by ``O(1)``, and the deviation from the linearized dynamics is
``O(1/alpha)``: the lazy limit ``alpha -> infinity``). ``eta`` (the ``lr``
argument) is therefore measured in kernel units: the linearized dynamics are
stable for ``eta < 2 / lambda_max(K_N)``, and the default is
``eta = 1 / lambda_max(K_N(W_0))``. When the second layer is trained too, the
``b`` step ``n eta`` adds the second-layer kernel ``sigma(X W^T) sigma(X W^T)^T / N``,
so the linearized kernel is ``nt_kernel(..., layers="both")``.

*Width and the interpolation threshold.* Because the two units of a pair share
``w`` and carry opposite ``b``, their tangent features are ``+v`` and ``-v``:
``K_N(W_0)`` computed from all ``N`` rows equals ``K_{N/2}`` of the ``N/2``
distinct rows, and its rank is at most ``N d / 2``. The NT model of the
symmetric network therefore has ``p = N d / 2`` effective parameters
(:func:`tangent_dimension`), and the lazily trained network memorizes arbitrary
labels iff ``N d / 2 > n`` (THEORY.md section 4 with ``N/2`` distinct units).

*How lazy.* The weights move by ``O(1/alpha)``. With the symmetric pairs and a
smooth ``sigma``, the first-order displacements of the two units of a pair are
opposite, so the kernel moves by only ``O(alpha^-2)`` and the network deviates from
its linearization by ``O(alpha^-2)`` (derivation in
:mod:`ntphase.experiments.lazy_training`; measured exponent 2.000). For ReLU,
``sigma'`` is piecewise constant: ``K_N(W_t) = K_N(W_0)`` exactly until an
activation pattern flips, and each flip is a jump.

Linearized theory (:func:`linearized_loss_curve`)
-------------------------------------------------
With ``K_N = V diag(lambda) V^T`` and ``c = V^T y`` (``r_0 = -y`` since ``f_0 = 0``)::

    mse_t = (1/n) sum_i (1 - eta lambda_i)^(2 t) c_i^2            (exact discrete GD)
          ~ (1/n) sum_i exp(-2 eta lambda_i t) c_i^2             (gradient flow, time eta t)
    mse_inf = (1/n) ||(I - P) y||^2                                (P: projector on range(K_N)),

nonzero exactly when ``rank(K_N) < n`` (e.g. ``N d / 2 < n``); for random labels
with unit variance its expectation is ``1 - rank(K_N)/n``. The asymptotic
per-step decay rate of ``mse_t`` is ``-2 log|1 - eta lambda_min(K_N)|``
(``~ 2 eta lambda_min``; :func:`predicted_rate`).

Everything is NumPy float64 (inputs of other dtypes are converted; the tiny
differences ``sigma(<w + Delta, x>) - sigma(<w - Delta, x>)`` of the lazy regime
need it). Costs: one full-batch step is ``O(n N d)`` time and ``O(n N)`` memory (no loop
over units or samples); a record point adds ``O(n_test N d)`` for the test
predictions and ``O(n^2 (N + d) + n^3)`` for the kernel movement.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ntphase._memory import check_memory
from ntphase._validation import check_choice, check_float, check_int, check_matrix, check_vector

__all__ = [
    "TrainingResult",
    "fit_linear_rate",
    "linearized_loss_curve",
    "linearized_loss_floor",
    "linearized_predictions",
    "loss_and_gradient",
    "network_output",
    "predicted_rate",
    "symmetric_initialization",
    "tangent_dimension",
    "train_network",
]

#: Training stops as diverged when the mse exceeds this multiple of its start.
DIVERGENCE_FACTOR = 1e8

#: Relative threshold below which an eigenvalue of K_N counts as zero (times
#: n * machine epsilon * lambda_max, the convention of numpy.linalg.matrix_rank).
_RANK_EPS = np.finfo(np.float64).eps

#: Largest n for which operator norms use a dense symmetric eigensolver.
_DENSE_NORM_MAX = 2000

HISTORY_COLUMNS = (
    "step",
    "train_loss",
    "test_error",
    "weight_movement",
    "kernel_movement",
    "interpolator_distance",
    "linearized_distance",
)


# ---------------------------------------------------------------------------
# model pieces
# ---------------------------------------------------------------------------


def _activation(activation: Any):
    from ntphase.activations import get_activation

    return get_activation(activation)


def tangent_dimension(width: int, d: int) -> int:
    """Number of effective NT parameters ``p = N d / 2`` of the symmetric network.

    The ``N`` units come in ``N/2`` pairs sharing ``w`` (opposite ``b``), so the
    tangent features span at most ``(N/2) d`` dimensions; the memorization
    threshold of the lazily trained network is ``p = n``.

    Examples
    --------
    >>> tangent_dimension(20, 10)
    100
    """
    width = check_int("width", width, minimum=2)
    d = check_int("d", d, minimum=1)
    if width % 2:
        raise ValueError(f"width must be an even integer (units come in symmetric pairs), got {width}")
    return width * d // 2


def symmetric_initialization(width: int, d: int, rng=None, weights: str = "gaussian"):
    """Symmetric initialization ``(W_0, b_0)`` with ``f(x; W_0, b_0) = 0``.

    ``W_0[:m]`` are ``m = width/2`` rows from :func:`ntphase.data.sample_weights`
    (``N(0, I/d)`` or unit sphere), ``W_0[m:] = W_0[:m]``; ``b_0 = (+1,...,+1,-1,...,-1)``.

    Parameters
    ----------
    width : int
        Even number of hidden units ``N``.
    d : int
        Input dimension.
    rng : numpy.random.Generator, int or None
    weights : {"gaussian", "sphere"}

    Returns
    -------
    W0 : ndarray (width, d), float64
    b0 : ndarray (width,), float64
    """
    from ntphase.data import as_generator, sample_weights

    tangent_dimension(width, d)  # validates width (even) and d
    weights = check_choice("weights", weights, ("gaussian", "sphere"))
    m = width // 2
    half = np.asarray(sample_weights(m, d, as_generator(rng), distribution=weights), dtype=np.float64)
    W0 = np.concatenate([half, half], axis=0)
    b0 = np.concatenate([np.ones(m), -np.ones(m)])
    return W0, b0


def _halves_dot(S: np.ndarray, b: np.ndarray) -> np.ndarray:
    # Sum the two halves of the units separately, so that a symmetric pair
    # configuration (equal columns, opposite b) cancels exactly in floating point.
    m = S.shape[1] // 2
    return S[:, :m] @ b[:m] + S[:, m:] @ b[m:]


def network_output(X, W, b, activation, alpha: float = 1.0) -> np.ndarray:
    """Network output ``f(x_i; W, b) = (alpha/sqrt(N)) sum_k b_k sigma(<w_k, x_i>)``.

    Parameters
    ----------
    X : ndarray (n, d)
    W : ndarray (N, d)
    b : ndarray (N,)
    activation : str or Activation
    alpha : float
        Output scale (> 0).

    Returns
    -------
    ndarray (n,), float64. Cost ``O(n N d)``.
    """
    act = _activation(activation)
    X = np.asarray(check_matrix("X", X), dtype=np.float64)
    W = np.asarray(check_matrix("W", W, ncols=X.shape[1]), dtype=np.float64)
    b = check_vector("b", b, length=W.shape[0])
    alpha = check_float("alpha", alpha, minimum=0.0, allow_equal=False)
    S = np.asarray(act.sigma(X @ W.T), dtype=np.float64)
    return (alpha / math.sqrt(W.shape[0])) * _halves_dot(S, b)


def _forward_backward(X, y, W, b, act, alpha, second_layer):
    """Residual r = f - y and the gradients of L = ||r||^2 / (2 n alpha^2). O(n N d)."""
    n = X.shape[0]
    N = W.shape[0]
    Z = X @ W.T
    S = np.asarray(act.sigma(Z), dtype=np.float64)
    r = (alpha / math.sqrt(N)) * _halves_dot(S, b) - y
    scale = 1.0 / (n * alpha * math.sqrt(N))  # (1/(n alpha^2)) * (alpha/sqrt(N))
    D = np.asarray(act.dsigma(Z), dtype=np.float64)
    D *= r[:, None]
    grad_W = (D.T @ X) * (scale * b)[:, None]
    grad_b = scale * (S.T @ r) if second_layer else None
    return r, grad_W, grad_b


def loss_and_gradient(W, b, X, y, activation, alpha: float = 1.0, train_second_layer: bool = False):
    """Objective ``L(W, b) = ||f(X; W, b) - y||^2 / (2 n alpha^2)`` and its gradient.

    Formulas (``z_ik = <w_k, x_i>``, ``r = f(X) - y``)::

        dL/dw_k = (1/(n alpha sqrt(N))) b_k sum_i r_i sigma'(z_ik) x_i
        dL/db_k = (1/(n alpha sqrt(N)))     sum_i r_i sigma(z_ik)

    computed as two matrix products (cost ``O(n N d)``, memory ``O(n N)``).

    Parameters
    ----------
    W : ndarray (N, d)
    b : ndarray (N,)
    X : ndarray (n, d)
    y : ndarray (n,)
    activation : str or Activation
    alpha : float
        Output scale (> 0).
    train_second_layer : bool
        Also return the gradient in ``b``.

    Returns
    -------
    loss : float
    grad_W : ndarray (N, d)
    grad_b : ndarray (N,) or None
    """
    act = _activation(activation)
    X = np.asarray(check_matrix("X", X), dtype=np.float64)
    W = np.asarray(check_matrix("W", W, ncols=X.shape[1]), dtype=np.float64)
    b = check_vector("b", b, length=W.shape[0])
    y = check_vector("y", y, length=X.shape[0])
    alpha = check_float("alpha", alpha, minimum=0.0, allow_equal=False)
    r, grad_W, grad_b = _forward_backward(X, y, W, b, act, alpha, bool(train_second_layer))
    loss = float(r @ r) / (2.0 * X.shape[0] * alpha**2)
    return loss, grad_W, grad_b


def _tangent_kernel(X, W, b, activation, layers, X2=None):
    """NT kernel of the network at (W, b) in kernel units (see the module docstring).

    First layer: ``(X X2^T / d) o (S' diag(b^2) S2'^T / N)``, which is
    ``nt_kernel(X, W)`` when ``b_k^2 = 1``; ``layers="both"`` adds the second-layer
    kernel ``sigma(X W^T) sigma(X2 W^T)^T / N``.
    """
    from ntphase.kernels import nt_kernel

    if np.all(b * b == 1.0):
        return np.asarray(nt_kernel(X, W, activation, X2=X2, layers=layers), dtype=np.float64)
    act = _activation(activation)
    X2 = X if X2 is None else X2
    N, d = W.shape
    Z, Z2 = X @ W.T, X2 @ W.T
    D, D2 = np.asarray(act.dsigma(Z)), np.asarray(act.dsigma(Z2))
    K = (X @ X2.T / d) * ((D * (b * b)) @ D2.T / N)
    if layers == "both":
        K = K + np.asarray(act.sigma(Z)) @ np.asarray(act.sigma(Z2)).T / N
    return K


def _symmetric_extremes(A: np.ndarray) -> tuple[float, float]:
    """(smallest, largest) eigenvalue of a symmetric matrix (dense or Lanczos)."""
    import scipy.linalg
    import scipy.sparse.linalg

    if A.shape[0] <= _DENSE_NORM_MAX:
        ev = scipy.linalg.eigvalsh(A)
        return float(ev[0]), float(ev[-1])
    lo = scipy.sparse.linalg.eigsh(A, k=1, which="SA", return_eigenvectors=False)[0]
    hi = scipy.sparse.linalg.eigsh(A, k=1, which="LA", return_eigenvectors=False)[0]
    return float(lo), float(hi)


def _op_norm_symmetric(A: np.ndarray) -> float:
    lo, hi = _symmetric_extremes(A)
    return max(abs(lo), abs(hi))


# ---------------------------------------------------------------------------
# linearized theory
# ---------------------------------------------------------------------------


def _kernel_eigh(K, name="K"):
    import scipy.linalg

    K = np.asarray(check_matrix(name, K), dtype=np.float64)
    if K.shape[0] != K.shape[1]:
        raise ValueError(f"{name} must be a square kernel matrix, got shape {K.shape}")
    lam, V = scipy.linalg.eigh((K + K.T) / 2.0)
    cutoff = K.shape[0] * _RANK_EPS * max(abs(lam[-1]), abs(lam[0]), 0.0)
    lam = np.where(np.abs(lam) <= cutoff, 0.0, lam)
    return lam, V


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
    y = check_vector("y", y, length=K.shape[0])
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
    y = check_vector("y", y, length=K.shape[0])
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
        lam = np.sort(np.asarray(K, dtype=np.float64))
        cutoff = lam.size * _RANK_EPS * np.max(np.abs(lam))
        lam = np.where(np.abs(lam) <= cutoff, 0.0, lam)
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


# ---------------------------------------------------------------------------
# training
# ---------------------------------------------------------------------------


@dataclass
class TrainingResult:
    """Outcome of :func:`train_network`.

    Attributes
    ----------
    history : pandas.DataFrame
        One row per record point; columns ``step, train_loss`` (mse
        ``(1/n)||f - y||^2``), ``test_error`` (test mse; NaN without ``y_test``),
        ``weight_movement`` (``||W_t - W_0||_F / ||W_0||_F``; both layers: the
        concatenated ``(W, b)``), ``kernel_movement``
        (``||K(W_t) - K(W_0)||_op / ||K(W_0)||_op``; NaN if not recorded),
        ``interpolator_distance`` (``||f_t(X_test) - f_int(X_test)|| / ||f_int(X_test)||``
        with ``f_int`` the NT min-norm interpolator; NaN without ``X_test``).
    loss_steps, loss_curve : ndarray
        Training mse at every step (full batch) or at record points (minibatch).
    W, b : ndarray (N, d), (N,)
        Final weights. ``W0, b0``: initial ones.
    predictions_train : ndarray (n,)
    predictions_test : ndarray (n_test,) or None
    interpolator_predictions : ndarray (n_test,) or None
    kernel : ndarray (n, n)
        ``K(W_0)`` on the training data (``nt_kernel(X, W0, layers=...)``): the
        kernel of the linearized dynamics.
    lr : float
        Step in kernel units. ``lambda_max``: largest eigenvalue of ``kernel``.
    steps : int
        Updates performed. ``converged``: the tolerance was reached.
        ``diverged``: the mse blew up (stopped early).
    alpha, width, layers, activation : settings of the run.
    """

    history: pd.DataFrame
    loss_steps: np.ndarray
    loss_curve: np.ndarray
    W: np.ndarray
    b: np.ndarray
    W0: np.ndarray
    b0: np.ndarray
    predictions_train: np.ndarray
    predictions_test: np.ndarray | None
    interpolator_predictions: np.ndarray | None
    kernel: np.ndarray
    lr: float
    lambda_max: float
    steps: int
    converged: bool
    diverged: bool
    alpha: float
    width: int
    layers: str
    activation: str
    extras: dict = field(default_factory=dict)

    @property
    def final_loss(self) -> float:
        """Training mse at the end of the run."""
        return float(self.loss_curve[-1])

    @property
    def initial_loss(self) -> float:
        """Training mse at initialization, ``(1/n) ||y||^2``."""
        return float(self.loss_curve[0])


def _min_norm_predictions(K0, y, K_cross):
    """Test predictions ``K(X_test, X) K^+ y`` of the NT min-norm interpolator.

    This is the limit of gradient descent on the linearized model from ``f_0 = 0``
    also when ``K`` is singular (``N d / 2 < n``): the pseudo-inverse is then the
    intended answer, so ridge's warning about dropped eigenvalues is silenced here.
    """
    from ntphase.ridge import min_norm_interpolator

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        coef = np.asarray(min_norm_interpolator(K0, y), dtype=np.float64)
    return K_cross @ coef


def train_network(
    X,
    y,
    activation,
    width: int,
    alpha: float,
    steps: int = 10_000,
    lr: float | None = None,
    tol: float = 1e-10,
    train_second_layer: bool = False,
    minibatch: int | None = None,
    rng=None,
    X_test=None,
    y_test=None,
    record_every: int = 100,
    interpolator_predictions=None,
    weights: str = "gaussian",
    record_kernel: bool = True,
) -> TrainingResult:
    """Train ``f(x; W, b)`` by gradient descent on the square loss from a symmetric init.

    The model, objective, step-size units and their link to ``K_N`` are in the
    module docstring: each step is ``W <- W - (n_B eta / d) grad_W L_B`` (and
    ``b <- b - n_B eta grad_b L_B`` when ``train_second_layer``), with ``L_B`` the
    objective ``||f - y||^2 / (2 n_B alpha^2)`` on the batch of ``n_B`` samples
    (``n_B = n`` full batch). To first order the training residual follows
    ``r <- r - eta K[:, B] r_B``, i.e. ``(I - eta K_N) r`` at full batch.

    Parameters
    ----------
    X : ndarray (n, d)
        Training inputs (THEORY uses the sphere of radius ``sqrt(d)``).
    y : ndarray (n,)
        Labels.
    activation : str or Activation
    width : int
        Even number of hidden units ``N`` (``N/2`` symmetric pairs; the NT model
        has ``p = N d / 2`` parameters, see :func:`tangent_dimension`).
    alpha : float
        Output scale (> 0); ``alpha -> infinity`` is the lazy limit.
    steps : int
        Step budget (>= 0).
    lr : float or None
        Step ``eta`` in kernel units; default ``1 / lambda_max(K(W_0))``.
    tol : float
        Stop as soon as ``mse <= tol * mse_0`` (checked every step at full batch,
        at record points with minibatches).
    train_second_layer : bool
        Train ``b`` as well (the linearized kernel is then ``layers="both"``).
    minibatch : int or None
        Batch size for SGD (batches drawn without replacement each step from
        ``rng``); ``None`` is full-batch GD. With the default ``lr`` SGD is stable
        since ``lambda_max(K_BB) <= lambda_max(K)``.
    rng : numpy.random.Generator, int or None
        Initialization (and batches).
    X_test : ndarray (n_test, d), optional
    y_test : ndarray (n_test,), optional
        Test labels for ``test_error``.
    record_every : int
        Record the history every this many steps (and at the last step).
    interpolator_predictions : ndarray (n_test,), optional
        Test predictions of the NT min-norm interpolator; computed from
        ``K(W_0)`` with :func:`ntphase.ridge.min_norm_interpolator` when omitted
        and ``X_test`` is given.
    weights : {"gaussian", "sphere"}
        Distribution of the first-layer rows at initialization.
    record_kernel : bool
        Record the kernel movement (costs ``O(n^2 (N + d) + n^3)`` per record point).

    Returns
    -------
    TrainingResult

    Notes
    -----
    Cost per full-batch step ``O(n N d)``; memory ``O(n N + n^2)``. A run that
    blows up (mse above ``DIVERGENCE_FACTOR`` times its start, or non-finite) stops
    with a ``RuntimeWarning`` and ``diverged=True``.
    """
    act = _activation(activation)
    X = np.asarray(check_matrix("X", X), dtype=np.float64)
    n, d = X.shape
    y = check_vector("y", y, length=n)
    width = check_int("width", width, minimum=2)
    tangent_dimension(width, d)
    alpha = check_float("alpha", alpha, minimum=0.0, allow_equal=False)
    steps = check_int("steps", steps, minimum=0)
    if lr is not None:
        lr = check_float("lr", lr, minimum=0.0, allow_equal=False)
    tol = check_float("tol", tol, minimum=0.0)
    record_every = check_int("record_every", record_every, minimum=1)
    if minibatch is not None:
        minibatch = check_int("minibatch", minibatch, minimum=1, maximum=n)
    if not isinstance(train_second_layer, (bool, np.bool_)):
        raise TypeError(f"train_second_layer must be a bool, got {train_second_layer!r}")
    second = bool(train_second_layer)
    layers = "both" if second else "first"
    if X_test is not None:
        X_test = np.asarray(check_matrix("X_test", X_test, ncols=d), dtype=np.float64)
    if y_test is not None:
        if X_test is None:
            raise ValueError("y_test requires X_test")
        y_test = check_vector("y_test", y_test, length=X_test.shape[0])
    if interpolator_predictions is not None:
        if X_test is None:
            raise ValueError("interpolator_predictions requires X_test")
        interpolator_predictions = check_vector(
            "interpolator_predictions", interpolator_predictions, length=X_test.shape[0]
        ).copy()
    n_test = 0 if X_test is None else X_test.shape[0]
    check_memory(
        8.0 * (4 * max(n, n_test) * width + 3 * n * n + 2 * width * d),
        f"training arrays for n={n}, N={width}, d={d}",
        "reduce n, the width, or the test set",
    )

    from ntphase.data import as_generator

    gen = as_generator(rng)
    W0, b0 = symmetric_initialization(width, d, gen, weights=weights)

    K0 = _tangent_kernel(X, W0, b0, act, layers)
    lam_lo, lam_max = _symmetric_extremes(K0)
    if lam_max <= 0:
        raise ValueError("the kernel K(W_0) is zero (no active unit on any sample); cannot set a step size")
    if lr is None:
        lr = 1.0 / lam_max
    K0_norm = max(abs(lam_lo), abs(lam_max))

    linear_model = None
    if X_test is not None:
        K_cross = _tangent_kernel(X_test, W0, b0, act, layers, X2=X)
        if interpolator_predictions is None:
            interpolator_predictions = _min_norm_predictions(K0, y, K_cross)
        linear_model = _LinearizedModel(K0, y, K_cross)
    int_norm = None if interpolator_predictions is None else float(np.linalg.norm(interpolator_predictions))

    W, b = W0.copy(), b0.copy()
    W0_norm = math.sqrt(float(np.sum(W0 * W0)) + (float(b0 @ b0) if second else 0.0))
    step_W = lr / d  # times n_B: Delta W = -(n_B eta / d) grad_W L_B
    step_b = lr

    records: list[dict] = []

    def record(t: int, mse: float) -> None:
        row = dict.fromkeys(HISTORY_COLUMNS, np.nan)
        row.update(step=t, train_loss=mse)
        dW = W - W0
        moved = float(np.sum(dW * dW)) + (float((b - b0) @ (b - b0)) if second else 0.0)
        row["weight_movement"] = math.sqrt(moved) / W0_norm
        if X_test is not None:
            f_test = network_output(X_test, W, b, act, alpha)
            if y_test is not None:
                row["test_error"] = float(np.mean((f_test - y_test) ** 2))
            if int_norm is not None and int_norm > 0:
                row["interpolator_distance"] = float(np.linalg.norm(f_test - interpolator_predictions) / int_norm)
            f_lin = linear_model.predict(lr, np.array([float(t)]))[0]
            lin_norm = float(np.linalg.norm(f_lin))
            if lin_norm > 0:
                row["linearized_distance"] = float(np.linalg.norm(f_test - f_lin) / lin_norm)
        if record_kernel and np.all(np.isfinite(W)) and np.all(np.isfinite(b)):
            Kt = _tangent_kernel(X, W, b, act, layers)
            row["kernel_movement"] = _op_norm_symmetric(Kt - K0) / K0_norm
        records.append(row)

    loss_steps: list[int] = []
    loss_curve: list[float] = []
    converged = diverged = False
    mse0 = float(y @ y) / n
    t = 0
    while True:
        if minibatch is None:
            r, gW, gb = _forward_backward(X, y, W, b, act, alpha, second)
            mse = float(r @ r) / n
            loss_steps.append(t)
            loss_curve.append(mse)
        else:
            is_record = t % record_every == 0 or t == steps
            if is_record:
                mse = float(np.mean((network_output(X, W, b, act, alpha) - y) ** 2))
                loss_steps.append(t)
                loss_curve.append(mse)
        checked = minibatch is None or is_record
        if checked and not (math.isfinite(mse) and mse <= DIVERGENCE_FACTOR * max(mse0, np.finfo(float).tiny)):
            diverged = True
            warnings.warn(
                f"training diverged at step {t} (mse {mse:.3g}, start {mse0:.3g}) with lr={lr:.3g} "
                f"(kernel units, lambda_max={lam_max:.3g}); use lr < 2/lambda_max",
                RuntimeWarning,
                stacklevel=2,
            )
            record(t, mse)
            break
        if checked and mse <= tol * mse0:
            converged = True
        if converged or t == steps:
            if not records or records[-1]["step"] != t:
                record(t, mse)
            break
        if t % record_every == 0:
            record(t, mse)
        if minibatch is None:
            W -= (n * step_W) * gW
            if second:
                b -= (n * step_b) * gb
        else:
            idx = gen.choice(n, size=minibatch, replace=False)
            _, gW, gb = _forward_backward(X[idx], y[idx], W, b, act, alpha, second)
            W -= (minibatch * step_W) * gW
            if second:
                b -= (minibatch * step_b) * gb
        t += 1

    history = pd.DataFrame.from_records(records, columns=list(HISTORY_COLUMNS))
    return TrainingResult(
        history=history,
        loss_steps=np.asarray(loss_steps, dtype=np.int64),
        loss_curve=np.asarray(loss_curve, dtype=np.float64),
        W=W,
        b=b,
        W0=W0,
        b0=b0,
        predictions_train=network_output(X, W, b, act, alpha),
        predictions_test=None if X_test is None else network_output(X_test, W, b, act, alpha),
        interpolator_predictions=interpolator_predictions,
        kernel=K0,
        lr=float(lr),
        lambda_max=float(lam_max),
        steps=t,
        converged=converged,
        diverged=diverged,
        alpha=alpha,
        width=width,
        layers=layers,
        activation=act.name,
    )
