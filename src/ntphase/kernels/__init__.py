"""NT kernels: the empirical ``K_N`` (dense, blocked, or matrix-free), the
infinite-width ``K`` (dense, or matrix-free in tiles with a certified fast kernel
function) and its degree-``<= l`` truncation (also as explicit spherical-harmonic features of degree
``<= 2``), and the width path; on NumPy or any array-API namespace (PyTorch, CuPy, JAX),
``use_device`` for a target device."""

from ntphase._util.backend import DeviceUnavailableError, resolve_device, use_device
from ntphase.kernels.array_api import infinite_kernel_product, nt_kernel_product
from ntphase.kernels.empirical import kernel_memory, nt_features, nt_kernel
from ntphase.kernels.harmonic import HarmonicFeatures, harmonic_features
from ntphase.kernels.infinite import infinite_kernel, truncated_kernel
from ntphase.kernels.operator import NTKernelOperator
from ntphase.kernels.tiled import InfiniteKernelOperator, cross_product
from ntphase.kernels.width_path import width_path

__all__ = [
    "DeviceUnavailableError",
    "HarmonicFeatures",
    "InfiniteKernelOperator",
    "NTKernelOperator",
    "cross_product",
    "harmonic_features",
    "infinite_kernel",
    "infinite_kernel_product",
    "kernel_memory",
    "nt_features",
    "nt_kernel",
    "nt_kernel_product",
    "resolve_device",
    "truncated_kernel",
    "use_device",
    "width_path",
]
