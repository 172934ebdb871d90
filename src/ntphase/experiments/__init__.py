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
:func:`ntphase.runtime.run_sweep` with the module's ``run_task`` as the task
function and the registry name as the sweep name), ``config.yaml`` (the validated config that ran)
and ``run.yaml`` (command line, versions), ``results.parquet`` (the tidy simulation
table), ``theory.parquet`` (the theory rows) and ``figures/`` (PNG + PDF).
"""

from ntphase.experiments.registry import REGISTRY, available_experiments, get_experiment
from ntphase.experiments.runner import (
    ExperimentResult,
    load_experiment_dir,
    run_experiment,
    theory_table,
    write_table,
)

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
