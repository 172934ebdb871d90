"""NT kernels: the empirical ``K_N`` (dense, blocked, or matrix-free), the
infinite-width ``K`` (dense, or matrix-free in tiles with a certified fast kernel
function) and its degree-``<= l`` truncation (also as explicit spherical-harmonic features of degree
``<= 2``), and the width path."""

from ntphase.kernels.empirical import kernel_memory, nt_features, nt_kernel
from ntphase.kernels.harmonic import HarmonicFeatures, harmonic_features
from ntphase.kernels.infinite import infinite_kernel, truncated_kernel
from ntphase.kernels.operator import NTKernelOperator
from ntphase.kernels.tiled import InfiniteKernelOperator, cross_product
from ntphase.kernels.width_path import width_path

__all__ = [
    "HarmonicFeatures",
    "InfiniteKernelOperator",
    "NTKernelOperator",
    "cross_product",
    "harmonic_features",
    "infinite_kernel",
    "kernel_memory",
    "nt_features",
    "nt_kernel",
    "truncated_kernel",
    "width_path",
]
