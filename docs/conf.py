"""Sphinx configuration for the ntphase documentation site.

Build (warnings are errors, as in CI)::

    pip install -e ".[docs]"
    sphinx-build -W --keep-going -b html docs docs/_build/html

The API reference is generated from each public subpackage's ``__all__`` (see
``api/index.rst`` and ``_templates/autosummary/``), the gallery from ``examples/``
(sphinx-gallery, executed at build time), the CLI reference from the Typer app
(``typer ntphase.cli.app utils docs``, written to ``_generated/cli.md`` at build time
and included by ``cli.md``).
"""

from __future__ import annotations

import importlib
import inspect
import os
import subprocess
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT / "src"))  # the checkout's ntphase when building without installing

# The gallery runs in the build process: keep BLAS single-threaded and matplotlib headless.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("MPLBACKEND", "Agg")

from sphinx.errors import PycodeError  # noqa: E402
from sphinx.pycode import ModuleAnalyzer  # noqa: E402

import ntphase  # noqa: E402

project = "ntphase"
author = "the ntphase authors"
copyright = "2026, the ntphase authors"  # noqa: A001
version = release = ntphase.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
smartquotes_action = "qe"  # curly quotes and ellipses, but keep "--option" as typed (no en dashes)
templates_path = ["_templates"]
exclude_patterns = ["_build", "_generated", "Thumbs.db", ".DS_Store"]

# ---------------------------------------------------------------- Markdown (MyST)
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3
myst_dmath_double_inline = True

# ---------------------------------------------------------------- API reference
#: The public subpackages, in layer order (bottom first); each page lists its ``__all__``.
PUBLIC_SUBPACKAGES = [
    "ntphase.activations",
    "ntphase.sphere",
    "ntphase.data",
    "ntphase.kernels",
    "ntphase.linalg",
    "ntphase.learning",
    "ntphase.theory",
    "ntphase.training",
    "ntphase.runtime",
    "ntphase.experiments",
]


def _top_level_homes() -> tuple[dict[str, str], list[str]]:
    """Where each name of ``ntphase.__all__`` is documented.

    Returns ``(homes, own)``: ``homes[name]`` is the public subpackage path that also
    exports the same object (the top-level page links there, so nothing is documented
    twice); ``own`` are the names no public subpackage exports (documented on the
    top-level page itself). Computed from the ``__all__`` lists at build time.
    """
    import importlib

    exported: dict[int, str] = {}
    for package in PUBLIC_SUBPACKAGES:
        module = importlib.import_module(package)
        for name in module.__all__:
            exported.setdefault(id(getattr(module, name)), f"{package}.{name}")
    homes: dict[str, str] = {}
    own: list[str] = []
    for name in ntphase.__all__:
        if name.startswith("__"):
            continue
        obj = getattr(ntphase, name)
        if id(obj) in exported:
            homes[name] = exported[id(obj)]
        else:
            own.append(name)
    return homes, own


_HOMES, _OWN = _top_level_homes()
autosummary_context = {"top_level_homes": _HOMES, "top_level_own": _OWN}
autosummary_generate = True
autosummary_ignore_module_all = False  # members of a module page are its __all__
autosummary_imported_members = True
autodoc_default_options = {"members": True, "inherited-members": False, "show-inheritance": False}
autodoc_typehints = "none"  # numpydoc's Parameters sections carry the types
numpydoc_show_class_members = False  # the class template lists members itself
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
numpydoc_validation_checks: set[str] = set()



def _skip_foreign_members(app, what, name, obj, skip, options):
    """Leave out members a class gets from scikit-learn (``get_params``, ``set_*_request``, ...):
    they are scikit-learn's API, documented there, and their docstrings use its glossary."""
    module = getattr(obj, "__module__", None) or ""
    if module.startswith("sklearn."):
        return True
    return None


def _constant_docstring(app, what, name, obj, options, lines):
    """A constant re-exported by a subpackage: its ``#:`` comment from the module that defines it.

    autodoc reads ``#:`` comments only in the module being documented (the subpackage's
    ``__init__``), and otherwise shows the docstring of the value's type (``int``, ``dict``).
    """
    if what != "data":
        return
    parent, _, attr = name.rpartition(".")
    value = getattr(importlib.import_module(parent), attr)
    type_doc = inspect.cleandoc(getattr(type(value), "__doc__", None) or "")
    if lines and "\n".join(lines).strip() != type_doc.strip():
        return  # a docstring or comment of its own
    for modname, module in sorted(sys.modules.items()):
        if not modname.startswith("ntphase") or getattr(module, attr, None) is not value:
            continue
        try:
            docs = ModuleAnalyzer.for_module(modname).find_attr_docs()
        except PycodeError:
            continue
        if ("", attr) in docs:
            lines[:] = list(docs[("", attr)])
            return
    lines[:] = []


# ---------------------------------------------------------------- command line
def _write_cli_reference() -> None:
    """``_generated/cli.md``: Typer's Markdown reference of the ``ntphase`` app (included by cli.md)."""
    out = DOCS / "_generated" / "cli.md"
    out.parent.mkdir(exist_ok=True)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")]))}
    subprocess.run(
        [sys.executable, "-m", "typer", "ntphase.cli.app", "utils", "docs", "--name", "ntphase", "--output", str(out)],
        check=True, env=env, capture_output=True, timeout=120,
    )


_write_cli_reference()

# ---------------------------------------------------------------- gallery
sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "image_scrapers": ("matplotlib",),
    "reset_modules": ("matplotlib",),
    "matplotlib_animations": False,
    "show_memory": False,
    "abort_on_example_error": True,
    "min_reported_time": 0,
}

# ---------------------------------------------------------------- HTML
html_theme = "pydata_sphinx_theme"
html_title = f"ntphase {release}"
html_static_path: list[str] = []
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "header_links_before_dropdown": 5,
    "secondary_sidebar_items": ["page-toc"],
}
# pages without sub-pages need no section navigation (full width for the text)
html_sidebars = {page: [] for page in ("index", "theory", "cli", "sweeps", "benchmarks", "internals")}
html_show_sourcelink = False


def setup(app):
    app.connect("autodoc-skip-member", _skip_foreign_members)
    app.connect("autodoc-process-docstring", _constant_docstring, priority=400)  # before numpydoc (500)
