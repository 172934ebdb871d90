"""The public surface is pinned: adding or removing a name is a deliberate change."""

import importlib

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


def test_all_is_pinned():
    assert set(ntphase.__all__) == EXPECTED


def test_every_public_name_resolves():
    for name in ntphase.__all__:
        assert getattr(ntphase, name) is not None, name


def test_unknown_name_raises_attribute_error():
    try:
        ntphase.no_such_name  # noqa: B018
    except AttributeError as exc:
        assert "no_such_name" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("expected AttributeError")


def test_cli_imports():
    importlib.import_module("ntphase.cli")
