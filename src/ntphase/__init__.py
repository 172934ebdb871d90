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
from typing import Any

__version__ = "0.1.0"

# public name -> module that defines it
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
    # kernels
    "nt_kernel": "ntphase.kernels",
    "infinite_kernel": "ntphase.kernels",
    "nt_features": "ntphase.kernels",
    "truncated_kernel": "ntphase.kernels",
    # matrix-free and spectra
    "NTKernelOperator": "ntphase.operators",
    "width_path": "ntphase.operators",
    "eigenvalues": "ntphase.spectrum",
    "lambda_min": "ntphase.spectrum",
    # ridge
    "ridge_path": "ntphase.ridge",
    "RidgePath": "ntphase.ridge",
    "NTRidge": "ntphase.estimators",
    "KernelRidgeNT": "ntphase.estimators",
    "PolynomialRidge": "ntphase.estimators",
    # lazy training
    "train_network": "ntphase.training",
    # errors
    "InsufficientMemoryError": "ntphase._memory",
}

__all__ = sorted(_PUBLIC) + ["__version__"]


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'ntphase' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
