"""Shared conventions: option lists, tolerances, block sizes and memory budgets.

Every constant used by more than one module is defined here once and imported
(block sizes are read as ``conventions.NAME`` at call time, so one patch, e.g.
in a test, reaches every user). The numbers are the ones the package has always
used; changing a block size changes the floating-point summation order of the
kernels, so results would no longer be bitwise identical to earlier runs.
The memory budget ``MEMORY_FRACTION`` lives with the memory guard in
``ntphase._util.memory``, the layer below this one.
"""

from __future__ import annotations

from ntphase._util.validation import check_choice, check_int

__all__ = [
    "LAYERS",
    "WEIGHT_DISTRIBUTIONS",
    "XI_ZERO_RTOL",
    "RADIUS_RTOL",
    "CORRELATION_SLACK",
    "SYMMETRY_RTOL",
    "KERNEL_BLOCK_BYTES",
    "NEURON_BLOCK_BYTES",
    "nt_feature_count",
]

#: Which NT parameters are trained / are features (Montanari & Zhong 2022,
#: section 1): ``"first"`` the first-layer weights ``W`` (kernel ``K_N``, the
#: paper's object), ``"second"`` the second-layer weights (random features),
#: ``"both"`` all of them (the sum of the two kernels).
LAYERS: tuple[str, ...] = ("first", "second", "both")

#: Distributions of the first-layer weight rows ``w_k``: ``"gaussian"``
#: (``N(0, I_d)``) or ``"sphere"`` (uniform on the sphere of radius ``sqrt(d)``).
WEIGHT_DISTRIBUTIONS: tuple[str, ...] = ("gaussian", "sphere")

#: A degree ``k`` counts as absent (``xi_{d,k} = 0``) when its weight
#: ``B(d,k) xi_{d,k} <= XI_ZERO_RTOL * H(1)``. The weight is the degree's share of
#: ``H(1) = sum_k B(d,k) xi_{d,k}`` (the kernel's trace per sample), so the rule
#: is scale-free and does not depend on which degrees were computed. Structural
#: zeros (ReLU's odd degrees ``>= 3``, tanh's even degrees) come out of the
#: quadrature at ~1e-17 relative, while the smallest present weights the package
#: uses (degrees ``<= 20``) are many orders above ``1e-13``: the threshold sits
#: four orders above rounding and far below any real degree. Used for the
#: level, the spike groups, the theory's absent degrees and its tail.
XI_ZERO_RTOL = 1e-13

#: Relative tolerance on ``||x||^2 / d = 1`` for the sphere-only kernels
#: (``infinite_kernel``, ``truncated_kernel``). Norms are checked in float64;
#: rounding a sphere point to float32 moves ``||x||^2`` by at most about
#: ``2^-23 ≈ 1.2e-7`` relative, so ``1e-6`` accepts float32 data with a margin
#: while any real departure from the sphere is refused.
RADIUS_RTOL = 1e-6

#: Correlations ``t = <x, x'>/d`` are clipped to ``[-1, 1]`` when they exceed it
#: by at most this (rounding of sphere data); beyond it a ValueError is raised.
CORRELATION_SLACK = 1e-6

#: ``K`` counts as symmetric when ``max|K - K^T| <= SYMMETRY_RTOL * max|K|``.
#: Kernel matrices computed in blocks are symmetric to a few ulps (~1e-15
#: relative); a real asymmetry (a cross kernel passed by mistake) is O(1). The
#: matrix is then symmetrized as ``(K + K^T) / 2``.
SYMMETRY_RTOL = 1e-8

#: Budget of one row block of a dense kernel matrix (``nt_kernel``,
#: ``infinite_kernel``, ``truncated_kernel``): the block and several
#: activation temporaries of its size live at once, so it is kept at 32 MiB, a
#: small fraction of any output worth blocking while every block product stays
#: large enough to run at full matrix-multiply speed.
KERNEL_BLOCK_BYTES = 32 * 2**20

#: Budget of one ``n x b`` block of neurons (``S = sigma'(X W^T)`` columns) and of
#: one chunk of stacked vectors in the matrix-free operator and the width path:
#: one such buffer at a time, so twice the dense-kernel budget. A separate
#: constant from ``KERNEL_BLOCK_BYTES`` because it sets how neuron sums are
#: split, i.e. their rounding.
NEURON_BLOCK_BYTES = 64 * 2**20


def nt_feature_count(N: int, d: int, layers: str = "first") -> int:  # noqa: N803 - the paper's symbol
    """Number of NT parameters (features) ``p`` of a width-``N`` network on ``R^d``.

    ``p = N d`` (``layers="first"``), ``N`` (``"second"``), ``N (d + 1)`` (``"both"``).
    The interpolation threshold of NT ridge is ``p = n``. Cost ``O(1)``.

    Examples
    --------
    >>> nt_feature_count(10, 5), nt_feature_count(10, 5, "both")
    (50, 60)
    """
    N = check_int("N", N, minimum=1)  # noqa: N806
    d = check_int("d", d, minimum=1)
    layers = check_choice("layers", layers, LAYERS)
    return {"first": N * d, "second": N, "both": N * (d + 1)}[layers]
