"""Hardening of config files: non-finite and out-of-range values, unhashable
experiment names, non-UTF-8 files, nested-alias ("billion laughs") documents and
duplicate keys are each one ``ConfigError`` naming the problem, raised fast, with a
bounded message.

Oracles: the schema's documented rules (finite floats, ``N d / n <= MAX_WIDTH_RATIO``);
YAML 1.1 semantics (an alias repeats its anchor's node, so nested aliases expand
geometrically: 10 levels of 10 give 10**10 values); wall-clock bounds.
"""

from __future__ import annotations

import time

import pytest

from ntphase.experiments.config import MAX_WIDTH_RATIO, ConfigError, load_config

pytestmark = pytest.mark.timeout(30)


def _load(tmp_path, text: str | bytes):
    path = tmp_path / "config.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return load_config(path)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("experiment: phase_transition\nratios: [.inf]\n", "ratios.0"),
        ("experiment: phase_transition\nratios: [1.0, .nan]\n", "ratios.1"),
        ("experiment: spectrum\nwidth_ratio: .inf\n", "width_ratio"),
        ("experiment: spectrum\nwidth_ratio: 1.0e+308\n", "width_ratio"),  # was OverflowError
        ("experiment: generalization\nwidth_ratio: 1.0e+308\n", "width_ratio"),
        ("experiment: double_descent\nratios: [1.0, 1.0e+300]\n", "ratios"),
        ("experiment: lazy_training\ncurve_alpha: .inf\n", "curve_alpha"),
        ("experiment: lazy_training\nalphas: [1.0, .inf]\n", "alphas.1"),
        ("experiment: double_descent\nnoise: .nan\n", "noise"),
    ],
)
def test_non_finite_and_out_of_range_values_are_config_errors(tmp_path, text, key):
    with pytest.raises(ConfigError, match=rf"key '{key}'"):
        _load(tmp_path, text)


def test_width_ratio_cap_is_inclusive(tmp_path):
    # oracle: the documented rule N d / n <= MAX_WIDTH_RATIO (the cap itself is allowed)
    config = _load(tmp_path, f"experiment: spectrum\nwidth_ratio: {MAX_WIDTH_RATIO!r}\n")
    assert config.width_ratio == MAX_WIDTH_RATIO


@pytest.mark.parametrize("value", ["[x]", "{a: 1}", "3"])
def test_experiment_that_is_not_a_name(tmp_path, value):
    with pytest.raises(ConfigError, match="key 'experiment': must be one of"):  # was: TypeError unhashable
        _load(tmp_path, f"experiment: {value}\n")


def test_non_utf8_file(tmp_path):
    with pytest.raises(ConfigError, match=r"not UTF-8 text \(byte 0xff at offset 24\)"):
        _load(tmp_path, b"experiment: spectrum\nd: \xff\n")


def _laughs(levels: int) -> str:
    lines = ["experiment: spectrum", "l0: &l0 [relu, relu, relu, relu, relu, relu, relu, relu, relu, relu]"]
    for i in range(1, levels):
        lines.append(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 10) + "]")
    lines.append(f"activations: *l{levels - 1}")
    return "\n".join(lines) + "\n"


def test_billion_laughs_is_refused_fast_with_a_short_message(tmp_path):
    start = time.monotonic()
    with pytest.raises(ConfigError, match="expands to more than 100000 values") as info:
        _load(tmp_path, _laughs(10))  # 10**10 values once expanded; was: minutes, unbounded message
    assert time.monotonic() - start < 2
    assert len(str(info.value)) < 1000


def test_recursive_alias_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="recursive alias"):
        _load(tmp_path, "experiment: spectrum\nactivations: &a [relu, *a]\n")


def test_small_aliases_still_work(tmp_path):
    config = _load(tmp_path, "experiment: phase_transition\ndims: [&d 20, 40]\nn: *d\n")
    assert config.dims == [20, 40] and config.n == 20


def test_error_messages_never_print_an_unbounded_value(tmp_path):
    # a large (but allowed) value in a bad key: the message shows a cut repr
    big = "[" + ", ".join(["relu"] * 2_000) + "]"
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, f"experiment: spectrum\nactivations: {big}\nbogus: {big}\n")
    assert len(str(info.value)) < 2000
    assert "unknown key 'bogus'" in str(info.value) and "..." in str(info.value)


@pytest.mark.parametrize(
    "text",
    [
        "experiment: spectrum\nd: 10\nd: 20\n",
        "experiment: spectrum\nexperiment: spectrum\n",
        "experiment: double_descent\ntarget: {1: 1.0, 1: 2.0}\n",
    ],
)
def test_duplicate_keys_are_errors(tmp_path, text):
    with pytest.raises(ConfigError, match="found duplicate key .* \\(first at line"):  # was: last one wins
        _load(tmp_path, text)
