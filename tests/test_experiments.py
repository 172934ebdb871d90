"""Experiments on tiny configs: config validation, table schema, the paper's qualitative facts,
figures and the HTML report.

Each experiment runs once per module (fixture ``runs``) through the real runner
(``run_experiment`` -> ``sweep.run_sweep`` serially); the tests read its stored table.
Sizes are chosen so the whole file takes a few seconds on one core.
"""

from __future__ import annotations

import importlib

import matplotlib
import numpy as np
import pandas as pd
import pydantic
import pytest
import yaml

from ntphase.experiments import REGISTRY, available_experiments, get_experiment, load_experiment_dir, run_experiment
from ntphase.experiments.config import ConfigError, load_config, packaged_config

TINY = {
    "phase_transition": {
        "experiment": "phase_transition", "activations": ["tanh", "relu"], "dims": [10, 50], "n": 100,
        "ratios": [0.25, 0.5, 2.5, 64.0], "repeats": 2,
    },
    "spectrum": {"experiment": "spectrum", "activations": ["relu", "tanh"], "d": 10, "n": 200, "width_ratio": 16.0,
                 "repeats": 1},
    "double_descent": {
        "experiment": "double_descent", "activation": "relu", "d": 10, "n": 100, "n_test": 500,
        "ratios": [0.25, 0.5, 0.7, 1.0, 1.4, 2.0, 4.0, 8.0], "ridges": [0.0, 0.1], "repeats": 2,
    },
    "generalization": {
        "experiment": "generalization", "activations": ["relu"], "d": 6, "n_values": [10, 40, 160],
        "n_test": 500, "width_ratio": 16.0, "repeats": 2,
    },
}
MINE = tuple(TINY)

# Parameters every experiment's rows carry (run_sweep adds them) besides its own columns.
RESERVED = {"experiment", "task_key", "seed", "quantity", "value"}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    out = tmp_path_factory.mktemp("experiments")
    results = {name: run_experiment(load_config(cfg), out, progress=False) for name, cfg in TINY.items()}
    return out, results


def _table(runs, name: str) -> pd.DataFrame:
    return runs[1][name].table


# --------------------------------------------------------------------------- registry and configs


def test_registry_names_every_experiment_including_lazy_training():
    assert list(REGISTRY)[:4] == list(MINE)
    assert "lazy_training" in REGISTRY  # imported lazily; skipped by reproduce while absent
    for name in MINE:
        assert name in available_experiments()


@pytest.mark.parametrize("name", [n for n in REGISTRY])
def test_experiment_modules_follow_the_contract(name):
    try:
        module = get_experiment(name)
    except ModuleNotFoundError:
        pytest.skip(f"{name} is not written yet")
    for attr in ("Config", "tasks", "run_task", "theory_rows", "plot"):
        assert callable(getattr(module, attr)), (name, attr)
    assert module.Config.model_config.get("extra") == "forbid"


@pytest.mark.parametrize("name", MINE)
@pytest.mark.parametrize("preset", ["quick", "full"])
def test_packaged_configs_validate(name, preset):
    config = packaged_config(name, preset)
    assert config.experiment == name
    tasks = get_experiment(name).tasks(config)
    assert len(tasks) >= 1
    # the YAML dump reads back to the same config
    assert load_config(yaml.safe_load(config.to_yaml())) == config


def test_every_shipped_yaml_validates():
    from importlib.resources import files

    shipped = sorted(p.name for p in files("ntphase").joinpath("configs").iterdir() if p.name.endswith(".yaml"))
    assert {f"{n}_{p}.yaml" for n in MINE for p in ("quick", "full")} <= set(shipped)
    for fname in shipped:
        name, preset = fname[: -len(".yaml")].rsplit("_", 1)
        assert name in REGISTRY, fname
        try:
            get_experiment(name)
        except ModuleNotFoundError:
            continue
        if preset in ("quick", "full"):
            assert packaged_config(name, preset).experiment == name
        else:  # a named part of a preset (e.g. staircase_medium): validated from its file
            text = files("ntphase").joinpath("configs").joinpath(fname).read_text(encoding="utf-8")
            assert load_config(yaml.safe_load(text)).experiment == name, fname


@pytest.mark.parametrize("name", MINE)
def test_unknown_key_is_an_error_naming_it(name):
    with pytest.raises(ConfigError) as info:
        load_config({**TINY[name], "widht": 3})
    message = str(info.value)
    assert "unknown key 'widht'" in message
    assert "allowed keys" in message and "repeats" in message


