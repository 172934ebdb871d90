"""A tiny diagnostic experiment for testing and benchmarking sweeps (not science).

``run_task(params, seed)`` draws a random ``p x p`` Wishart matrix
``W = G G^T / m`` (``G`` of shape ``(p, m)`` with i.i.d. N(0, 1) entries from
``numpy.random.default_rng(seed)``) and returns its smallest and largest
eigenvalues and its trace, so its numbers depend on the seed only. Optional
parameters make it slow, fail, or crash, to exercise the sweep machinery:

``p`` (int, default 8), ``m`` (int, default 16)
    Matrix sizes.
``repeat`` (int, default 1)
    Recompute the eigenvalues this many times (CPU work for benchmarks).
``sleep`` (float, default 0)
    Seconds to sleep before computing.
``fail_once_dir`` (str)
    Raise ``RuntimeError`` unless the marker file ``<dir>/fail-<seed>`` exists,
    creating it first: fails the first attempt only.
``always_fail`` (bool)
    Always raise ``RuntimeError``.
``crash_once_dir`` (str)
    Kill the whole process with ``os._exit(3)`` unless ``<dir>/crash-<seed>``
    exists (creating it first): the first attempt dies like a killed worker.
    Never use this with the serial executor (it would kill the driver).
``report_threads`` (bool)
    Add a row ``blas_threads``: the BLAS pool size seen inside the task
    (threadpoolctl), to check the executors' thread settings.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_info

from ntphase.runtime import expand_grid


def _first_time(directory: str, tag: str, seed: int) -> bool:
    marker = Path(directory) / f"{tag}-{seed}"
    try:
        fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return False
    os.close(fd)
    return True


def tasks(config: dict) -> list[dict]:
    """Tasks of a config ``{"grid": {...}, "fixed": {...}, "replicates": r}``."""
    return expand_grid(config.get("grid", {}), config.get("fixed"), config.get("replicates"))


def run_task(params: dict, seed: int) -> list[dict]:
    """Rows ``lambda_min``, ``lambda_max``, ``trace`` of a random Wishart matrix (see module doc)."""
    p = int(params.get("p", 8))
    m = int(params.get("m", 16))
    if params.get("sleep"):
        time.sleep(float(params["sleep"]))
    if params.get("always_fail"):
        raise RuntimeError("synthetic failure (always_fail)")
    if params.get("fail_once_dir") and _first_time(params["fail_once_dir"], "fail", seed):
        raise RuntimeError("synthetic failure (first attempt)")
    if params.get("crash_once_dir") and _first_time(params["crash_once_dir"], "crash", seed):
        os._exit(3)
    rng = np.random.default_rng(seed)
    G = rng.standard_normal((p, m))
    W = G @ G.T / m
    for _ in range(int(params.get("repeat", 1))):
        eigs = np.linalg.eigvalsh(W)
    rows = [
        {"quantity": "lambda_min", "value": float(eigs[0])},
        {"quantity": "lambda_max", "value": float(eigs[-1])},
        {"quantity": "trace", "value": float(np.trace(W)), "note": "sum of eigenvalues"},
    ]
    if params.get("report_threads"):
        blas = [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]
        rows.append({"quantity": "blas_threads", "value": float(max(blas, default=0))})
    return rows
