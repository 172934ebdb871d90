"""The README's worked example runs and prints what the README says it prints.

Oracle: the numbers shown in the README's "prints" block, compared to 1e-6
relative (BLAS may reorder sums across machines; 1e-6 is far above rounding and
far below any change of method or normalization).
"""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _blocks(text: str, lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", text, flags=re.S)


def _numbers(text: str) -> list[float]:
    return [float(x) for x in re.findall(r"-?\d+\.\d+(?:e-?\d+)?", text)]


def test_worked_example_prints_the_documented_numbers():
    text = README.read_text()
    example = _blocks(text, "python")[0]
    after = text.split(example + "```", 1)[1]
    printed = _blocks(after, "")[0]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(example, "README.md", "exec"), {})
    got, want = _numbers(out.getvalue()), _numbers(printed)
    assert len(got) == len(want) == 4
    assert got == pytest.approx(want, rel=1e-6)


def test_readme_starts_with_the_two_commands():
    text = README.read_text()
    bash = _blocks(text, "bash")[:2]
    assert "ntphase reproduce" in bash[0] and "pip install" in bash[0]
    assert "pytest" in bash[1] and "pip install" in bash[1]
    ci = (README.parent / ".ci" / "run").read_text()
    assert "python -m pytest -q" in bash[1] and "python -m pytest -q" in ci
