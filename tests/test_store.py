"""The results store: task keys and seeds, grids, atomic verified parts, assembly.

Oracles: keys and seeds are recomputed by hand from the documented recipe
(SHA-256 of hand-written canonical JSON); parts are compared with the rows
that were written; corruption is produced by truncating or swapping files.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml

from ntphase.runtime import store
from ntphase.runtime.store import (
    PartError,
    assemble,
    part_path,
    read_part,
    verify_part,
    write_part,
)
from ntphase.runtime.sweep import expand_grid, write_run_info
from ntphase.runtime.task_keys import canonical_json, task_key, task_seed

EXP = "demo"


def _rows(seed):
    rng = np.random.default_rng(seed)
    return [
        {"quantity": "a", "value": float(rng.standard_normal())},
        {"quantity": "b", "value": float(rng.standard_normal()), "extra": 3},
    ]


def _write(outdir, params):
    key = task_key(EXP, params)
    seed = task_seed(key)
    rows = _rows(seed)
    write_part(outdir, EXP, key, seed, params, rows)
    return key, seed, rows


# ---------------------------------------------------------------- keys and seeds
def test_task_key_follows_documented_recipe():
    # oracle: the canonical JSON written by hand, hashed with hashlib
    text = '{"experiment":"demo","params":{"d":5,"lam":0.1,"n":100,"name":"relu","w":[1,2.5]}}'
    expected = hashlib.sha256(text.encode()).hexdigest()[:16]
    params = {"n": 100, "d": 5, "lam": 0.1, "name": "relu", "w": [1, 2.5]}
    assert task_key(EXP, params) == expected
    # seed = first 8 bytes of the digest, big-endian, mod 2**63
    digest = hashlib.sha256(text.encode()).digest()
    assert task_seed(expected) == int.from_bytes(digest[:8], "big") % 2**63
    assert 0 <= task_seed(expected) < 2**63


def test_task_key_ignores_item_order_and_numpy_scalars():
    a = task_key(EXP, {"n": 10, "d": 5, "lam": 0.25})
    b = task_key(EXP, {"lam": 0.25, "d": 5, "n": 10})
    c = task_key(EXP, {"lam": np.float64(0.25), "d": np.int64(5), "n": 10})
    assert a == b == c


def test_task_key_distinguishes_values_types_and_experiments():
    base = {"n": 10, "d": 5}
    keys = {
        task_key(EXP, base),
        task_key(EXP, {"n": 11, "d": 5}),
        task_key(EXP, {"n": 10.0, "d": 5}),  # float 10.0 is not int 10
        task_key(EXP, {"n": 10, "d": 5, "replicate": 0}),
        task_key("other", base),
        task_key(EXP, {"n": "10", "d": 5}),
    }
    assert len(keys) == 6


def test_task_key_is_the_same_in_another_process():
    # oracle: a fresh interpreter with a different PYTHONHASHSEED
    params = {"n": 7, "lam": 1e-3, "act": "tanh"}
    code = f"from ntphase.runtime import task_key; print(task_key({EXP!r}, {params!r}))"
    env = dict(os.environ, PYTHONHASHSEED="12345")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, check=True).stdout.strip()
    assert out == task_key(EXP, params)


@pytest.mark.parametrize(
    ("params", "error", "match"),
    [
        ({"x": np.zeros(3)}, TypeError, r"params\['x'\].*ndarray"),
        ({"x": {1, 2}}, TypeError, "set"),
        ({"x": float("nan")}, ValueError, "finite"),
        ({"x": [1, object()]}, TypeError, r"params\['x'\]\[1\]"),
    ],
)
def test_task_key_rejects_unsupported_values(params, error, match):
    with pytest.raises(error, match=match):
        task_key(EXP, params)


def test_task_seed_rejects_bad_keys():
    with pytest.raises(ValueError, match="hex"):
        task_seed("xyz")


def test_canonical_json_sorted_and_compact():
    assert canonical_json({"b": [1, 0.5], "a": None}) == '{"a":null,"b":[1,0.5]}'


# ---------------------------------------------------------------- grids
def test_expand_grid_product_and_replicates():
    tasks = expand_grid({"n": [10, 20, 30], "lam": [0.1, 1.0]}, fixed={"d": 5}, replicates=2)
    assert len(tasks) == 3 * 2 * 2
    # oracle: itertools.product order, last index fastest, replicate fastest of all
    assert tasks[0] == {"d": 5, "n": 10, "lam": 0.1, "replicate": 0}
    assert tasks[1] == {"d": 5, "n": 10, "lam": 0.1, "replicate": 1}
    assert tasks[2] == {"d": 5, "n": 10, "lam": 1.0, "replicate": 0}
    keys = {task_key(EXP, t) for t in tasks}
    assert len(keys) == len(tasks)  # every replicate has its own key, hence seed
    assert len({task_seed(k) for k in keys}) == len(tasks)


def test_expand_grid_errors():
    with pytest.raises(ValueError, match="both in grid and in fixed"):
        expand_grid({"n": [1]}, fixed={"n": 2})
    with pytest.raises(TypeError, match="list of values"):
        expand_grid({"n": 5})
    with pytest.raises(ValueError, match="at least one value"):
        expand_grid({"n": []})
    with pytest.raises(ValueError, match="already a parameter"):
        expand_grid({"replicate": [0, 1]}, replicates=2)
    with pytest.raises(TypeError, match="ndarray"):
        expand_grid({"x": [np.eye(2)]})


# ---------------------------------------------------------------- parts
def test_part_roundtrip_keeps_rows_and_types(tmp_path):
    params = {"n": 10, "lam": 0.5, "act": "relu", "flag": True, "ws": [1, 2]}
    key, seed, rows = _write(tmp_path, params)
    table = read_part(part_path(tmp_path, key), expected_key=key).to_pandas()
    assert list(table.columns[:3]) == ["experiment", "task_key", "seed"]
    assert table["value"].tolist() == [r["value"] for r in rows]  # exact float64 roundtrip
    assert table["quantity"].tolist() == ["a", "b"]
    assert table["n"].dtype == np.int64 and table["lam"].dtype == np.float64
    assert table["flag"].dtype == bool
    assert table["ws"].iloc[0].tolist() == [1, 2]
    assert (table["seed"] == seed).all() and (table["task_key"] == key).all()
    assert pd.isna(table["extra"].iloc[0]) and table["extra"].iloc[1] == 3
    assert not list((tmp_path / "parts").glob(".tmp-*"))


def test_truncated_part_is_detected(tmp_path):
    key, _, _ = _write(tmp_path, {"n": 1})
    path = part_path(tmp_path, key)
    assert verify_part(tmp_path, key)
    size = path.stat().st_size
    with open(path, "r+b") as fh:
        fh.truncate(size // 2)
    assert not verify_part(tmp_path, key)
    assert not verify_part(tmp_path, key, full=False)
    with pytest.raises(PartError, match="unreadable"):
        read_part(path)


def test_part_with_wrong_key_is_detected(tmp_path):
    key1, _, _ = _write(tmp_path, {"n": 1})
    key2, _, _ = _write(tmp_path, {"n": 2})
    os.replace(part_path(tmp_path, key1), part_path(tmp_path, key2))  # key1's data under key2
    assert not verify_part(tmp_path, key2)
    assert not verify_part(tmp_path, key2, full=False)
    with pytest.raises(PartError, match="holds key"):
        read_part(part_path(tmp_path, key2))


def test_part_with_altered_rows_is_detected(tmp_path):
    # the metadata is kept, the rows changed: the row checksum must catch it
    key, _, _ = _write(tmp_path, {"n": 1})
    path = part_path(tmp_path, key)
    table = pq.read_table(path)
    values = table["value"].to_pylist()
    values[0] += 1.0
    import pyarrow as pa

    altered = table.set_column(table.column_names.index("value"), "value",
                               pa.array(values, pa.float64()))
    pq.write_table(altered, path)
    assert verify_part(tmp_path, key, full=False)  # cheap check cannot see it
    assert not verify_part(tmp_path, key)
    with pytest.raises(PartError, match="checksum"):
        read_part(path)


def test_interrupted_write_leaves_no_part(tmp_path, monkeypatch):
    def broken_write(table, where, **kwargs):
        with open(where, "wb") as fh:
            fh.write(b"PAR1 partial")
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(store.pq, "write_table", broken_write)
    params = {"n": 3}
    key = task_key(EXP, params)
    with pytest.raises(OSError, match="simulated"):
        write_part(tmp_path, EXP, key, task_seed(key), params, _rows(0))
    assert not part_path(tmp_path, key).exists()
    assert list((tmp_path / "parts").iterdir()) == []


def test_bad_rows_are_rejected(tmp_path):
    params = {"n": 3}
    key = task_key(EXP, params)
    cases = [
        ([], "no rows"),
        ([{"value": 1.0}], "'quantity' and 'value'"),
        ([{"quantity": "a", "value": "x"}], "real number"),
        ([{"quantity": "a", "value": 1.0, "n": 4}], "clash"),
    ]
    for rows, match in cases:
        with pytest.raises((ValueError, TypeError), match=match):
            write_part(tmp_path, EXP, key, 1, params, rows)
    with pytest.raises(ValueError, match="reserved"):
        write_part(tmp_path, EXP, task_key(EXP, {"seed": 1}), 1, {"seed": 1}, _rows(0))


def test_assemble_sorted_by_key_and_skips_invalid(tmp_path):
    written = {}
    for n in range(5):
        key, seed, rows = _write(tmp_path, {"n": n, "lam": 0.5 * n})
        written[key] = (n, rows)
    bad = sorted(written)[2]
    with open(part_path(tmp_path, bad), "r+b") as fh:
        fh.truncate(10)
    df = assemble(tmp_path)
    good = [k for k in sorted(written) if k != bad]
    # oracle: the rows as written, task by task in key order
    assert df["task_key"].tolist() == [k for k in good for _ in range(2)]
    assert df["value"].tolist() == [r["value"] for k in good for r in written[k][1]]
    assert df["n"].tolist() == [written[k][0] for k in good for _ in range(2)]
    assert list(df.index) == list(range(len(df)))
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "results.parquet"), df)


def test_assemble_unifies_column_types(tmp_path):
    _write(tmp_path, {"lam": 1})      # int parameter in one part
    _write(tmp_path, {"lam": 0.5})    # float in another
    df = assemble(tmp_path, write=False)
    assert df["lam"].dtype == np.float64
    assert sorted(df["lam"].unique().tolist()) == [0.5, 1.0]


def test_write_run_info(tmp_path):
    config = {"experiment": "demo", "grid": {"n": [1, 2]}, "seed": 3}
    cfg, run = write_run_info(tmp_path, config, "ntphase run demo.yaml")
    assert yaml.safe_load(cfg.read_text()) == config
    info = yaml.safe_load(run.read_text())
    assert info["command"] == "ntphase run demo.yaml"
    assert info["versions"]["numpy"] == np.__version__
    with pytest.raises(TypeError, match="config"):
        write_run_info(tmp_path, [1], "x")


def test_manifest_is_plain_json(tmp_path):
    store.save_manifest(tmp_path, {"format": 1, "tasks": {"k": {"status": "done"}}})
    assert json.loads((tmp_path / "manifest.json").read_text())["tasks"]["k"]["status"] == "done"
    assert store.load_manifest(tmp_path / "nowhere")["tasks"] == {}
