r"""The symmetric two-layer network of lazy training (docs/theory.md, section 8).

The model pieces of :mod:`ntphase.training` (the conventions: output scale
``alpha``, symmetric pairs, objective, step units, are documented in
:mod:`ntphase.training.gradient_descent`)::

    f(x; W, b) = (alpha / sqrt(N)) * sum_k b_k sigma(<w_k, x>),      W: (N, d), b: (N,)
    L(W, b)    = (1 / (2 n alpha^2)) * sum_i (f(x_i; W, b) - y_i)^2

Here: the effective NT dimension ``p = N d / 2`` (:func:`tangent_dimension`),
the symmetric initialization with ``f(.; W_0, b_0) = 0`` exactly
(:func:`symmetric_initialization`), the output (:func:`network_output`), the
objective and its gradient (:func:`loss_and_gradient`), and the network's
tangent kernel in kernel units (``_tangent_kernel``, equal to
:func:`ntphase.kernels.nt_kernel` when ``b_k^2 = 1``). All NumPy float64; one
output or gradient costs ``O(n N d)`` time and ``O(n N)`` memory.
"""

from __future__ import annotations

import math

import numpy as np

from ntphase._util.validation import check_choice, check_float, check_int, check_matrix, check_vector
from ntphase.activations import get_activation
from ntphase.conventions import WEIGHT_DISTRIBUTIONS
from ntphase.data import as_generator, sample_weights
from ntphase.kernels import nt_kernel

__all__ = [
    "loss_and_gradient",
    "network_output",
    "symmetric_initialization",
    "tangent_dimension",
]


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
    tangent_dimension(width, d)  # validates width (even) and d
    weights = check_choice("weights", weights, WEIGHT_DISTRIBUTIONS)
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


def _check_network(X, W, b):
    """Validated float64 inputs ``X (n, d)``, weights ``W (N, d)`` and ``b (N,)``."""
    X = np.asarray(check_matrix("X", X), dtype=np.float64)
    W = np.asarray(check_matrix("W", W, ncols=X.shape[1]), dtype=np.float64)
    b = check_vector("b", b, length=W.shape[0])
    return X, W, b


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
    act = get_activation(activation)
    X, W, b = _check_network(X, W, b)
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
    act = get_activation(activation)
    X, W, b = _check_network(X, W, b)
    y = check_vector("y", y, length=X.shape[0])
    alpha = check_float("alpha", alpha, minimum=0.0, allow_equal=False)
    r, grad_W, grad_b = _forward_backward(X, y, W, b, act, alpha, bool(train_second_layer))
    loss = float(r @ r) / (2.0 * X.shape[0] * alpha**2)
    return loss, grad_W, grad_b


def _tangent_kernel(X, W, b, activation, layers, X2=None):
    """NT kernel of the network at (W, b) in kernel units (see :mod:`ntphase.training`).

    First layer: ``(X X2^T / d) o (S' diag(b^2) S2'^T / N)``, which is
    ``nt_kernel(X, W)`` when ``b_k^2 = 1``; ``layers="both"`` adds the second-layer
    kernel ``sigma(X W^T) sigma(X2 W^T)^T / N``.
    """
    if np.all(b * b == 1.0):
        return np.asarray(nt_kernel(X, W, activation, X2=X2, layers=layers), dtype=np.float64)
    act = get_activation(activation)
    X2 = X if X2 is None else X2
    N, d = W.shape
    Z, Z2 = X @ W.T, X2 @ W.T
    D, D2 = np.asarray(act.dsigma(Z)), np.asarray(act.dsigma(Z2))
    K = (X @ X2.T / d) * ((D * (b * b)) @ D2.T / N)
    if layers == "both":
        K = K + np.asarray(act.sigma(Z)) @ np.asarray(act.sigma(Z2)).T / N
    return K
