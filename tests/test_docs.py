"""The documentation tree is consistent: pages, toctrees, API lists and in-repo paths.

Fast, static checks (no Sphinx build: CI runs the full ``sphinx-build -W`` in
``.ci/run``). Oracles: the files git tracks and the files on disk (a referenced
page, image, include or repository path must exist, or be a build output that
``.gitignore`` names); the package itself (each documented subpackage's ``__all__``
must resolve, and every public subpackage must be documented). The theory
document's own checks are in tests/test_theory_doc.py.
"""

from __future__ import annotations

import ast
import importlib
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"

#: Not API pages: the CLI has its own page (docs/cli.md), conventions are internal constants.
NOT_IN_API = {"cli", "conventions"}
#: Toctree entries produced by the build from other sources (entry -> the source that makes it).
GENERATED_PAGES = {"auto_examples/index": ROOT / "examples" / "GALLERY_HEADER.rst"}


def _tracked() -> list[Path]:
    try:
        out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        pytest.skip("not a git checkout (git ls-files failed)")
    return [ROOT / name for name in out.decode("utf-8", errors="replace").split("\0") if name and (ROOT / name).is_file()]


def _text_files() -> list[Path]:
    files = []
    for path in _tracked():
        head = path.read_bytes()[:8192]
        if b"\0" not in head:
            files.append(path)
    return files


def _ignored(relative: str) -> bool:
    """``relative`` (from the repository root) is a build output that .gitignore names."""
    # a directory pattern ("docs/_build/") matches a path that does not exist yet only when the
    # path is given as a directory: try both forms (a fresh clone has no build outputs)
    for candidate in (relative, relative.rstrip("/") + "/"):
        done = subprocess.run(["git", "check-ignore", "-q", "--no-index", candidate], cwd=ROOT, timeout=60)
        if done.returncode == 0:
            return True
    return False


def _doc_sources() -> list[Path]:
    """Committed page sources of the site (not templates, not build outputs)."""
    return [
        p for p in _tracked()
        if p.is_relative_to(DOCS) and p.suffix in {".md", ".rst"} and "_templates" not in p.relative_to(DOCS).parts
    ]


def _toctree_entries(text: str) -> list[str]:
    """Entries of every toctree in a MyST (```{toctree}) or reST (.. toctree::) page's text."""
    blocks = re.findall(r"```\{toctree\}\n(.*?)```", text, flags=re.DOTALL)
    blocks += re.findall(r"^\.\. toctree::\n((?:[ \t]+.*\n|\n)*)", text, flags=re.MULTILINE)
    entries = []
    for block in blocks:
        for line in block.splitlines():
            line = line.strip()
            if line and not line.startswith(":"):
                entries.append(line)
    return entries


def _page_exists(entry: str, relative_to: Path) -> bool:
    base = (relative_to.parent / entry) if not entry.startswith("/") else DOCS / entry.lstrip("/")
    docname = base.resolve().relative_to(DOCS.resolve()).as_posix()
    if docname in GENERATED_PAGES:
        return GENERATED_PAGES[docname].is_file()
    return any(base.with_name(base.name + suffix).is_file() for suffix in (".md", ".rst"))


def test_toctree_parser():
    # oracle: hand-written toctrees in both syntaxes
    page = "x\n```{toctree}\n:hidden:\n\ntheory\napi/index\n```\n.. toctree::\n   :maxdepth: 1\n\n   cli\n\nafter\n"
    assert _toctree_entries(page) == ["theory", "api/index", "cli"]


def test_every_toctree_page_exists_and_every_page_is_in_a_toctree():
    # oracle: the page files on disk; Sphinx needs each entry's source and each source in a toctree
    sources = _doc_sources()
    assert DOCS / "index.md" in sources, "docs/index.md is the site's root page"
    assert (DOCS / "conf.py").is_file()
    linked: set[str] = {"index"}
    missing = []
    for page in sources:
        for entry in _toctree_entries(page.read_text(encoding="utf-8")):
            if not _page_exists(entry, page):
                missing.append(f"{page.relative_to(ROOT)}: {entry}")
            linked.add((page.parent / entry).resolve().relative_to(DOCS.resolve()).as_posix())
    assert not missing, "toctree entries without a page:\n" + "\n".join(missing)
    # pages pulled in by an include are not documents of their own
    included = {m for p in sources for m in re.findall(r"```\{include\}\s+(\S+)", p.read_text(encoding="utf-8"))}
    orphans = [
        p.relative_to(ROOT).as_posix() for p in sources
        if p.relative_to(DOCS).with_suffix("").as_posix() not in linked and p.name not in included
    ]
    assert not orphans, "pages in no toctree:\n" + "\n".join(orphans)


def test_gallery_examples_have_a_title_and_are_in_the_gallery():
    # oracle: sphinx-gallery's contract: examples/GALLERY_HEADER.rst, plot_*.py with a module docstring
    # whose first line is the title (underlined)
    header = ROOT / "examples" / "GALLERY_HEADER.rst"
    assert header.is_file()
    examples = sorted((ROOT / "examples").glob("plot_*.py"))
    assert len(examples) >= 5, "one example per figure of ntphase reproduce"
    for path in examples:
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
        assert doc, f"{path.name}: no docstring"
        title, underline = doc.strip().splitlines()[:2]
        assert set(underline) == {"="} and len(underline) >= len(title), f"{path.name}: title not underlined"


