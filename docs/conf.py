"""
Sphinx configuration of the airflow-provider-cloud docs (``make docs``: warnings are errors).

Pages are MyST Markdown. No intersphinx: CI reaches package registries only. Airflow is imported by autodoc,
so its home is a folder inside the (git-ignored) build output, never ``~/airflow``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
_HOME = DOCS / "_build" / "airflow-home"
_HOME.mkdir(parents=True, exist_ok=True)
os.environ.setdefault("AIRFLOW_HOME", str(_HOME))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
sys.path[:0] = [str(ROOT), str(DOCS / "_ext")]

import airflow_provider_cloud  # noqa: E402

project = "airflow-provider-cloud"
author = "the airflow-provider-cloud authors"
copyright = "the airflow-provider-cloud authors, Apache License 2.0"
release = version = airflow_provider_cloud.__version__

extensions = ["myst_parser", "sphinx.ext.autodoc", "provider_fields"]
source_suffix = {".md": "markdown"}
root_doc = "index"
# examples/ holds code the pages include (the testing page's example), not pages.
exclude_patterns = ["_build", "examples/**", "Thumbs.db", ".DS_Store"]

myst_enable_extensions = ["colon_fence"]
myst_heading_anchors = 3

autodoc_member_order = "bysource"
autodoc_default_options = {"members": True, "show-inheritance": True}
autodoc_typehints = "signature"
autodoc_preserve_defaults = True
# Our own docstrings only: an override without one (an fsspec method) shows none rather than the base's.
autodoc_inherit_docstrings = False

html_theme = "furo"
html_title = f"airflow-provider-cloud {release}"
html_static_path: list[str] = []
html_show_sourcelink = False
# Text as written: the connection tables must show labels and descriptions exactly as the form does.
smartquotes = False