@pytest.mark.parametrize(
    ("name", "key", "value", "rule"),
    [
        ("phase_transition", "n", 1, "greater than or equal to 2"),
        ("phase_transition", "ratios", [1.0, 0.5], "strictly increasing"),
        ("phase_transition", "activations", ["relu", "nope"], "must be one of"),
        ("phase_transition", "dims", [1], "d must be an integer >= 2"),
        ("spectrum", "width_ratio", 0.0, "greater than 0"),
        ("double_descent", "ridges", [0.0, -1.0], "ridge must be a finite number >= 0"),
        ("double_descent", "target", {}, "at least one degree"),
        ("generalization", "n_values", [10, 10], "strictly increasing"),
        ("generalization", "noise", -0.1, "greater than or equal to 0"),
    ],
)
def test_bad_value_message_names_key_rule_and_value(name, key, value, rule):
    with pytest.raises(ConfigError) as info:
        load_config({**TINY[name], key: value})
    message = str(info.value)
    assert f"key '{key}" in message
    assert rule in message
    assert repr(value)[:20] in message or str(value)[:20] in message


def test_config_without_or_with_unknown_experiment_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="no 'experiment' key"):
        load_config({"n": 3})
    with pytest.raises(ConfigError, match="key 'experiment'"):
        load_config({"experiment": "nope"})
    path = tmp_path / "c.yaml"
    path.write_text("experiment: spectrum\nn: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(path)
    with pytest.raises(FileNotFoundError):
        load_config(tmp_path / "missing.yaml")


def test_config_is_frozen_and_not_mutated_by_tasks():
    config = load_config(TINY["double_descent"])
    before = config.model_dump()
    get_experiment("double_descent").tasks(config)
    assert config.model_dump() == before
    with pytest.raises(pydantic.ValidationError, match="frozen"):
        config.n = 5  # type: ignore[misc]


# --------------------------------------------------------------------------- schema


@pytest.mark.parametrize("name", MINE)
def test_table_schema_one_row_per_task_and_quantity(runs, name):
    out, results = runs
    res = results[name]
    module = get_experiment(name)
    tasks = module.tasks(res.config)
    table = res.table
    params = set().union(*(t.keys() for t in tasks))
    assert RESERVED | params <= set(table.columns)
    assert table["task_key"].nunique() == len(tasks)
    assert (table["experiment"] == name).all()
    # every row carries its task's parameters and seed
    assert table["seed"].notna().all()
    for col in params:
        assert table[col].notna().all(), col
    # one row per task and quantity (and per index column for multi-point tasks)
    index = {
        "phase_transition": [],
        "spectrum": ["index", "group"],
        "double_descent": ["model", "N", "ridge"],
        "generalization": ["model"],
    }[name]
    key = table[["task_key", "quantity", *index]].astype(str)
    assert not key.duplicated().any()
    # files on disk: the config that ran, the tidy table, theory rows and figures
    directory = out / name
    for f in ("config.yaml", "run.yaml", "results.parquet", "theory.parquet"):
        assert (directory / f).is_file(), f
    stored = pd.read_parquet(directory / "results.parquet")
    assert len(stored) == len(table)
    assert load_config(directory / "config.yaml") == res.config
    assert {p.suffix for p in res.figures} == {".png", ".pdf"}
    assert all(p.stat().st_size > 1000 for p in res.figures)


# --------------------------------------------------------------------------- qualitative facts


def _values(table, **equal):
    sel = table
    for k, v in equal.items():
        sel = sel[sel[k] == v]
    return sel["value"].to_numpy()


def test_phase_transition_tanh_lambda_min_zero_below_threshold_and_near_K_far_above(runs):
    t = _table(runs, "phase_transition")
    tanh = t[(t["activation"] == "tanh") & (t["d"] == 10)]
    K_scale = _values(tanh, quantity="lambda_min_K").mean()
    below = tanh[tanh["ratio"] < 1.0]
    # Nd < n: rank(K_N) <= Nd < n, so lambda_min is an exact zero; dense eigvalsh returns it
    # up to round-off ~ n * eps * lambda_max (lambda_max ~ n H(1) ~ 100 here): |.| <= 1e-10.
    assert np.all(np.abs(_values(below, quantity="lambda_min_KN")) <= 1e-10)
    assert K_scale > 1e-3  # the infinite-width kernel is well conditioned: the zero is the rank
    far = tanh[tanh["ratio"] == 64.0]
    KN, K = _values(far, quantity="lambda_min_KN"), _values(far, quantity="lambda_min_K")
    # target: within 15% of lambda_min(K) at Nd/n = 64 (measured deviations here: <= 5%)
    assert np.all(np.abs(KN / K - 1.0) <= 0.15), KN / K


def test_phase_transition_min_norm_train_error(runs):
    t = _table(runs, "phase_transition")
    tr = t[t["quantity"] == "train_error"]
    # above the threshold with K_N invertible the min-norm fit interpolates (round-off only)
    interp = tr[(tr["ratio"] >= 2.5) & (tr["activation"] == "tanh")]
    assert np.all(interp["value"] < 1e-8)
    # at d = 10, ratio 1/4 gives N = 2, Nd/n = 0.2: the fit projects y on a 20-dim subspace,
    # E = 1 - 0.2 = 0.8 with standard deviation sqrt(0.8*0.2/51) ~ 0.06 (Beta law), so > 0.5
    # holds with a 5 sd margin
    low = tr[(tr["d"] == 10) & np.isclose(tr["ratio"], 0.2)]
    assert len(low) and np.all(low["value"] > 0.5)


def test_phase_transition_relu_dead_rows_explain_rank_deficit(runs):
    t = _table(runs, "phase_transition")
    relu = t[(t["activation"] == "relu") & (t["d"] == 50) & (t["ratio"] > 1.0)]
    # Two independent measurements: rank from the eigenvalues, dead rows from the diagonal.
    # A sample with all N units inactive is a zero row; otherwise rank = min(n, Nd) generically.
    pivot = relu.pivot_table(index="task_key", columns="quantity", values="value")
    assert np.array_equal(pivot["rank_deficit"].to_numpy(), pivot["dead_rows"].to_numpy())
    # N = 5 at Nd/n = 2.5: P(dead row) = 2^-5, E = 100/32 ~ 3 dead rows per seed; P(none in
    # both seeds) = (1 - 1/32)^200 ~ 0.2% -> deficit is visible, and lambda_min(K_N) = 0 there
    small = pivot[pivot["dead_rows"] > 0]
    assert len(small) >= 1
    assert np.all(np.abs(small["lambda_min_KN"]) <= 1e-10)


def test_spectrum_groups_counts_trace_and_bulk_mean(runs):
    from ntphase.activations import get_activation
    from ntphase.sphere import gamma_above, level

    t = _table(runs, "spectrum")
    theory = runs[1]["spectrum"].theory
    for act in ("relu", "tanh"):
        eK = _values(t, activation=act, quantity="eigenvalue_K")
        assert len(eK) == 200 and np.all(np.diff(eK) >= 0)
        # trace identity: diag(K) = H(1), so sum of eigenvalues = n H(1) (round-off: 1e-10 relative)
        H1 = float(get_activation(act).kernel_function(np.float64(1.0)))
        assert abs(eK.sum() - 200 * H1) <= 1e-10 * 200 * H1
        groups = t[(t["activation"] == act) & (t["quantity"] == "group_mean_K")]
        pred = theory[(theory["activation"] == act) & (theory["quantity"] == "group_location")]
        assert dict(zip(groups["group"], groups["count"])) == dict(zip(pred["group"], pred["count"]))
        gamma = gamma_above(act, 10, level(200, 10, act))
        bulk = float(groups.loc[groups["group"] == "bulk", "value"].iloc[0])
        # criterion for K: bulk mean within 2% of gamma_{>l} (measured here: <= 0.6%)
        assert abs(bulk / gamma - 1.0) <= 0.02


def test_double_descent_peak_at_threshold_and_ridge_tames_it(runs):
    t = _table(runs, "double_descent")
    nt = t[(t["quantity"] == "test_error") & (t["model"] == "NT")]
    mean = nt.groupby(["ridge", "ratio"])["value"].mean()
    zero = mean.loc[0.0]
    peak = float(zero.idxmax())
    # target: the min-norm test-error peak sits within a factor 2 of Nd = n
    assert 0.5 <= peak <= 2.0, zero
    assert zero.max() > 3.0 * zero.iloc[-1]  # a real peak, well above the wide-network error
    # lambda > 0 tames the peak: its worst error is below the min-norm peak
    assert mean.loc[0.1].max() < zero.max()
    krr = t[(t["quantity"] == "test_error") & (t["model"] == "KRR")]
    assert set(krr["ridge"]) == {0.0, 0.1} and np.all(krr["N"] == -1)


def test_generalization_rows_and_learning(runs):
    t = _table(runs, "generalization")
    te = t[t["quantity"] == "test_error"]
    assert set(te["model"]) == {"NT", "KRR", "PRR"}
    mean = te.groupby(["model", "n"])["value"].mean()
    for model in ("NT", "KRR", "PRR"):
        # more data, less error: n = 10 -> 160 crosses d = 6 and the degree-2 space (21 dims)
        assert mean.loc[(model, 160)] < 0.5 * mean.loc[(model, 10)]
    # ReLU never learns degree 3 (xi_{d,3} = 0): split_test_error adds c_3^2 exactly, so every
    # test error is at least that floor
    assert np.all(te["value"] >= 0.35**2)


@pytest.mark.parametrize("name", MINE)
def test_agreement_rows_are_complete(runs, name):
    res = runs[1][name]
    rows = get_experiment(name).agreement(res.table, res.theory, res.config)
    assert rows
    for r in rows:
        assert {"prediction", "setting", "predicted", "measured", "relative_error"} <= set(r)
        assert np.isfinite(r["measured"])
        assert r["relative_error"] >= 0


def test_plots_leave_global_style_alone_and_reload_from_disk(runs, tmp_path):
    out, results = runs
    before = dict(matplotlib.rcParams)
    backend = matplotlib.get_backend()
    for name in MINE:
        loaded = load_experiment_dir(out / name)
        pd.testing.assert_frame_equal(loaded.table, results[name].table)
        paths = get_experiment(name).plot(loaded.table, loaded.config, tmp_path / name, theory=loaded.theory)
        assert sorted(p.suffix for p in paths) == [".pdf", ".png"]
    assert dict(matplotlib.rcParams) == before
    assert matplotlib.get_backend() == backend


def test_report_embeds_every_figure_and_the_tables(runs):
    from ntphase.experiments.report import build_report

    out, results = runs
    path = build_report(out)
    page = path.read_text()
    pngs = [p for r in results.values() for p in r.figures if p.suffix == ".png"]
    assert page.count('<img alt="') == len(pngs) == len(MINE)
    assert page.count("data:image/png;base64,") == len(pngs)
    assert "Theory constants" in page and "gamma_{&gt;l} (d)" in page
    assert "measured relative errors" in page and "Gaussian-equivalent edge" in page
    assert "MP conjecture" in page
    assert "src=\"http" not in page  # self-contained
    # the experiments' reST literals (``K_N``) are rendered as <code>, not shown raw
    assert "``" not in page and "<code>K_N</code>" in page


def test_rerun_is_resumed_not_recomputed(runs):
    out, results = runs
    parts = sorted((out / "spectrum" / "parts").glob("*.parquet"))
    assert len(parts) == len(get_experiment("spectrum").tasks(results["spectrum"].config))
    stamps = [p.stat().st_mtime_ns for p in parts]
    again = run_experiment(load_config(TINY["spectrum"]), out, progress=False, figures=False)
    # every stored part verified and was reused: none rewritten
    assert [p.stat().st_mtime_ns for p in parts] == stamps
    pd.testing.assert_frame_equal(again.table, results["spectrum"].table)


def test_plots_module_has_no_pyplot_import():
    import ntphase.experiments.plots

    importlib.reload(ntphase.experiments.plots)
    assert "matplotlib.pyplot" not in vars(ntphase.experiments.plots)


# --------------------------------------------------------------------------- spectral-law curves


def test_phase_transition_theory_has_kn_law_edge_and_agreement_per_predictor(runs):
    from ntphase.theory import lambda_min_nt_edge

    res = runs[1]["phase_transition"]
    module = get_experiment("phase_transition")
    theory, table = res.theory, res.table
    for act in ("tanh", "relu"):
        for d in (10, 50):
            law = theory[(theory["quantity"] == "nt_law_edge") & (theory["activation"] == act) & (theory["d"] == d)]
            measured_N = {N for N in module.widths(res.config, d) if N * d > 100}
            assert measured_N <= set(law["N"])  # the curve is evaluated at every measured width
            # Oracle: the library function on the same (activation, d, n, N).
            N0 = int(law["N"].iloc[len(law) // 2])
            got = float(law.loc[law["N"] == N0, "value"].iloc[0])
            assert got == lambda_min_nt_edge(act, d, 100, N0)
    rows = module.agreement(table, theory, res.config)
    labels = [r["prediction"] for r in rows]
    for name in ("K_N-law edge", "random-features edge", "MP conjecture"):
        assert any(name in lab and "Nd/n >= 2" in lab for lab in labels), name
    # independent recomputation of one row: tanh d = 10, K_N-law edge over Nd/n >= 2
    row = next(r for r in rows if r["setting"] == "tanh, d=10, n=100" and lab_is(r, "K_N-law edge", "Nd/n >= 2"))
    sub = table[(table["activation"] == "tanh") & (table["d"] == 10) & (table["quantity"] == "lambda_min_KN")]
    meas = sub[sub["ratio"] >= 2.0].groupby("N")["value"].mean()
    pred = np.array([lambda_min_nt_edge("tanh", 10, 100, int(N)) for N in meas.index])
    assert row["relative_error"] == pytest.approx(np.mean(np.abs(pred - meas.to_numpy()) / meas.to_numpy()), rel=1e-9)
    # relu d = 50, N = 5 (Nd/n = 2.5): dead rows (P = 2^-5 per sample); shown, not dropped
    dead = [r for r in rows if "dead-row width" in r["prediction"] and r["setting"].startswith("relu, d=50")]
    assert len(dead) == 3 and all("no predictor models dead rows" in r["note"] for r in dead)


def lab_is(row: dict, *parts: str) -> bool:
    return all(p in row["prediction"] for p in parts)


def test_spectrum_theory_has_laws_and_agreement(runs):
    from ntphase.theory import KernelSpectralLaw, NTKernelSpectralLaw

    res = runs[1]["spectrum"]
    theory, table, config = res.theory, res.table, res.config
    for act in ("relu", "tanh"):
        th = theory[theory["activation"] == act]
        for label, law in (("K", KernelSpectralLaw(act, 10, 200)), ("KN", NTKernelSpectralLaw(act, 10, 200, config.width))):
            q = th[th["quantity"] == f"predicted_eigenvalue_{label}"].sort_values("index")
            # Oracle: the law's own quantiles, called directly; ascending, one per eigenvalue
            assert len(q) == 200 and np.all(np.diff(q["value"].to_numpy()) >= 0)
            assert np.allclose(q["value"].to_numpy(), law.predicted_eigenvalues(), rtol=1e-12)
            dens = th[th["quantity"] == f"density_{label}"]
            assert len(dens) and np.all(dens["value"] >= 0)
            assert float(th.loc[th["quantity"] == f"law_edge_{label}", "value"].iloc[0]) == law.lambda_min
    rows = get_experiment("spectrum").agreement(table, theory, config)
    sorted_rows = [r for r in rows if r["prediction"].startswith("sorted eigenvalues of")]
    assert len(sorted_rows) == 4  # K and K_N for two activations
    # independent recomputation: relu, K: median over ranks of |pred_i - meas_i| / meas_i
    r = next(r for r in sorted_rows if r["setting"].startswith("relu") and "of K:" in r["prediction"])
    meas = table[(table["activation"] == "relu") & (table["quantity"] == "eigenvalue_K")].groupby("index")["value"].mean()
    pred = KernelSpectralLaw("relu", 10, 200).predicted_eigenvalues()
    assert r["relative_error"] == pytest.approx(np.median(np.abs(pred - meas.to_numpy()) / meas.to_numpy()), rel=1e-9)
    assert any(r["prediction"].startswith("lambda_min(K_N): edge of the K_N law") for r in rows)


def test_double_descent_theory_has_norm_curve_and_agreement(runs):
    from ntphase.theory import nt_ridge_norm

    res = runs[1]["double_descent"]
    theory = res.theory
    th = theory[(theory["quantity"] == "nt_ridge_norm") & (theory["ridge"] == 0.1)]
    assert len(th) > 20
    N0 = int(th["N"].iloc[len(th) // 2])
    # Oracle: the library function on the same setting.
    expected = float(nt_ridge_norm("relu", 10, 100, N0, 0.1, {1: 1.0, 2: 0.36}, noise=0.3))
    assert float(th.loc[th["N"] == N0, "value"].iloc[0]) == pytest.approx(expected, rel=1e-12)
    rows = get_experiment("double_descent").agreement(res.table, theory, res.config)
    norm_rows = [r for r in rows if r["prediction"].startswith("NT ridge squared norm")]
    assert len(norm_rows) == 2 and all(np.isfinite(r["relative_error"]) for r in norm_rows)
