r"""Lazy training of the two-layer network (docs/theory.md, section 8).

Model, initialization and scaling
---------------------------------
The network has ``N`` hidden units (``N`` even) and an output scale ``alpha``
(Chizat, Oyallon & Bach, "On lazy training in differentiable programming",
NeurIPS 2019)::

    f(x; W, b) = (alpha / sqrt(N)) * sum_k b_k sigma(<w_k, x>),      W: (N, d), b: (N,)

``alpha`` enters only as this output multiplier. At ``alpha = 1`` this is the
network of docs/theory.md, section 1.

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
computes it. The factor ``d`` appears because the theory document's features
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
labels iff ``N d / 2 > n`` (docs/theory.md, section 4 with ``N/2`` distinct units).

*How lazy.* The weights move by ``O(1/alpha)``. With the symmetric pairs and a
smooth ``sigma``, the first-order displacements of the two units of a pair are
opposite, so the kernel moves by only ``O(alpha^-2)`` and the network deviates from
its linearization by ``O(alpha^-2)`` (derivation in
:mod:`ntphase.experiments.lazy_training`; measured exponent 2.000). For ReLU,
``sigma'`` is piecewise constant: ``K_N(W_t) = K_N(W_0)`` exactly until an
activation pattern flips, and each flip is a jump.

Linearized theory
-----------------
The closed-form dynamics of the linearized model on ``K_N(W_0)`` (loss curve,
floor ``(1/n) ||(I - P) y||^2``, predictions, asymptotic rate
``-2 log|1 - eta lambda_min(K_N)|``) are :mod:`ntphase.training.linearized`;
the two-layer network itself (output, gradient, symmetric initialization,
tangent kernel) is :mod:`ntphase.training.network`.

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

from ntphase._util.memory import check_memory
from ntphase._util.validation import check_float, check_int, check_matrix, check_vector
from ntphase.activations import get_activation
from ntphase.data import as_generator
from ntphase.linalg import min_norm_interpolator
from ntphase.training.linearized import _LinearizedModel
from ntphase.training.network import (
    _forward_backward,
    _tangent_kernel,
    network_output,
    symmetric_initialization,
    tangent_dimension,
)

__all__ = ["HISTORY_COLUMNS", "TrainingResult", "train_network"]

#: Training stops as diverged when the mse exceeds this multiple of its start.
DIVERGENCE_FACTOR = 1e8

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
# kernel diagnostics
# ---------------------------------------------------------------------------


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
        Training inputs (the theory document uses the sphere of radius ``sqrt(d)``).
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
        ``K(W_0)`` with :func:`ntphase.linalg.ridge.min_norm_interpolator` when omitted
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
    act = get_activation(activation)
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


    gen = as_generator(rng)
    W0, b0 = symmetric_initialization(width, d, gen, weights=weights)

    K0 = _tangent_kernel(X, W0, b0, act, layers)
    lam_lo, lam_max = _symmetric_extremes(K0)
    if lam_max <= 0:
        raise ValueError("the kernel K(W_0) is zero (no active unit on any sample); cannot set a step size")
    if lr is None:
        lr = 1.0 / lam_max
    K0_norm = max(abs(lam_lo), abs(lam_max))

    linear_model: Any = None  # a _LinearizedModel when X_test is given
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
