"""Named experiments: a registry of modules and one runner that drives them.

Each experiment is a module (see ``docs/internals.md``, ``experiments/``) with

- ``NAME``: its registry name;
- ``Config``: a pydantic model (``extra="forbid"``) derived from
  :class:`ntphase.experiments.config.ExperimentConfig`;
- ``tasks(config) -> list[dict]``: the parameters of each independent task;
- ``run_task(params, seed) -> list[dict]``: tidy rows (``quantity``, ``value``, extras);
- ``theory_rows(config) -> list[dict]``: theory curves in the same schema;
- ``plot(table, config, outdir, theory=None) -> list[Path]``: PNG and PDF figures;
- optionally ``agreement(table, theory, config) -> list[dict]``: theory-vs-simulation
  rows for the report (``prediction, setting, predicted, measured, relative_error``).

``REGISTRY`` maps names to module paths; modules are imported lazily, so an
experiment whose module is not installed yet is simply skipped by
:func:`available_experiments`.

Output layout of :func:`run_experiment` in ``OUT/<experiment>/``: the sweep store
(``parts/``, ``manifest.json``, ``plan.json``, written by
:func:`ntphase.sweep.run_sweep`), ``config.yaml`` (the validated config that ran)
and ``run.yaml`` (command line, versions), ``results.parquet`` (the tidy simulation
table), ``theory.parquet`` (the theory rows) and ``figures/`` (PNG + PDF).
"""

from __future__ import annotations

import importlib
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from ntphase.experiments.config import ExperimentConfig

#: experiment name -> module path (imported on first use). Order = report order.
REGISTRY: dict[str, str] = {
    "phase_transition": "ntphase.experiments.phase_transition",
    "spectrum": "ntphase.experiments.spectrum",
    "double_descent": "ntphase.experiments.double_descent",
    "generalization": "ntphase.experiments.generalization",
    "lazy_training": "ntphase.experiments.lazy_training",
}

CONFIG_FILE = "config.yaml"
RESULTS_FILE = "results.parquet"
THEORY_FILE = "theory.parquet"
FIGURES_DIR = "figures"


def get_experiment(name: str) -> ModuleType:
    """Import and return the experiment module registered as ``name``.

    Raises
    ------
    ValueError
        ``name`` is not in ``REGISTRY``.
    ModuleNotFoundError
        The module is registered but not installed (not written yet).
    """
    if name not in REGISTRY:
        raise ValueError(f"experiment must be one of {sorted(REGISTRY)}, got {name!r}")
    return importlib.import_module(REGISTRY[name])


def available_experiments() -> list[str]:
    """Registered experiments whose module can be imported, in registry order."""
    names = []
    for name, path in REGISTRY.items():
        try:
            importlib.import_module(path)
        except ModuleNotFoundError as exc:
            if exc.name != path:
                raise
            continue
        names.append(name)
    return names


@dataclass
class ExperimentResult:
    """What :func:`run_experiment` produced for one experiment."""

    name: str
    directory: Path
    config: Any
    table: Any
    theory: Any
    figures: list[Path] = field(default_factory=list)


def _write_atomic(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        from ntphase.store import _umask

        os.chmod(tmp, 0o666 & ~_umask())  # the umask's permissions, not mkstemp's 0600
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_table(table: pd.DataFrame, path: Path) -> None:
    """Write a DataFrame as Parquet atomically (temp file + rename)."""
    _write_atomic(Path(path), lambda tmp: table.to_parquet(tmp, index=False))


def theory_table(module: ModuleType, config: ExperimentConfig) -> pd.DataFrame:
    """The experiment's theory rows as a DataFrame (``source = "theory"``)."""
    import pandas as pd

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
) -> ExperimentResult:
    """Run one validated experiment config into ``out/<experiment>/``.

    Records the config and the command (:func:`ntphase.sweep.write_run_info`:
    ``config.yaml``, ``run.yaml``), runs the config's tasks with
    :func:`ntphase.sweep.run_sweep` (resumable: tasks already stored in the
    directory are not recomputed; the sweep writes ``results.parquet`` with this
    config's tasks), writes ``theory.parquet`` and, if ``figures``, the figures
    under ``figures/`` (none when no task succeeded: the table is empty).
    The directory is locked for the whole run (:func:`ntphase.sweep.lock_directory`):
    a second driver on it is refused.

    Parameters
    ----------
    config : ExperimentConfig
        A validated config (``load_config`` / ``packaged_config``).
    out : path
        Output root; the experiment writes into ``out/<config.experiment>/``.
    executor, workers, scheduler, retries, progress
        Passed to :func:`ntphase.sweep.run_sweep` (``"auto"``: Dask when
        ``workers > 1`` or a scheduler is given, else serial); ``scheduler`` is an
        address or a ``distributed.Client`` (to share one cluster between experiments).
    figures : bool
        Also draw the figures (PNG + PDF).
    command : str
        The command line recorded in ``run.yaml``.
    """
    from ntphase import sweep

    module = get_experiment(config.experiment)
    directory = Path(out) / config.experiment
    directory.mkdir(parents=True, exist_ok=True)
    with sweep.lock_directory(directory):
        sweep.write_run_info(directory, config, command)
        tasks = module.tasks(config)
        table = sweep.run_sweep(
            module,
            tasks,
            directory,
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


def load_experiment_dir(directory: str | Path) -> ExperimentResult:
    """Read back what :func:`run_experiment` stored in ``directory``.

    The theory rows are recomputed from the config when ``theory.parquet`` is
    missing; the results table is reassembled from the sweep store when
    ``results.parquet`` is missing.
    """
    import pandas as pd

    from ntphase.experiments.config import load_config

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
        from ntphase import sweep

        table = sweep.assemble(directory)
    theory_path = directory / THEORY_FILE
    theory = pd.read_parquet(theory_path) if theory_path.is_file() else theory_table(module, config)
    return ExperimentResult(config.experiment, directory, config, table, theory, [])


__all__ = [
    "REGISTRY",
    "ExperimentResult",
    "available_experiments",
    "get_experiment",
    "load_experiment_dir",
    "run_experiment",
    "theory_table",
    "write_table",
]
