"""The real-data experiment: the digits loader, its config and a tiny run.

Oracles: an independent recomputation from ``sklearn.datasets.load_digits`` (center,
divide by the norm, scale by 8); the definition of the sphere (``||x|| = sqrt(64)``);
linear algebra (``rank(X) = 61``: three pixels are 0 in every image; ``rank(K_N) <=
N rank(X)``); scikit-learn's ``LinearRegression`` for the linear energy share.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.linear_model import LinearRegression

from ntphase.experiments import REGISTRY, get_experiment, run_experiment
from ntphase.experiments.config import ConfigError, load_config, packaged_config
from ntphase.experiments.digits import (
    DIGITS_D,
    DIGITS_N,
    linear_energy,
    load_digits_sphere,
    parity_labels,
)

TINY = {"experiment": "digits", "n_threshold": 64, "ratios": [0.5, 1.0, 2.0, 8.0], "n_values": [16, 48],
        "n_test": 60, "repeats": 1}


def test_loader_shape_sphere_and_labels():
    X, labels = load_digits_sphere()
    assert X.shape == (DIGITS_N, DIGITS_D) == (1797, 64) and X.dtype == np.float64
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 8.0, rtol=1e-13)  # radius sqrt(d)
    assert labels.shape == (1797,) and set(np.unique(labels)) == set(range(10))
    assert np.linalg.matrix_rank(X) == 61  # three pixels are 0 in every image, centering keeps them 0
    assert not X.flags.writeable and not labels.flags.writeable


def test_loader_equals_an_independent_recomputation_and_is_deterministic():
    data = load_digits()
    P = data.data - data.data.mean(axis=0)
    expected = 8.0 * P / np.linalg.norm(P, axis=1, keepdims=True)
    X, labels = load_digits_sphere()
    np.testing.assert_allclose(X, expected, rtol=1e-13, atol=1e-14)
    np.testing.assert_array_equal(labels, data.target)
    X2, _ = load_digits_sphere()
    np.testing.assert_array_equal(X, X2)
    raw, _ = load_digits_sphere(center=False)
    assert raw.min() >= 0.0  # uncentered pixels: the positive orthant
    np.testing.assert_allclose(raw, 8.0 * data.data / np.linalg.norm(data.data, axis=1, keepdims=True), rtol=1e-13)
    with pytest.raises(TypeError, match="center must be a bool"):
        load_digits_sphere(center="yes")


def test_parity_labels_and_linear_energy():
    X, labels = load_digits_sphere()
    y = parity_labels(labels)
    assert set(np.unique(y)) == {-1.0, 1.0}
    np.testing.assert_array_equal(y == 1.0, labels % 2 == 0)
    pred = LinearRegression().fit(X, y).predict(X)
    expected = 1.0 - np.sum((y - pred) ** 2) / np.sum(y**2)
    assert linear_energy(X, y) == pytest.approx(expected, rel=1e-10)
    assert 0.0 < linear_energy(X, y) < 1.0


def test_registered_with_presets_and_disjoint_sets_enforced():
    assert REGISTRY["digits"] == "ntphase.experiments.digits"
    for preset in ("quick", "full"):
        config = packaged_config("digits", preset)
        assert max(config.n_values) + config.n_test <= DIGITS_N
    with pytest.raises(ConfigError, match="n_test.*disjoint"):
        load_config({**TINY, "n_values": [16, 1500], "n_test": 400})


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("digits")
    return run_experiment(load_config(TINY), out, progress=False)


def test_tiny_run_rank_bound_and_risk_rows(tiny_run):
    table = tiny_run.table
    thr = table[(table["kind"] == "threshold") & (table["data"] == "digits")]
    wide = thr.pivot_table(index=["task_key", "N"], columns="quantity", values="value").reset_index()
    # rank(K_N) <= N rank(X) and <= n, for any data (K_N = Phi Phi^T, Phi rows in span(x_i) (x) R^N)
    assert np.all(wide["rank_KN"] <= np.minimum(64, wide["N"] * wide["rank_X"]))
    below = wide[wide["N"] * wide["rank_X"] < 64]
    assert len(below) and np.all(below["lambda_min_KN"] < 1e-10)  # singular below N rank(X) = n
    risk = table[(table["kind"] == "risk") & (table["quantity"] == "test_error")]
    assert set(risk["model"]) == {"NT", "KRR"} and set(risk["n"]) == {16, 48}
    assert np.all(risk["value"] > 0)
    module = get_experiment("digits")
    rows = module.agreement(table, tiny_run.theory, tiny_run.config)
    assert {r["prediction"].split(":")[0] for r in rows} >= {"digits", "KRR test error", "NT test error"}
    assert all(r.get("kind") == "finding" for r in rows if "isotropic" in r["prediction"])
