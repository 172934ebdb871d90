"""The staircase experiment at tiny sizes: config errors, the task list, the rows of one task, the
predictor distances inside and at the edge of a regime, and the theory rows.

Sizes: d = 10, where S_1 = 11, S_2 = 65 and (relu: degree 3 absent) S_4 = 725, so n = 120 sits inside
level 2 and n = 65 at its edge. Seeds are fixed; tolerances are stated at each assertion.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from ntphase.experiments import REGISTRY
from ntphase.experiments import staircase as sc
from ntphase.experiments.config import ConfigError, load_config, packaged_config
from ntphase.sphere import multiplicity

BASE = {"experiment": "staircase", "activations": ["relu"], "sizes": {10: [20, 65, 120]}, "repeats": 2,
        "theory_points": 12}
TARGET = {"1": 1.0, "2": math.sqrt(0.5), "3": 0.5}


def _params(n: int, d: int = 10, activation: str = "relu", ridges=(0.0,), n_test: int = 1500) -> dict:
    act = sc.resolve_activation(activation, 0.5)
    p = {"activation": activation, "d": d, "n": n, "n_test": n_test, "N": sc._width(n, d, 8.0),
         "ridges": list(ridges), "target": TARGET, "noise": 0.1, "weights": "gaussian", "fit_nt": True,
         "prr_levels": sc.prr_levels(n, d, act, 1.6), "solver": "dense", "repeat": 0}
    if activation == sc.SHIFTED_TANH:
        p["shift"] = 0.5
    return p


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("activations", ["relu", "swish"], "shifted_tanh"),
        ("activations", ["relu", "relu"], "duplicates"),
        ("sizes", {1: [10, 20]}, "integer >= 2"),
        ("sizes", {10: [20, 20]}, "n values of d=10"),
        ("sizes", {}, "at least one dimension"),
        ("shift", 0.0, "nonzero"),
        ("level_window", 0.5, "greater than or equal to 1"),
        ("solver", "lu", "'auto', 'dense' or 'cg'"),
        ("ridges", [0.1, 0.0], "strictly increasing"),
        ("target", {7: 1.0}, "<= 4"),
        ("width_ratio", 0.0, "greater than 0"),
        ("colour", "red", "unknown key 'colour'"),
    ],
)
def test_config_names_the_bad_key(key, value, message):
    with pytest.raises(ConfigError) as info:
        load_config({**BASE, key: value})
    text = str(info.value)
    assert message in text and key in text, text


def test_registered_after_generalization_and_presets_validate():
    names = list(REGISTRY)
    assert names.index("staircase") == names.index("generalization") + 1
    quick, full = packaged_config("staircase", "quick"), packaged_config("staircase", "full")
    assert max(max(ns) for ns in quick.sizes.values()) <= 1500
    assert full.sizes[100][-1] == 60000 and full.sizes[500][-1] == 25000 and full.repeats >= 3


def test_level_sums_are_cumulative_multiplicities_of_present_degrees():
    # oracle: B(d,k) by the closed form; relu lacks degree 3 (xi_{d,3} = 0), shifted tanh has it
    d = 100
    s = [multiplicity(d, k) for k in range(5)]
    assert sc.level_sums(d, "relu") == {1: s[0] + s[1], 2: sum(s[:3]), 4: sum(s[:3]) + s[4]}
    assert sc.level_sums(d, sc.shifted_tanh(0.5)) == {k: sum(s[: k + 1]) for k in range(1, 5)}
    assert sc.level_sums(d, "relu")[2] == 5150


def test_tasks_cover_the_grid_and_list_both_levels_near_a_level_change():
    config = load_config({**BASE, "activations": ["relu", "shifted_tanh"], "nt_max_n": 65})
    tasks = sc.tasks(config)
    assert len(tasks) == 2 * 3 * 2
    by_n = {t["n"]: t for t in tasks if t["activation"] == "relu"}
    # S_2 = 65: 65 / 1.6 <= n <= 65 * 1.6 -> levels 1 and 2; n = 20 is near S_1 = 11 (11 * 1.6 = 17.6: no)
    assert by_n[65]["prr_levels"] == [1, 2]
    assert by_n[20]["prr_levels"] == [1]
    assert by_n[120]["prr_levels"] == [2]
    assert [t["fit_nt"] for t in tasks if t["activation"] == "relu" and t["repeat"] == 0] == [True, True, False]
    assert all(("shift" in t) == (t["activation"] == "shifted_tanh") for t in tasks)
    assert all(t["N"] == max(1, round(8.0 * t["n"] / 10)) for t in tasks)


def test_rows_of_one_task():
    rows = pd.DataFrame(sc.run_task(_params(65, ridges=(0.0, 0.1)), seed=3))
    assert set(rows["quantity"]) == {"test_error", "test_error_se", "distance_to_krr", "distance_to_krr_se"}
    for lam in (0.0, 0.1):
        err = rows[(rows["quantity"] == "test_error") & (rows["ridge"] == lam)]
        assert sorted(zip(err["model"], err["level"])) == [("KRR", 2), ("NT", 2), ("PRR", 1), ("PRR", 2)]
        assert err["solver_used"].map(lambda v: isinstance(v, str) and len(v) > 0).all()  # what ran is recorded
        # relu never learns degree 3 (added exactly): every error is at least its energy 0.25
        assert (err["value"] >= 0.25).all() and np.isfinite(err["value"]).all()
        prr = err[err["model"] == "PRR"].set_index("level")
        # the solve ridge is lambda + gamma_{>l}, and gamma_{>1} > gamma_{>2} > 0
        assert prr.loc[1, "fit_ridge"] > prr.loc[2, "fit_ridge"] > lam
        assert (prr["prr_choice"] == ["adjacent", "level(n)"]).all()
        dist = rows[(rows["quantity"] == "distance_to_krr") & (rows["ridge"] == lam)]
        assert sorted(zip(dist["model"], dist["level"])) == [("NT", 2), ("PRR", 1), ("PRR", 2)]
        assert (dist["value"] > 0).all() and (dist["value"] < 2).all()


def test_prr_matches_krr_inside_a_regime_not_at_the_wrong_level():
    # Montanari-Zhong Theorem 2: inside level 2 (S_2 = 65 <= n < S_4 = 725) ||f_PRR - f_KRR|| / ||f*||
    # is small; PRR at the other adjacent level (l = 1) near S_2 is not. Measured (seeds 0-2, d = 10):
    # level(n) PRR 0.03-0.09 at n in {65, 120}, level-1 PRR 0.30-0.44 at n = 65. Band: < 0.15 vs > 0.2.
    at_edge = pd.DataFrame(sc.run_task(_params(65), seed=0))
    inside = pd.DataFrame(sc.run_task(_params(120), seed=0))

    def dist(rows, model, level):
        sel = rows[(rows["quantity"] == "distance_to_krr") & (rows["model"] == model) & (rows["level"] == level)]
        return float(sel["value"].iloc[0])

    assert dist(inside, "PRR", 2) < 0.15
    assert dist(at_edge, "PRR", 2) < 0.15
    assert dist(at_edge, "PRR", 1) > 0.2
    assert dist(at_edge, "PRR", 1) > 3 * dist(at_edge, "PRR", 2)


def test_distance_is_the_l2_norm_of_the_difference():
    # oracle: a constant difference c has ||c|| = |c| exactly, with zero standard error
    a = np.full(100, 0.3)
    value, se = sc._distance(a, np.zeros(100), norm=2.0)
    assert value == pytest.approx(0.15, rel=1e-12) and se == pytest.approx(0.0, abs=1e-15)


def test_theory_rows_finite_and_staircase_non_increasing():
    config = load_config({**BASE, "activations": ["relu", "shifted_tanh"], "ridges": [0.0, 0.1]})
    th = pd.DataFrame(sc.theory_rows(config))
    assert np.isfinite(th["value"]).all()
    for (_, _), g in th.groupby(["activation", "ridge"]):
        # the asymptotic staircase ||P_{>l(n)} f*||^2 can only drop as n grows (l(n) is non-decreasing);
        # the KRR equivalent (ridge-less or not) is non-increasing on this grid (more data, same model)
        for q in ("asymptotic_risk", "krr_risk"):
            v = g[g["quantity"] == q].sort_values("n")["value"].to_numpy()
            assert np.all(np.diff(v) <= 1e-12), q
    prr = th[(th["quantity"] == "prr_risk") & (th["activation"] == "relu") & (th["ridge"] == 0.0)]
    # both adjacent levels near S_2 = 65 (65/1.6 <= n <= 104), a single level far from it
    near = prr[prr["n"].between(41, 104)].groupby("n")["level"].apply(sorted)
    assert all(levels == [1, 2] for levels in near)
    assert (prr[prr["n"] == 120]["level"] == 2).all()


@pytest.mark.parametrize("ridges", [(0.0,), (0.0, 0.1)], ids=["one-ridge", "ridges-batched"])
def test_matrix_free_solvers_reproduce_the_dense_rows_and_are_recorded(ridges):
    # oracle: the dense (Cholesky) fits on the same sample, one per ridge; CG to rtol 1e-8 (with two
    # ridges KRR and NT run as one block PCG per model, NT on the weights NTRidge draws) and the primal
    # polynomial ridge must give the same test errors and distances to 1e-5 relative
    dense = pd.DataFrame(sc.run_task({**_params(120, ridges=ridges), "solver": "dense"}, seed=5))
    cg = pd.DataFrame(sc.run_task({**_params(120, ridges=ridges), "solver": "cg"}, seed=5))
    keys = ["quantity", "model", "level", "ridge"]
    both = dense.merge(cg, on=keys, suffixes=("_dense", "_cg"))
    assert len(both) == len(dense) == len(cg)
    main = both[both["quantity"].isin(["test_error", "distance_to_krr"])]
    np.testing.assert_allclose(main["value_cg"], main["value_dense"], rtol=1e-5)
    fits = cg[(cg["quantity"] == "test_error") & (cg["ridge"] == 0.0)].set_index("model")
    assert fits.loc["KRR", "solver_used"].startswith("cg") and fits.loc["KRR", "n_iter"] >= 1
    assert fits.loc["NT", "solver_used"].startswith("cg") and fits.loc["NT", "residual"] <= 1e-8
    assert fits.loc["PRR", "solver_used"] == "primal"
    assert (dense[dense["quantity"] == "test_error"]["n_iter"].isna()).all()
