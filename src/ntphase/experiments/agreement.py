"""Rows of the theory-vs-simulation agreement table (the experiments' ``agreement`` hook).

Each row has the keys ``prediction, setting, predicted, measured, relative_error,
note`` with ``relative_error = |predicted - measured| / |measured|`` (``inf`` when
``measured`` is 0), as listed in ``docs/internals.md`` (``experiments/``) and shown
by ``ntphase.experiments.report``.
"""

from __future__ import annotations


def agreement_row(prediction: str, setting: str, predicted: float, measured: float, note: str = "") -> dict:
    """One agreement row; ``relative_error = |predicted - measured| / |measured|`` (``inf`` if ``measured == 0``)."""
    predicted, measured = float(predicted), float(measured)
    rel = abs(predicted - measured) / abs(measured) if measured != 0 else float("inf")
    return {"prediction": prediction, "setting": setting, "predicted": predicted, "measured": measured,
            "relative_error": rel, "note": note}
