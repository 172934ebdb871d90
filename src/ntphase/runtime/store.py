"""The resumable results store of a sweep: atomic Parquet parts, the manifest,
the plan, and the assembled tidy table. Parts are named by the task keys of
:mod:`ntphase.runtime.task_keys`.

Layout of a results directory ``DIR``::

    DIR/plan.json            the planned tasks (key, parameters) of the latest sweep
    DIR/manifest.json        done / failed tasks, attempts, last traceback
    DIR/parts/<key>.parquet  one file per finished task (its tidy rows)
    DIR/results.parquet      the assembled table (written by ``assemble``)
    DIR/config.yaml          the exact config (``ntphase.runtime.sweep.write_run_info``)
    DIR/run.yaml             command line, versions, host (``ntphase.runtime.sweep.write_run_info``)
    DIR/driver.lock          lock held by the running driver (``ntphase.runtime.sweep.lock_directory``)
    DIR/driver.json          who holds (or last held) the lock: host, pid, start time, command

Every file is written atomically (:mod:`ntphase._util.atomic`): to a temporary file in the same directory,
flushed and ``fsync``-ed, then moved over the target with ``os.replace``, so a
reader (or a rerun after a crash) sees either the old file or the new one,
never a partial one. Files get the usual permissions of the process umask
(``0o666 & ~umask``, as ``open`` would give), not ``mkstemp``'s private 0600.
Nothing is pickled: parts are Parquet, the rest JSON/YAML.

A part is *valid* when it reads back (a truncated Parquet file has no footer
and fails to open), its Parquet page checksums verify, and the ``ntphase``
entry of its schema metadata agrees with the file: the key equals the file
name and ``task_key(experiment, params)``, the row count matches, and the
SHA-256 of the rows' canonical JSON matches. Invalid parts are recomputed: any
error while reading a part (damaged footer, invalid UTF-8 in its schema, ...)
means "damaged", never a crash.
"""

from __future__ import annotations

import hashlib
import json
import numbers
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ntphase._util.atomic import atomic_write, atomic_write_bytes
from ntphase.runtime.task_keys import _check_key, canonical_json, task_key

__all__ = [
    "RESERVED_COLUMNS",
    "write_part",
    "read_part",
    "verify_part",
    "part_path",
    "PartError",
    "StoreError",
    "load_manifest",
    "save_manifest",
    "load_plan",
    "save_plan",
    "assemble",
    "sweep_status",
]

#: Columns every part carries besides the parameters and the rows' own columns.
RESERVED_COLUMNS = ("experiment", "task_key", "seed")
#: Key of the schema-metadata entry of a part.
_META_KEY = b"ntphase"
_FORMAT = 1


# ---------------------------------------------------------------- atomic tables
def _atomic_write_table(path: Path, table: pa.Table) -> Path:
    """Write ``table`` as Parquet (page checksums, zstd) to ``path`` atomically."""
    return atomic_write(path, lambda tmp: pq.write_table(table, tmp, write_page_checksum=True, compression="zstd"))


# ---------------------------------------------------------------- parts
class PartError(ValueError):
    """A part file is missing, unreadable, truncated, or inconsistent."""


class StoreError(ValueError):
    """A results directory that cannot be used as it is: a corrupt ``manifest.json`` or
    ``plan.json``, or a directory locked by another running driver."""


def part_path(outdir: str | os.PathLike, key: str) -> Path:
    """``outdir/parts/<key>.parquet``."""
    return Path(outdir) / "parts" / f"{_check_key(key)}.parquet"


