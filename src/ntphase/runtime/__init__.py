"""Running many independent tasks: grids, executors (serial, Dask), the resumable
Parquet store and task keys. Tasks are plain callables; nothing scientific here."""

from ntphase.runtime.executors import available_cores, connect, local_cluster
from ntphase.runtime.store import StoreError, assemble, sweep_status
from ntphase.runtime.sweep import expand_grid, lock_directory, run_sweep, write_run_info
from ntphase.runtime.task_keys import task_key, task_seed

__all__ = [
    "StoreError",
    "assemble",
    "available_cores",
    "connect",
    "expand_grid",
    "local_cluster",
    "lock_directory",
    "run_sweep",
    "sweep_status",
    "task_key",
    "task_seed",
    "write_run_info",
]
