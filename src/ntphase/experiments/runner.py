"""One runner for every experiment: sweep, theory table, figures, run records."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pandas as pd

from ntphase._util.atomic import atomic_write
from ntphase._util.backend import resolve_device, use_device
from ntphase.experiments.config import ExperimentConfig, load_config
from ntphase.experiments.registry import get_experiment
from ntphase.runtime import assemble, lock_directory, run_sweep, write_run_info

__all__ = [
    "CONFIG_FILE",
    "FIGURES_DIR",
    "RESULTS_FILE",
    "THEORY_FILE",
    "ExperimentResult",
    "load_experiment_dir",
    "run_experiment",
    "run_task_on_device",
    "theory_table",
    "write_table",
]

CONFIG_FILE = "config.yaml"
RESULTS_FILE = "results.parquet"
THEORY_FILE = "theory.parquet"
FIGURES_DIR = "figures"


@dataclass
class ExperimentResult:
    """What :func:`run_experiment` produced for one experiment."""

    name: str
    directory: Path
    config: Any
    table: Any
    theory: Any
    figures: list[Path] = field(default_factory=list)


def write_table(table: pd.DataFrame, path: Path) -> None:
    """Write a DataFrame as Parquet atomically (temp file, fsync, rename)."""
    atomic_write(path, lambda tmp: table.to_parquet(tmp, index=False))


def theory_table(module: ModuleType, config: ExperimentConfig) -> pd.DataFrame:
    """The experiment's theory rows as a DataFrame (``source = "theory"``)."""
    theory = pd.DataFrame(module.theory_rows(config))
    if not theory.empty:
        theory["experiment"] = module.NAME
    return theory


def run_experiment(
    config: ExperimentConfig,
    out: str | Path,
    executor: str = "auto",
    workers: int | None = None,
    scheduler: Any = None,
    retries: int = 2,
    progress: bool = True,
    figures: bool = True,
    command: str = "ntphase.experiments.run_experiment",
    device: str = "cpu",
) -> ExperimentResult:
    """Run one validated experiment config into ``out/<experiment>/``.

    Records the config and the command (:func:`ntphase.runtime.sweep.write_run_info`:
    ``config.yaml``, ``run.yaml``), runs the config's tasks with
    :func:`ntphase.runtime.sweep.run_sweep` (resumable: tasks already stored in the
    directory are not recomputed; the sweep writes ``results.parquet`` with this
    config's tasks), writes ``theory.parquet`` and, if ``figures``, the figures
    under ``figures/`` (none when no task succeeded: the table is empty).
    The directory is locked for the whole run
    (:func:`ntphase.runtime.sweep.lock_directory`): a second driver on it is refused.

    Parameters
    ----------
    config : ExperimentConfig
        A validated config (``load_config`` / ``packaged_config``).
    out : path
        Output root; the experiment writes into ``out/<config.experiment>/``.
    executor, workers, scheduler, retries, progress
        Passed to :func:`ntphase.runtime.sweep.run_sweep` (``"auto"``: Dask when
        ``workers > 1`` or a scheduler is given, else serial); ``scheduler`` is an
        address or a ``distributed.Client`` (to share one cluster between experiments).
    figures : bool
        Also draw the figures (PNG + PDF).
    command : str
        The command line recorded in ``run.yaml``.
    device : str
        Where the tasks compute their kernels, spectra and solves
        (:func:`ntphase.kernels.resolve_device`: ``"cpu"`` NumPy, ``"cuda"``,
        ``"cuda:1"``, ``"jax:cpu"``, ...). Checked before anything runs
        (``DeviceUnavailableError``, one line). Each task runs inside
        ``use_device(device)``; the device is not a task parameter, so task keys
        and seeds are the same on every device (the same numbers to rounding,
        and a directory computed on one device resumes on another); ``run.yaml``
        records it with the command line.
    """
    backend = resolve_device(device)
    module = get_experiment(config.experiment)
    directory = Path(out) / config.experiment
    directory.mkdir(parents=True, exist_ok=True)
    with lock_directory(directory):
        write_run_info(directory, config, command)
        tasks = module.tasks(config)
        task = module.run_task
        if not backend.is_numpy:
            task = functools.partial(run_task_on_device, module.run_task, device)
        table = run_sweep(
            task,
            tasks,
            directory,
            name=config.experiment,
            executor=executor,
            workers=workers,
            scheduler=scheduler,
            retries=retries,
            progress=progress,
        )
        theory = theory_table(module, config)
        write_table(theory, directory / THEORY_FILE)
        paths: list[Path] = []
        if figures and not table.empty:  # every task failed: nothing to plot
            paths = module.plot(table, config, directory / FIGURES_DIR, theory=theory)
    return ExperimentResult(config.experiment, directory, config, table, theory, paths)


def run_task_on_device(task: Any, device: str, params: dict, seed: int) -> Any:
    """Run ``task(params, seed)`` inside ``use_device(device)`` (picklable with ``functools.partial``)."""
    with use_device(device):
        return task(params, seed)


def load_experiment_dir(directory: str | Path) -> ExperimentResult:
    """Read back what :func:`run_experiment` stored in ``directory``.

    The theory rows are recomputed from the config when ``theory.parquet`` is
    missing; the results table is reassembled from the sweep store when
    ``results.parquet`` is missing.
    """
    directory = Path(directory)
    config_path = directory / CONFIG_FILE
    if not config_path.is_file():
        raise FileNotFoundError(f"{str(directory)!r} has no {CONFIG_FILE}; is it an experiment output directory?")
    config = load_config(config_path)
    module = get_experiment(config.experiment)
    results = directory / RESULTS_FILE
    if results.is_file():
        table = pd.read_parquet(results)
    else:
        table = assemble(directory)
    theory_path = directory / THEORY_FILE
    theory = pd.read_parquet(theory_path) if theory_path.is_file() else theory_table(module, config)
    return ExperimentResult(config.experiment, directory, config, table, theory, [])