def _rows_checksum(records: list[dict]) -> str:
    text = json.dumps(records, sort_keys=True, separators=(",", ":"), default=repr)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _build_table(
    experiment: str, key: str, seed: int, params: Mapping[str, Any], rows: Iterable[Mapping]
) -> pa.Table:
    params = dict(params)
    for name in params:
        if name in RESERVED_COLUMNS or name in ("quantity", "value"):
            raise ValueError(
                f"parameter name {name!r} is reserved (reserved: "
                f"{', '.join(RESERVED_COLUMNS + ('quantity', 'value'))}); rename the parameter"
            )
    records = []
    for i, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise TypeError(f"row {i} must be a dict, got {type(row).__name__}")
        if "quantity" not in row or "value" not in row:
            raise ValueError(f"row {i} must have 'quantity' and 'value', got keys {sorted(row)}")
        clash = sorted((set(row) & set(params)) | (set(row) & set(RESERVED_COLUMNS)))
        if clash:
            raise ValueError(
                f"row {i} has columns {clash} that clash with the parameters or the reserved "
                f"columns {RESERVED_COLUMNS}; rename them in the experiment's rows"
            )
        if not isinstance(row["quantity"], str):
            raise TypeError(f"row {i}: 'quantity' must be a string, got {row['quantity']!r}")
        value = row["value"]
        if value is None:
            value = float("nan")
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"row {i}: 'value' must be a real number, got {value!r}")
        rec = {"experiment": experiment, "task_key": key, "seed": seed}
        rec.update(params)
        for k, v in row.items():
            rec[k] = float(value) if k == "value" else _plain(v)
        records.append(rec)
    if not records:
        raise ValueError("run_task returned no rows; each task must return at least one row")
    columns: dict[str, None] = {}
    for rec in records:
        columns.update(dict.fromkeys(rec))
    names = list(columns)
    arrays = {c: [rec.get(c) for rec in records] for c in names}
    arrays["value"] = pa.array(arrays["value"], pa.float64())
    table = pa.table(arrays)
    meta = {
        "format": _FORMAT,
        "experiment": experiment,
        "task_key": key,
        "seed": seed,
        "params": json.loads(canonical_json(params)),
        "n_rows": table.num_rows,
        "checksum": _rows_checksum(table.to_pylist()),
    }
    return table.replace_schema_metadata({_META_KEY: json.dumps(meta).encode("utf-8")})


def _plain(v: Any) -> Any:
    """NumPy scalars and arrays to Python values, so Arrow infers plain types."""
    if hasattr(v, "tolist") and not isinstance(v, (str, bytes)):
        return v.tolist()
    return v


def write_part(
    outdir: str | os.PathLike,
    experiment: str,
    key: str,
    seed: int,
    params: Mapping[str, Any],
    rows: Iterable[Mapping],
) -> Path:
    """Write one task's rows to ``outdir/parts/<key>.parquet`` atomically.

    Columns: ``experiment, task_key, seed``, one column per parameter (named as
    the parameter, unprefixed, its type kept: int64, float64, string, bool,
    list), then the rows' own columns (``quantity``, ``value`` as float64, and
    any extra). Parameter names may not be ``experiment, task_key, seed,
    quantity, value``, and rows may not repeat a parameter's name.
    """
    table = _build_table(experiment, _check_key(key), int(seed), params, rows)
    return _atomic_write_table(part_path(outdir, key), table)


def _part_meta(path: Path) -> dict:
    try:
        schema = pq.read_schema(path)
    except Exception as exc:  # any damage (e.g. invalid UTF-8 names) = recompute
        raise PartError(f"{path.name}: unreadable Parquet ({type(exc).__name__}: {exc})") from exc
    raw = (schema.metadata or {}).get(_META_KEY)
    if raw is None:
        raise PartError(f"{path.name}: no ntphase metadata")
    try:
        meta = json.loads(raw)
    except ValueError as exc:
        raise PartError(f"{path.name}: corrupt ntphase metadata") from exc
    if not isinstance(meta, dict):
        raise PartError(f"{path.name}: corrupt ntphase metadata (not a JSON object)")
    return meta


