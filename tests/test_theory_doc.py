"""docs/theory.md: its section structure, the citations of it, and the numbers it quotes.

Oracles: the section list that the code's citations rely on (numbers and titles,
fixed by the project); the headings actually present in docs/theory.md (for every
"docs/theory.md, section N" citation in src/, README.md and docs/); ntphase itself
for the numbers the document quotes (a quoted value must be the computed one
rounded to the digits shown); and the list of files git tracks (no tracked text
file may point at a theory file outside the repository).
"""

from __future__ import annotations

import contextlib
import io
import math
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
THEORY_DOC = ROOT / "docs" / "theory.md"

#: The numbered sections, in order: code citations depend on these numbers.
EXPECTED_SECTIONS = [
    "Setting and normalizations",
    "Kernels",
    "Spectrum on the sphere",
    "Memorization and the interpolation threshold",
    "Generalization of NT ridge regression",
    "Sharper non-asymptotic predictions",
    "Targets with a known degree decomposition",
    "Lazy training of the real network",
    "At scale",
]

_SECTION = re.compile(r"^## (\d+)\. (.+?)\s*$", flags=re.MULTILINE)
_SUBSECTION = re.compile(r"^### (\d+)\.(\d+) (.+?)\s*$", flags=re.MULTILINE)
#: "docs/theory.md, section 3", "docs/theory.md section 3.5", "docs/theory.md, sections 3-6",
#: "docs/theory.md sections 1, 5", "docs/theory.md sections 3 and 5".
_CITATION = re.compile(
    r"docs/theory\.md,?\s+sections?\s+"
    r"(\d+(?:\.\d+)?(?:\s*(?:,|-|–|and|or)\s*\d+(?:\.\d+)?)*)"
)
_TEXT_SUFFIXES = {".py", ".md", ".rst", ".txt", ".yaml", ".yml", ".toml", ".cfg", ".ini", ".html", ".css", ".j2"}


def _doc() -> str:
    return THEORY_DOC.read_text(encoding="utf-8")


def _headings(text: str) -> tuple[dict[int, str], set[tuple[int, int]]]:
    sections = {int(n): title for n, title in _SECTION.findall(text)}
    subsections = {(int(a), int(b)) for a, b, _ in _SUBSECTION.findall(text)}
    return sections, subsections


def _cited(spec: str) -> list[str]:
    """Section labels named by a citation's number list: "3-6" -> 3, 4, 5, 6; "1, 5.2" -> 1, 5.2."""
    out: list[str] = []
    for part in re.split(r"\s*(?:,|\band\b|\bor\b)\s*", spec.strip()):
        ends = [s.strip() for s in re.split(r"[-–]", part)]
        if len(ends) == 2 and all(e.isdigit() for e in ends):
            out.extend(str(k) for k in range(int(ends[0]), int(ends[1]) + 1))
        else:
            out.extend(e for e in ends if e)
    return out


def _citations() -> list[tuple[str, str]]:
    """(file, section label) for every citation of docs/theory.md in src/, README.md and docs/."""
    files = [ROOT / "README.md"]
    for top in ("src", "docs"):
        files += [p for p in (ROOT / top).rglob("*") if p.is_file() and p.suffix in _TEXT_SUFFIXES]
    found = []
    for path in files:
        if not path.exists():
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        for match in _CITATION.finditer(text):
            found += [(str(path.relative_to(ROOT)), label) for label in _cited(match.group(1))]
    return found


def test_theory_doc_has_the_nine_sections_in_order():
    # oracle: EXPECTED_SECTIONS (the numbering the code cites)
    assert THEORY_DOC.is_file()
    text = _doc()
    numbered = _SECTION.findall(text)
    assert [int(n) for n, _ in numbered] == list(range(1, 10))
    for (_, title), expected in zip(numbered, EXPECTED_SECTIONS):
        assert title.startswith(expected), f"section title {title!r} should start with {expected!r}"
    positions = [text.index(f"## {k}. ") for k in range(1, 10)]
    assert positions == sorted(positions)


