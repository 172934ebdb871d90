"""Inner-product kernels on the sphere: infinite-width and truncated NT kernels.

One concept: kernels of the form ``f(<x, x'>/d)`` for data on the sphere of
radius ``sqrt(d)`` (docs/theory.md, sections 2, 3 and 5; Montanari & Zhong 2022,
section 2): :func:`infinite_kernel` (``f`` the activation's kernel function,
the ``N -> infinity`` limit of :func:`ntphase.kernels.nt_kernel`) and
:func:`truncated_kernel` (its Gegenbauer expansion up to degree ``l``), both
evaluated by one blocked float64 engine on the host.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ntphase import conventions
from ntphase._util.arrays import from_numpy, is_numpy, to_numpy
from ntphase._util.backend import float64_math, float64_math_for, offload
from ntphase._util.memory import check_memory
from ntphase._util.validation import check_choice
from ntphase.activations import get_activation
from ntphase.conventions import LAYERS
from ntphase.kernels._inputs import check_data, check_on_sphere, common_dtype
from ntphase.kernels.array_api import infinite_kernel_xp
from ntphase.kernels.tiled import dense_infinite_kernel
from ntphase.sphere import check_degree, gegenbauer, sphere_spectrum

__all__ = ["infinite_kernel", "truncated_kernel"]


def _inner_product_kernel(X: Any, X2: Any, function, what: str, workspace: int = 4) -> Any:
    """``function(clip(<x,x'>/d, -1, 1))`` in row blocks, float64 on the host, back to ``X``'s type."""
    xp, X, X2, _ = check_data(X, X2)
    dtype = common_dtype(xp, X, X2)
    Xn = to_numpy(X).astype(np.float64, copy=False)
    Yn = Xn if X2 is None else to_numpy(X2).astype(np.float64, copy=False)
    check_on_sphere(Xn, "X")
    if X2 is not None:
        check_on_sphere(Yn, "X2")
    n, d = Xn.shape
    n2 = Yn.shape[0]
    rows = int(max(1, min(n, conventions.KERNEL_BLOCK_BYTES // (8 * n2))))
    check_memory(
        8 * (n * n2 + workspace * rows * n2),
        f"{what} of shape ({n}, {n2})",
        hint="use fewer samples per kernel",
    )
    out = np.empty((n, n2), dtype=np.float64)
    for i in range(0, n, rows):
        j = min(i + rows, n)
        t = Xn[i:j] @ Yn.T
        t *= 1.0 / d
        np.clip(t, -1.0, 1.0, out=t)
        if X2 is None:
            # <x, x>/d = 1 exactly on the sphere; the computed value is off by rounding,
            # which kernels with a sqrt(1 - t) singularity (ReLU's arccos) amplify to ~1e-8
            local = np.arange(j - i)
            t[local, local + i] = 1.0
        out[i:j] = function(t)
    if X2 is None:  # exact symmetry despite rounding in the Gram product
        lower = np.tril_indices(n, -1)
        out[lower] = out.T[lower]
    if is_numpy(xp):
        return out.astype(dtype, copy=False)
    return xp.astype(from_numpy(out, xp, X), dtype)


def infinite_kernel(X: Any, activation: Any, X2: Any = None, layers: str = "first") -> Any:
    """Infinite-width NT kernel ``K(x, x') = kernel_function(<x, x'>/d)`` on the sphere.

    ``layers="first"``: ``H(t) = t h(t)``, ``h(t) = E[sigma'(G) sigma'(G')]``;
    ``"second"``: ``g(t) = E[sigma(G) sigma(G')]``; ``"both"``: ``H + g``
    (``Activation.kernel_function``; docs/theory.md, section 2). This is the entrywise
    limit of :func:`nt_kernel` as ``N -> infinity`` for Gaussian weights
    ``w_k ~ N(0, I/d)``, exact for every ``d``, **when the rows of X lie on the
    sphere of radius sqrt(d)** (then ``<w,x> ~ N(0,1)``).

    Parameters
    ----------
    X : array, shape (n, d)
        Rows with ``||x||^2 = d`` (e.g. ``sample_sphere``), within relative
        tolerance ``RADIUS_RTOL = 1e-6``; otherwise ``ValueError``.
    activation : str or Activation
    X2 : array, shape (n2, d), optional
        Cross kernel ``K(X, X2)``; default ``X``.
    layers : {"first", "second", "both"}

    Returns
    -------
    array, shape (n, n2)
        Same array type as ``X``, dtype the common floating type of the inputs
        (computed in float64). ``<x,x'>/d`` is clipped to ``[-1, 1]``; for the
        symmetric kernel (``X2 is None``) the diagonal uses ``t = 1`` exactly,
        so it is ``kernel_function(1)`` (``H(1) = E[sigma'(G)^2]``) even for
        ReLU, whose ``arccos`` turns a rounding of ``1e-16`` in ``t`` into an
        error of ``1e-8``.

    Notes
    -----
    Computed tile by tile by :func:`ntphase.kernels.tiled.dense_infinite_kernel`:
    cost ``O(n n2 d)`` for the Gram matrix (half when symmetric) plus the kernel
    function on ``n n2`` entries, evaluated by a certified polynomial
    (``<= 1e-12 H(1)`` per entry, :mod:`ntphase.kernels.fast_function`) and
    exactly near ``|t| = 1``; ReLU's ``arccos`` there uses the point gap
    ``1 - t = |x - x'|^2 / (2d)``, so near-duplicates are accurate to about
    ``1e-15``. Other array-API namespaces (PyTorch, CuPy, JAX) are computed on
    their own device by :func:`ntphase.kernels.array_api.infinite_kernel_xp`
    (float64; relu/erf closed forms and the Hermite series with ``xp``
    operations, the series coefficients from the host); inside
    :func:`ntphase.kernels.use_device` NumPy inputs are computed on that device
    and come back as NumPy.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[1.0, 1.0], [1.0, -1.0]])  # ||x||^2 = d = 2
    >>> K = infinite_kernel(X, "relu")
    >>> bool(np.isclose(K[0, 0], 0.5)), bool(np.isclose(K[0, 1], 0.0))
    (True, True)
    """
    layers = check_choice("layers", layers, LAYERS)
    act = get_activation(activation)
    moved = offload(X, X2)
    if moved is not None:
        backend, (Xd, X2d) = moved
        with float64_math(backend.xp):
            return to_numpy(infinite_kernel(Xd, act, X2d, layers))
    if not all(a is None or isinstance(a, np.ndarray) for a in (X, X2)):
        with float64_math_for(X, X2):
            xp, X, X2, _ = check_data(X, X2)
            if not is_numpy(xp):
                return xp.astype(infinite_kernel_xp(xp, X, act, X2, layers), common_dtype(xp, X, X2))
    xp, X, X2, _ = check_data(X, X2)
    dtype = common_dtype(xp, X, X2)
    Xn = to_numpy(X).astype(np.float64, copy=False)
    Yn = None if X2 is None else to_numpy(X2).astype(np.float64, copy=False)
    return dense_infinite_kernel(Xn, act, Yn, layers=layers).astype(dtype, copy=False)


def truncated_kernel(
    X: Any, activation: Any, level: int, X2: Any = None, layers: str = "first"
) -> Any:
    """Degree-``<= level`` part of the infinite-width kernel on the sphere.

    ``K_{<=l}(x, x') = sum_{k <= l} B(d,k) xi_{d,k} P_k(<x, x'>/d)``
    (docs/theory.md, sections 3 and 5), with ``B(d,k)`` the harmonic multiplicities,
    ``xi_{d,k}`` the eigenvalues of the kernel function on the sphere
    (``ntphase.sphere.sphere_spectrum``) and ``P_k`` the Gegenbauer polynomial
    normalized to ``P_k(1) = 1``. As ``level -> infinity`` it tends to
    :func:`infinite_kernel`; ``infinite_kernel - truncated_kernel`` has
    diagonal ``gamma_{>l}``.

    Parameters
    ----------
    X : array, shape (n, d)
        Rows with ``||x||^2 = d`` (tolerance ``RADIUS_RTOL``).
    activation : str or Activation
    level : int
        ``l >= 0``.
    X2 : array, shape (n2, d), optional
    layers : {"first", "second", "both"}

    Returns
    -------
    array, shape (n, n2)
        Same array type and dtype rule as :func:`infinite_kernel`.

    Notes
    -----
    Cost ``O(n n2 (d + l))`` after the spectrum (``l + 1`` quadratures).
    """
    level = check_degree("level", level)
    layers = check_choice("layers", layers, LAYERS)
    act = get_activation(activation)
    # validate the data (and d >= 2) before the spectrum is computed
    _, Xc, _, _ = check_data(X, X2)
    d = Xc.shape[1]
    spectrum = sphere_spectrum(act, d, level, layers=layers)
    weights = np.asarray(spectrum.weights(), dtype=np.float64)

    def function(t: np.ndarray) -> np.ndarray:
        acc = np.zeros_like(t)
        for k in range(level + 1):
            if weights[k] != 0.0:
                acc += weights[k] * gegenbauer(k, d, t)
        return acc

    return _inner_product_kernel(
        X, X2, function, f"truncated kernel (level {level}, {layers!r} layer)", workspace=5
    )