def read_part(path: str | os.PathLike, expected_key: str | None = None) -> pa.Table:
    """Read and fully verify one part; raise ``PartError`` if it is not valid.

    Checks: the file opens (a truncated file has no footer), the Parquet page
    checksums, the metadata key equals the file name (and ``expected_key``)
    and ``task_key(experiment, params)``, the row count, and the SHA-256 of the
    rows' canonical JSON.
    """
    path = Path(path)
    if not path.is_file():
        raise PartError(f"{path.name}: missing")
    meta = _part_meta(path)
    key = meta.get("task_key")
    if key != path.stem or (expected_key is not None and key != expected_key):
        raise PartError(f"{path.name}: holds key {key!r}, expected {expected_key or path.stem!r}")
    try:
        if task_key(meta["experiment"], meta["params"]) != key:
            raise PartError(f"{path.name}: key does not match its experiment and parameters")
    except (KeyError, TypeError, ValueError) as exc:
        raise PartError(f"{path.name}: bad metadata ({exc})") from exc
    try:
        table = pq.read_table(path, page_checksum_verification=True)
        if table.num_rows != meta.get("n_rows"):
            raise PartError(f"{path.name}: {table.num_rows} rows, metadata says {meta.get('n_rows')}")
        if _rows_checksum(table.to_pylist()) != meta.get("checksum"):
            raise PartError(f"{path.name}: checksum mismatch")
    except PartError:
        raise
    except Exception as exc:  # any damage = recompute, never a crash
        raise PartError(f"{path.name}: unreadable data ({type(exc).__name__}: {exc})") from exc
    return table


def verify_part(outdir: str | os.PathLike, key: str, full: bool = True) -> bool:
    """Whether the part of ``key`` is valid (``full=False``: footer and metadata only)."""
    path = part_path(outdir, key)
    try:
        if full:
            read_part(path, expected_key=key)
        else:
            if not path.is_file():
                return False
            meta = _part_meta(path)
            if meta.get("task_key") != key:
                return False
            if pq.read_metadata(path).num_rows != meta.get("n_rows"):
                return False
    except Exception:  # noqa: BLE001 - whatever the damage, the part is not valid
        return False
    return True


# ---------------------------------------------------------------- manifest and plan
def _read_json(path: Path, default: Any) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return default
    except ValueError as exc:  # also invalid UTF-8
        raise StoreError(f"{path} is not valid JSON ({_short_error(exc)}); delete it to rebuild") from None


def _short_error(exc: BaseException, limit: int = 120) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _check_store_file(path: Path, obj: Any, what: str) -> Any:
    """``obj`` read from ``path`` must be a JSON object whose ``tasks`` is ``what``."""
    tasks = obj.get("tasks") if isinstance(obj, dict) else None
    ok = isinstance(tasks, dict) if what == "dict" else (
        isinstance(tasks, list)
        and all(isinstance(t, dict) and isinstance(t.get("key"), str)
                and isinstance(t.get("params"), dict) for t in tasks)
    )
    if not ok:
        raise StoreError(
            f"{path} is not a valid ntphase {path.stem} (expected an object whose 'tasks' is a "
            f"{'mapping' if what == 'dict' else 'list of {key, params}'}); delete it to rebuild"
        )
    return obj


def _write_json(path: Path, obj: Any) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=1, sort_keys=True) + "\n").encode("utf-8"))


def load_manifest(outdir: str | os.PathLike) -> dict:
    """``manifest.json`` as a dict ``{"format", "experiment", "tasks": {key: entry}}``.

    Each entry: ``status`` (``"done"`` or ``"failed"``), ``attempts`` (all
    attempts recorded in this directory, summed over reruns), ``error`` (last
    traceback of a failure, kept after a later success as ``last_error``),
    ``elapsed_s``, ``worker``, ``params``, ``seed``. The manifest is a record;
    the parts themselves decide what is done.
    """
    path = Path(outdir) / "manifest.json"
    return _check_store_file(path, _read_json(path, {"format": _FORMAT, "tasks": {}}), "dict")


def save_manifest(outdir: str | os.PathLike, manifest: Mapping) -> None:
    """Write ``manifest.json`` atomically."""
    _write_json(Path(outdir) / "manifest.json", manifest)


def load_plan(outdir: str | os.PathLike) -> dict | None:
    """``plan.json`` (``{"experiment", "module", "tasks": [{"key", "params"}]}``) or None."""
    path = Path(outdir) / "plan.json"
    plan = _read_json(path, None)
    return None if plan is None else _check_store_file(path, plan, "list")


def save_plan(
    outdir: str | os.PathLike, experiment: str, module: str, tasks: list[tuple[str, dict]]
) -> None:
    """Write ``plan.json``: the experiment and the (key, params) of every planned task."""
    plan = {
        "format": _FORMAT,
        "experiment": experiment,
        "module": module,
        "tasks": [{"key": k, "params": json.loads(canonical_json(p))} for k, p in tasks],
    }
    _write_json(Path(outdir) / "plan.json", plan)