def test_subsections_are_numbered_inside_their_section():
    # oracle: every "### N.M" lies between "## N." and "## N+1." and M counts 1, 2, ... per section
    text = _doc()
    current, expected_sub = None, 1
    for line in text.splitlines():
        top = _SECTION.match(line)
        if top:
            current, expected_sub = int(top.group(1)), 1
            continue
        if line.startswith("## "):
            current = None  # unnumbered (References)
            continue
        sub = _SUBSECTION.match(line)
        if sub:
            assert current is not None and int(sub.group(1)) == current, line
            assert int(sub.group(2)) == expected_sub, line
            expected_sub += 1


def test_citation_parser():
    # oracle: hand-expanded citation forms used in the code
    assert _cited("3") == ["3"]
    assert _cited("3-6") == ["3", "4", "5", "6"]
    assert _cited("1, 5") == ["1", "5"]
    assert _cited("3 and 5") == ["3", "5"]
    assert _cited("3.5") == ["3.5"]
    found = [m.group(1) for m in _CITATION.finditer(
        "see docs/theory.md, section 4 and docs/theory.md sections 2, 7; docs/theory.md section 9.1"
    )]
    assert found == ["4", "2, 7", "9.1"]


def test_every_citation_names_an_existing_section():
    # oracle: the headings of docs/theory.md
    sections, subsections = _headings(_doc())
    bad = []
    for where, label in _citations():
        major, _, minor = label.partition(".")
        ok = 1 <= int(major) <= 9 and int(major) in sections
        if ok and minor:
            ok = (int(major), int(minor)) in subsections
        if not ok:
            bad.append(f"{where}: section {label}")
    assert not bad, "citations of sections that do not exist:\n" + "\n".join(bad)


def _tracked_text_files() -> list[Path]:
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True, timeout=60
        ).stdout
    except (OSError, subprocess.SubprocessError):
        pytest.skip("not a git checkout (git ls-files failed)")
    files = []
    for name in out.decode("utf-8", errors="replace").split("\0"):
        path = ROOT / name
        if name and path.is_file():
            head = path.read_bytes()[:8192]
            if b"\0" not in head:
                files.append(path)
    return files


def test_no_reference_to_a_theory_file_outside_the_repository():
    # oracle: git ls-files; the forbidden names are built so that this file does not contain them
    forbidden = ["THEORY" + ".md", ".." + "/shared"]
    hits = []
    for path in _tracked_text_files():
        text = path.read_text(encoding="utf-8", errors="replace")
        for word in forbidden:
            if word in text:
                hits.append(f"{path.relative_to(ROOT)}: {word} ({text.count(word)}x)")
    assert not hits, "references to files outside the repository:\n" + "\n".join(hits)


# ---------------------------------------------------------------- quoted numbers


def _flat_doc() -> str:
    return re.sub(r"\s+", " ", _doc())


def _quoted(pattern: str) -> str:
    """The number captured by ``pattern`` (a regex with one group) in the whitespace-collapsed doc."""
    match = re.search(pattern, _flat_doc())
    assert match, f"docs/theory.md no longer contains {pattern!r}"
    return match.group(1)


def _assert_rounds_to(value: float, quoted: str) -> None:
    """``quoted`` is ``value`` rounded to the decimals shown (half a unit in the last place)."""
    decimals = len(quoted.split(".")[1]) if "." in quoted else 0
    assert math.isclose(value, float(quoted), abs_tol=0.5 * 10.0 ** (-decimals) * (1 + 1e-9)), (value, quoted)


