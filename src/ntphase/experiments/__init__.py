"""Named experiments: each a module with ``tasks``, ``run_task``, ``theory_rows``
and ``plot`` (see docs/internals.md, ``experiments/``), listed in ``REGISTRY``."""

from __future__ import annotations

# registry name -> dotted module path (filled by the experiments' owner)
REGISTRY: dict[str, str] = {}