def sweep_status(outdir: str | os.PathLike, verify: bool = False) -> dict:
    """Done / failed / remaining tasks of the sweep planned in ``outdir/plan.json``.

    A task is *done* when its part is valid (``verify=False``: footer, key and
    row count only, cheap; ``verify=True``: full check as in ``read_part``),
    *failed* when it is not done and the manifest records a failure, and
    *remaining* otherwise (never run, interrupted, or its part is corrupt).

    Returns
    -------
    dict
        ``experiment``, ``total``, ``done`` (list of keys), ``failed`` (list of
        dicts ``key, attempts, error`` with the last line of the traceback),
        ``remaining`` (list of keys).

    Raises
    ------
    FileNotFoundError
        If ``outdir/plan.json`` does not exist (not a sweep directory).
    """
    outdir = Path(outdir)
    plan = load_plan(outdir)
    if plan is None:
        raise FileNotFoundError(
            f"{outdir / 'plan.json'} not found: {outdir} is not a sweep results directory"
        )
    manifest = load_manifest(outdir)
    done, failed, remaining = [], [], []
    for task in plan["tasks"]:
        key = task["key"]
        entry = manifest.get("tasks", {}).get(key, {})
        if verify_part(outdir, key, full=verify):
            done.append(key)
        elif entry.get("status") == "failed":
            lines = [ln for ln in (entry.get("error") or "").strip().splitlines() if ln.strip()]
            failed.append(
                {"key": key, "attempts": entry.get("attempts"),
                 "error": lines[-1].strip() if lines else "", "params": task["params"]}
            )
        else:
            remaining.append(key)
    return {
        "experiment": plan.get("experiment"),
        "total": len(plan["tasks"]),
        "done": done,
        "failed": failed,
        "remaining": remaining,
    }


# ---------------------------------------------------------------- assemble
def assemble(
    outdir: str | os.PathLike, keys: Iterable[str] | None = None, write: bool = True
) -> pd.DataFrame:
    """Concatenate the valid parts into one tidy table.

    Parameters
    ----------
    outdir : path
        The results directory.
    keys : iterable of str, optional
        Tasks to include. Default: the tasks of ``plan.json`` if present, else
        every part in ``outdir/parts``. Missing or invalid parts are skipped.
    write : bool
        Also write the table to ``outdir/results.parquet`` (atomically).

    Returns
    -------
    pandas.DataFrame
        Rows sorted by ``task_key``, then by their order within the task; a
        fresh ``RangeIndex``. Columns: ``experiment, task_key, seed``, the
        parameters, then the rows' own columns, in order of first appearance.
        Parts whose column types differ are unified (e.g. int64 and float64 to
        float64); a column missing from a part is null there.

    Cost: reads and verifies every part (``O(total rows)``).
    """
    outdir = Path(outdir)
    if keys is None:
        plan = load_plan(outdir)
        if plan is not None:
            keys = [t["key"] for t in plan["tasks"]]
        else:
            keys = [p.stem for p in (outdir / "parts").glob("*.parquet")]
    tables = []
    for key in sorted(set(keys)):
        try:
            tables.append(read_part(part_path(outdir, key), expected_key=key))
        except PartError:
            continue
    if tables:
        columns: dict[str, None] = {}
        for t in tables:
            columns.update(dict.fromkeys(t.column_names))
        tables = [t.replace_schema_metadata(None) for t in tables]
        table = pa.concat_tables(tables, promote_options="permissive").select(list(columns))
    else:
        table = pa.table(
            {
                "experiment": pa.array([], pa.string()),
                "task_key": pa.array([], pa.string()),
                "seed": pa.array([], pa.int64()),
                "quantity": pa.array([], pa.string()),
                "value": pa.array([], pa.float64()),
            }
        )
    if write:
        outdir.mkdir(parents=True, exist_ok=True)
        _atomic_write_table(outdir / "results.parquet", table)
    return table.to_pandas()