def test_quoted_constants_match_ntphase():
    # oracle: ntphase computes each number the document quotes (pattern in the doc -> computation)
    import ntphase as nt
    from ntphase import theory as th

    relu = nt.get_activation("relu")
    checks = [
        (r"\$B\(20, 2\) = (\d+)\$", lambda: nt.multiplicity(20, 2)),
        (r"\$B\(20, 4\) = (\d+)\$", lambda: nt.multiplicity(20, 4)),
        (r"\\ell\(200\) = (\d)\$", lambda: nt.level(200, 20, "relu")),
        (r"\\ell\(300\) = (\d)\$", lambda: nt.level(300, 20, "relu")),
        (r"\\gamma_2 = \\gamma_3 \\approx (0\.\d+)\$", lambda: relu.gamma(2)),
        (r"\\gamma_\{>2\} = \\gamma_\{>3\} = (0\.\d+)\$", lambda: nt.gamma_above("relu", 20, 2)),
        (r"\\gamma_\{>4\} = (0\.\d+)\$", lambda: nt.gamma_above("relu", 20, 4)),
        (r"400\$: edge \$(0\.\d+)\$", lambda: th.lambda_min_edge("relu", 20, 400)),
        (r"At \$n = 2000\$ the edge is \$(0\.\d+)\$", lambda: th.lambda_min_edge("relu", 20, 2000)),
        (r"a bulk of (\d+) with mean", lambda: th.spike_prediction("relu", 20, 400)[-1]["count"]),
        (r"\(spread (0\.\d+)-0\.\d+ from the law", lambda: th.spike_prediction("relu", 20, 400)[2]["spread_low"]),
        (r"\(spread 0\.\d+-(0\.\d+) from the law", lambda: th.spike_prediction("relu", 20, 400)[2]["spread_high"]),
        (r"\(spread (0\.\d+)-0\.\d+\)\.", lambda: th.spike_prediction("relu", 20, 400)[-1]["spread_low"]),
    ]
    for pattern, compute in checks:
        _assert_rounds_to(float(compute()), _quoted(pattern))
    assert _quoted(r"and \$H\(1\) = (1/2)\$") == "1/2"
    assert float(relu.H(1.0)) == 0.5  # closed form (pi - arccos 1) / (2 pi)


def test_quoted_double_descent_table_matches_ntphase():
    # oracle: ntphase.theory.nt_ridge_risk at the table's widths and ridges
    from ntphase import theory as th

    rows = re.findall(r"^\| \$\\lambda = ([\d.]+)\$ \|(.*)\|\s*$", _doc(), flags=re.MULTILINE)
    assert len(rows) == 2
    header = _doc().split("| $N$ ($Nd/n$)", 1)[1].splitlines()[0]
    widths = [int(w) for w in re.findall(r"\| (\d+) \(", header)]
    assert len(widths) == 7
    for lam, cells in rows:
        risks = th.nt_ridge_risk("relu", 20, 1000, widths, float(lam), {1: 1.0, 2: 0.5}, noise=0.5)
        for risk, cell in zip(risks, (c.strip() for c in cells.split("|"))):
            if cell == "$\\infty$":
                assert np.isinf(risk)
            else:
                _assert_rounds_to(float(risk), cell)


def test_random_features_example_prints_the_quoted_numbers():
    # oracle: the numbers written after the example in section 4.5, to the digits shown
    import ntphase as nt
    from ntphase import theory as th

    text = _doc()
    block = re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)[0]
    after = re.sub(r"\s+", " ", text.split(block + "```", 1)[1]).split(" On the ", 1)[0]
    quoted = re.findall(r"\b(0\.0\d+)\$", after)
    assert len(quoted) == 6
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        # the documented example, run as written
        exec(compile(block, "docs/theory.md", "exec"), {"np": np, "nt": nt, "th": th})  # noqa: S102
    printed = [float(x) for x in re.findall(r"-?\d+\.\d+(?:e-?\d+)?", out.getvalue())]
    assert len(printed) == 6
    for value, shown in zip(printed, quoted):
        _assert_rounds_to(value, shown)
