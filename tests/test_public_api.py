"""The public surface is pinned: adding or removing a name is a deliberate change.

The top level ``ntphase.__all__`` and every subpackage's ``__all__`` are listed
here; every listed name must resolve, and a subpackage ``__init__`` may not
define a public name that its ``__all__`` leaves out.
"""

import __future__

import importlib
import types

import pytest

import ntphase

EXPECTED = {
    "Activation", "get_activation",
    "multiplicity", "gegenbauer", "sphere_spectrum", "SphereSpectrum", "gamma_above", "level",
    "sample_sphere", "sample_gaussian", "sample_weights", "HarmonicTarget", "random_labels",
    "nt_kernel", "infinite_kernel", "nt_features", "truncated_kernel",
    "NTKernelOperator", "width_path", "eigenvalues", "lambda_min",
    "ridge_path", "RidgePath", "NTRidge", "KernelRidgeNT", "PolynomialRidge",
    "train_network", "InsufficientMemoryError", "__version__",
}

SUBPACKAGES = {
    "ntphase._util": set(),
    "ntphase.activations": {"ACTIVATIONS", "Activation", "ClosedForm", "get_activation"},
    "ntphase.kernels": {
        "HarmonicFeatures", "InfiniteKernelOperator", "NTKernelOperator", "cross_product",
        "harmonic_features", "infinite_kernel", "kernel_memory", "nt_features", "nt_kernel", "truncated_kernel",
        "width_path",
        "DeviceUnavailableError", "infinite_kernel_product", "nt_kernel_product", "resolve_device", "use_device",
    },
    "ntphase.linalg": {
        "CGInfo", "ConvergenceWarning", "LambdaMinResult", "NystromPreconditioner", "RidgePath",
        "RidgeSolution", "WoodburyPreconditioner", "block_cg", "choose_method", "eigenvalues", "lambda_min",
        "min_norm_interpolator", "primal_ridge_path", "ridge_path", "ridge_path_auto", "ridge_path_cg",
        "solve_ridge", "spike_groups", "top_eigenvalues",
    },
    "ntphase.learning": {
        "KernelRidgeNT", "NTRidge", "PolynomialRidge", "choose_solver", "harmonic_preconditioner", "kernel_ridge_path",
        "nt_ridge_path", "nystrom_preconditioner", "polynomial_ridge_path", "split_test_error", "test_error",
    },
    "ntphase.theory": {
        "KMAX_CAP", "KMAX_DIM_FACTOR", "KernelSpectralLaw", "NTKernelSpectralLaw", "filling_degrees",
        "lambda_min_nt_edge", "asymptotic_risk", "default_kmax", "kernel_df", "krr_risk",
        "krr_risk_spectral", "lambda_min_edge", "lambda_min_mp_conjecture", "lambda_min_rf_edge",
        "nt_ridge_norm", "nt_ridge_risk", "prr_risk", "random_features_edge", "rf_norm_spectral",
        "rf_risk_spectral", "silverstein_edge",
        "solve_kappa", "spike_prediction", "theory_summary",
    },
    "ntphase.training": {
        "HISTORY_COLUMNS", "TrainingResult", "fit_linear_rate", "linearized_loss_curve",
        "linearized_loss_floor", "linearized_predictions", "loss_and_gradient", "network_output",
        "predicted_rate", "symmetric_initialization", "tangent_dimension", "train_network",
    },
    "ntphase.runtime": {
        "StoreError", "assemble", "available_cores", "connect", "expand_grid", "local_cluster",
        "lock_directory", "run_sweep", "sweep_status", "task_key", "task_seed", "write_run_info",
    },
    "ntphase.experiments": {
        "REGISTRY", "ExperimentResult", "available_experiments", "get_experiment", "load_experiment_dir",
        "run_experiment", "theory_table", "write_table",
    },
    "ntphase.cli": {"app"},
    # a module, not a subpackage, but every layer imports it: pinned as well
    "ntphase.conventions": {
        "LAYERS", "WEIGHT_DISTRIBUTIONS", "XI_ZERO_RTOL", "RADIUS_RTOL", "CORRELATION_SLACK",
        "SYMMETRY_RTOL", "KERNEL_BLOCK_BYTES", "NEURON_BLOCK_BYTES", "nt_feature_count",
    },
}


def unlisted_public_names(module: types.ModuleType) -> list[str]:
    """Public names defined in ``module`` (not imported from elsewhere, not submodules)
    that its ``__all__`` leaves out."""
    package = module.__name__
    missing = []
    for name, obj in vars(module).items():
        if name.startswith("_") or name == "TYPE_CHECKING" or name in module.__all__:
            continue
        if isinstance(obj, (types.ModuleType, __future__._Feature)):
            continue
        owner = getattr(obj, "__module__", None)
        if owner is not None and owner != package and not owner.startswith(package + "."):
            continue  # imported from another package (typing.Any, numpy, ...)
        missing.append(name)
    return sorted(missing)


def test_all_is_pinned():
    assert set(ntphase.__all__) == EXPECTED


def test_every_public_name_resolves():
    for name in ntphase.__all__:
        assert getattr(ntphase, name) is not None, name


def test_top_level_names_come_from_the_subpackages():
    # each top-level name is the same object as in the subpackage (or module) that exports it
    for name in sorted(EXPECTED - {"__version__"}):
        home = importlib.import_module(ntphase._PUBLIC[name])
        assert getattr(ntphase, name) is getattr(home, name), name


@pytest.mark.parametrize("package", sorted(SUBPACKAGES))
def test_subpackage_all_is_pinned(package):
    module = importlib.import_module(package)
    assert len(module.__all__) == len(set(module.__all__)), "duplicates in __all__"
    assert set(module.__all__) == SUBPACKAGES[package]
    for name in module.__all__:
        assert hasattr(module, name), f"{package}.{name} is listed in __all__ but does not resolve"
    assert unlisted_public_names(module) == []


def test_unlisted_name_is_caught(monkeypatch):
    # the check above can fail: a public constant defined in a package but not in __all__
    import ntphase.linalg

    monkeypatch.setattr(ntphase.linalg, "NEW_TOLERANCE", 1e-9, raising=False)
    assert unlisted_public_names(ntphase.linalg) == ["NEW_TOLERANCE"]


def test_unknown_name_raises_attribute_error():
    try:
        ntphase.no_such_name  # noqa: B018
    except AttributeError as exc:
        assert "no_such_name" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("expected AttributeError")


def test_cli_imports():
    importlib.import_module("ntphase.cli")
