"""Throughput of a sweep on 2 local Dask workers against the serial executor.

Runs the synthetic diagnostic experiment (``ntphase.experiments.synthetic``:
repeated eigenvalues of a ``p x p`` Wishart matrix, one BLAS thread) on a grid
of ``--tasks`` tasks calibrated to about ``--task-cpu`` seconds of CPU each,
once serially and once on a 2-worker local cluster (workers x BLAS threads =
2), each into a fresh results directory. Prints wall times, tasks per second,
the ratio serial / Dask (target >= 1.6 on 2 free cores: Amdahl with the
per-task store overhead), the cluster start-up time (reported apart), whether
the two tables are identical, and peak resident memory of the driver and the
workers.

    python benchmarks/bench_sweep.py [--tasks 40] [--task-cpu 0.5]

Timings depend on what else runs on the machine: report the load average too.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
import time
from pathlib import Path

SIZE = 300  # Wishart dimension; eigvalsh of 300 x 300 takes a few ms, repeated


def calibrate(target_s: float) -> int:
    """Repeats of eigvalsh so that one task takes about ``target_s`` CPU seconds."""
    from threadpoolctl import threadpool_limits

    from ntphase.experiments.synthetic import run_task

    with threadpool_limits(1):
        run_task({"p": SIZE, "m": 2 * SIZE, "repeat": 5}, 0)  # warm up
        start = time.process_time()
        run_task({"p": SIZE, "m": 2 * SIZE, "repeat": 20}, 0)
        per_repeat = (time.process_time() - start) / 20
    return max(1, round(target_s / per_repeat))


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=40)
    parser.add_argument("--task-cpu", type=float, default=0.5)
    args = parser.parse_args()

    import pandas as pd
    from distributed import Client

    from ntphase.experiments.synthetic import run_task
    from ntphase.runtime import local_cluster, run_sweep

    repeat = calibrate(args.task_cpu)
    tasks = [{"p": SIZE, "m": 2 * SIZE, "repeat": repeat, "index": i} for i in range(args.tasks)]
    print(f"{args.tasks} tasks of ~{args.task_cpu} s CPU (p={SIZE}, repeat={repeat}); "
          f"cores available: {len(os.sched_getaffinity(0))}; load average: "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        start = time.perf_counter()
        serial = run_sweep(run_task, tasks, tmp / "serial", executor="serial", progress=False,
                           threads_per_worker=1)
        t_serial = time.perf_counter() - start

        start = time.perf_counter()
        with local_cluster(2, 1) as cluster, Client(cluster, set_as_default=False) as client:
            t_startup = time.perf_counter() - start
            start = time.perf_counter()
            dask = run_sweep(run_task, tasks, tmp / "dask", scheduler=client, progress=False,
                             threads_per_worker=1)
            t_dask = time.perf_counter() - start
            worker_rss = client.run(
                lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            )
        per_task = {}
        for name in ("serial", "dask"):
            m = json.loads((tmp / name / "manifest.json").read_text())["tasks"].values()
            per_task[name] = (sum(e["elapsed_s"] for e in m) / len(m),
                              sum(e["cpu_s"] for e in m) / len(m))
        identical = True
        try:
            pd.testing.assert_frame_equal(serial, dask)
        except AssertionError:
            identical = False

    n = args.tasks
    print(f"serial        : {t_serial:7.2f} s  {n / t_serial:6.2f} tasks/s")
    print(f"dask 2 workers: {t_dask:7.2f} s  {n / t_dask:6.2f} tasks/s  "
          f"(+ {t_startup:.2f} s cluster start-up)")
    print(f"speed-up serial/dask: {t_serial / t_dask:.2f}x (target >= 1.6x on 2 free cores); "
          f"including start-up: {t_serial / (t_dask + t_startup):.2f}x")
    for name, (wall, cpu) in per_task.items():
        print(f"per task ({name}): wall {wall:.3f} s, CPU {cpu:.3f} s "
              f"(wall/CPU > 1: the process waited for a core)")
    cpu_ratio = per_task["serial"][1] / (per_task["dask"][1] / 2)
    print(f"CPU-bound estimate on 2 free cores (serial CPU per task / (Dask CPU per task / 2)): "
          f"{cpu_ratio:.2f}x -- an estimate, not a measurement")
    print(f"tables identical: {identical}")
    print(f"peak RSS: driver {peak_rss_mib():.0f} MiB; workers "
          + ", ".join(f"{v:.0f} MiB" for v in worker_rss.values()))


if __name__ == "__main__":
    main()