def _conf_subpackages() -> list[str]:
    tree = ast.parse((DOCS / "conf.py").read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "PUBLIC_SUBPACKAGES" for t in node.targets):
            return list(ast.literal_eval(node.value))
    raise AssertionError("docs/conf.py defines no PUBLIC_SUBPACKAGES")


def test_api_reference_lists_every_public_subpackage():
    # oracle: the subpackages on disk (public = no leading underscore) and docs/api/index.rst
    on_disk = sorted(
        f"ntphase.{p.stem}" for p in (ROOT / "src" / "ntphase").iterdir()
        if not p.name.startswith("_") and p.stem not in NOT_IN_API
        and ((p.is_dir() and (p / "__init__.py").is_file()) or p.suffix == ".py")
    )
    in_conf = _conf_subpackages()
    assert sorted(in_conf) == on_disk
    text = (DOCS / "api" / "index.rst").read_text(encoding="utf-8")
    listed = re.findall(r"^   (ntphase(?:\.\w+)?)\s*$", text, flags=re.MULTILINE)
    assert listed == ["ntphase", *in_conf], "docs/api/index.rst lists ntphase, then conf.py's PUBLIC_SUBPACKAGES in order"


@pytest.mark.parametrize("module_name", ["ntphase", *_conf_subpackages()])
def test_every_documented_name_resolves(module_name):
    # oracle: the module itself: autosummary documents exactly __all__, so each name must import
    module = importlib.import_module(module_name)
    names = [n for n in module.__all__ if not n.startswith("__")]
    assert names, f"{module_name}.__all__ is empty"
    missing = [n for n in names if not hasattr(module, n)]
    assert not missing, f"{module_name}.__all__ names that do not exist: {missing}"


# ---------------------------------------------------------------- paths inside the repository

_LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
_DIRECTIVE = re.compile(r"^(?:```\{(?:include|image|figure|literalinclude)\}|\.\. (?:include|image|figure|literalinclude)::)\s+(\S+)",
                        flags=re.MULTILINE)
#: a repository path in prose or code: docs/..., src/..., tests/..., benchmarks/..., examples/..., .ci/...
_REPO_PATH = re.compile(r"(?<![\w./\\-])((?:docs|src|tests|benchmarks|examples|\.ci)/[\w./-]*[\w/])(?![\w*\\])")


def _inside(path: Path) -> bool:
    return path.resolve().is_relative_to(ROOT.resolve())


def test_links_images_and_includes_point_inside_the_repository():
    # oracle: the files on disk and .gitignore; a relative link, image or include in a Markdown/reST
    # file must name an existing file inside the repository, or a build output that .gitignore names
    # (the generated CLI page and gallery index; URLs and in-page anchors are not paths)
    bad = []
    for path in _text_files():
        if path.suffix not in {".md", ".rst"}:
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        targets = [m.group(1) for m in _LINK.finditer(text)] + [m.group(1) for m in _DIRECTIVE.finditer(text)]
        for target in targets:
            if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
                continue  # URL (http:, mailto:, ...) or anchor
            file_part = target.split("#", 1)[0]
            base = DOCS if file_part.startswith("/") else path.parent
            resolved = base / file_part.lstrip("/")
            if not _inside(resolved):
                bad.append(f"{path.relative_to(ROOT)}: {target}")
            elif not resolved.exists() and not _ignored(resolved.resolve().relative_to(ROOT.resolve()).as_posix()):
                bad.append(f"{path.relative_to(ROOT)}: {target}")  # neither a file nor a build output
    assert not bad, "links to files that are not in the repository:\n" + "\n".join(bad)


def test_repository_paths_named_in_files_exist():
    # oracle: the files on disk and .gitignore; every "docs/...", "src/...", "tests/...",
    # "benchmarks/...", "examples/..." or ".ci/..." path written in a tracked text file exists
    # in the checkout or is a build output that .gitignore names
    bad = []
    ignored_cache: dict[str, bool] = {}
    for path in _text_files():
        text = path.read_text(encoding="utf-8", errors="replace")
        for match in _REPO_PATH.finditer(text):
            name = match.group(1).rstrip(".")
            if (ROOT / name).exists():
                continue
            if name not in ignored_cache:
                ignored_cache[name] = _ignored(name)
            if not ignored_cache[name]:
                bad.append(f"{path.relative_to(ROOT)}: {name}")
    assert not bad, "paths that are not in the repository:\n" + "\n".join(sorted(set(bad)))


def test_repository_path_pattern():
    # oracle: hand-picked strings
    found = [m.group(1) for m in _REPO_PATH.finditer(
        "see docs/theory.md, section 2; run `benchmarks/run.py`. Configs: src/ntphase/configs/*.yaml; "
        r"regex docs/theory\.md; URL https://x.org/docs/a.md; ../docs/b.md"
    )]
    assert found == ["docs/theory.md", "benchmarks/run.py", "src/ntphase/configs"]
