"""ntphase: the interpolation phase transition of two-layer networks in the
neural tangent (lazy) regime.

Empirical and infinite-width NT kernels, their spectra on the sphere, the
minimum eigenvalue and the memorization threshold at ``N d ~ n``, NT / kernel /
polynomial ridge regression with the self-induced regularization, lazily
trained networks, and theory beside simulation (Montanari & Zhong, Ann.
Statist. 2022, arXiv:2007.12826).

The public names below are imported lazily, so ``import ntphase`` is cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> subpackage (or module) that exports it
_PUBLIC: dict[str, str] = {
    # activations
    "Activation": "ntphase.activations",
    "get_activation": "ntphase.activations",
    # sphere
    "multiplicity": "ntphase.sphere",
    "gegenbauer": "ntphase.sphere",
    "sphere_spectrum": "ntphase.sphere",
    "SphereSpectrum": "ntphase.sphere",
    "gamma_above": "ntphase.sphere",
    "level": "ntphase.sphere",
    # data
    "sample_sphere": "ntphase.data",
    "sample_gaussian": "ntphase.data",
    "sample_weights": "ntphase.data",
    "HarmonicTarget": "ntphase.data",
    "random_labels": "ntphase.data",
    # kernels (dense, infinite width, matrix-free, width path)
    "nt_kernel": "ntphase.kernels",
    "infinite_kernel": "ntphase.kernels",
    "nt_features": "ntphase.kernels",
    "truncated_kernel": "ntphase.kernels",
    "NTKernelOperator": "ntphase.kernels",
    "width_path": "ntphase.kernels",
    # spectra and ridge
    "eigenvalues": "ntphase.linalg",
    "lambda_min": "ntphase.linalg",
    "ridge_path": "ntphase.linalg",
    "RidgePath": "ntphase.linalg",
    # estimators
    "NTRidge": "ntphase.learning",
    "KernelRidgeNT": "ntphase.learning",
    "PolynomialRidge": "ntphase.learning",
    # lazy training
    "train_network": "ntphase.training",
    # errors
    "InsufficientMemoryError": "ntphase._util.memory",
}

__all__ = [
    "Activation",
    "HarmonicTarget",
    "InsufficientMemoryError",
    "KernelRidgeNT",
    "NTKernelOperator",
    "NTRidge",
    "PolynomialRidge",
    "RidgePath",
    "SphereSpectrum",
    "eigenvalues",
    "gamma_above",
    "gegenbauer",
    "get_activation",
    "infinite_kernel",
    "lambda_min",
    "level",
    "multiplicity",
    "nt_features",
    "nt_kernel",
    "random_labels",
    "ridge_path",
    "sample_gaussian",
    "sample_sphere",
    "sample_weights",
    "sphere_spectrum",
    "train_network",
    "truncated_kernel",
    "width_path",
    "__version__",
]

if TYPE_CHECKING:  # what type checkers and IDEs see; at run time the names load lazily
    from ntphase._util.memory import InsufficientMemoryError
    from ntphase.activations import Activation, get_activation
    from ntphase.data import HarmonicTarget, random_labels, sample_gaussian, sample_sphere, sample_weights
    from ntphase.kernels import NTKernelOperator, infinite_kernel, nt_features, nt_kernel, truncated_kernel
    from ntphase.kernels.width_path import width_path
    from ntphase.learning import KernelRidgeNT, NTRidge, PolynomialRidge
    from ntphase.linalg import RidgePath, eigenvalues, lambda_min, ridge_path
    from ntphase.sphere import SphereSpectrum, gamma_above, gegenbauer, level, multiplicity, sphere_spectrum
    from ntphase.training import train_network


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'ntphase' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
