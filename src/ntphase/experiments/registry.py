"""The registry of experiments: name -> module, imported on first use."""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["REGISTRY", "available_experiments", "get_experiment"]

#: experiment name -> module path (imported on first use). Order = report order.
REGISTRY: dict[str, str] = {
    "phase_transition": "ntphase.experiments.phase_transition",
    "spectrum": "ntphase.experiments.kernel_spectra",
    "double_descent": "ntphase.experiments.double_descent",
    "generalization": "ntphase.experiments.generalization",
    "staircase": "ntphase.experiments.staircase",
    "lazy_training": "ntphase.experiments.lazy_training",
    "digits": "ntphase.experiments.digits",
}

def get_experiment(name: str) -> ModuleType:
    """Import and return the experiment module registered as ``name``.

    Raises
    ------
    ValueError
        ``name`` is not in ``REGISTRY``.
    ModuleNotFoundError
        The module is registered but not installed (not written yet).
    """
    if name not in REGISTRY:
        raise ValueError(f"experiment must be one of {sorted(REGISTRY)}, got {name!r}")
    return importlib.import_module(REGISTRY[name])


def available_experiments() -> list[str]:
    """Registered experiments whose module can be imported, in registry order."""
    names = []
    for name, path in REGISTRY.items():
        try:
            importlib.import_module(path)
        except ModuleNotFoundError as exc:
            if exc.name != path:
                raise
            continue
        names.append(name)
    return names
