"""
The docs' testing page (``docs/testing.md``): its worked example is shown whole, and passes for a new user.

The example is copied into an empty folder outside the repository and run with ``python -m pytest`` by this
interpreter (the installed package), with none of this session's ``AIRFLOW_*``, ``PYTEST_*`` or
``PYTHONPATH`` variables: no repository ``conftest.py``, ``pythonpath`` or Airflow home can help it.
"""

from __future__ import annotations

import ast
import re
import shutil
from pathlib import Path

import pytest

from tests.subprocess_pytest import clean_env, outcomes, run_pytest

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "testing.md"
EXAMPLE = ROOT / "docs" / "examples" / "testing"
_INCLUDE = re.compile(r"^```\{literalinclude\}\s+(\S+)\s*$", re.MULTILINE)


def example_files() -> set[str]:
    return {
        str(path.relative_to(EXAMPLE.parent.parent))
        for path in EXAMPLE.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }


def example_tests() -> int:
    """Count the test functions the example defines."""
    count = 0
    for path in EXAMPLE.rglob("test_*.py"):
        tree = ast.parse(path.read_text())
        count += sum(
            isinstance(node, ast.FunctionDef) and node.name.startswith("test_") for node in tree.body
        )
    return count


def test_the_page_includes_every_file_of_its_example_and_nothing_missing():
    included = set(_INCLUDE.findall(PAGE.read_text()))

    assert included == example_files()
    assert all((PAGE.parent / name).is_file() for name in included)


def test_the_example_has_no_conftest_or_pytest_configuration_to_lean_on():
    names = {path.name for path in EXAMPLE.rglob("*")}

    assert not names & {"conftest.py", "pytest.ini", "pyproject.toml", "setup.cfg", "tox.ini"}
    assert example_tests() >= 2


@pytest.mark.dag
@pytest.mark.integration
def test_the_page_example_passes_first_time_in_a_fresh_folder(tmp_path):
    project = tmp_path / "my-project"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("__pycache__"))
    scratch = tmp_path / "tmp"  # the run's temporary folder: what it leaves there is visible
    scratch.mkdir()

    run = run_pytest(project, env=clean_env(TMPDIR=str(scratch)))

    report = run.stdout[-4000:] + run.stderr[-2000:]
    assert run.returncode == 0, report
    assert outcomes(run) == {"passed": example_tests()}, report
    assert f"rootdir: {project}" in run.stdout, report
    assert sorted(path.name for path in scratch.glob("apc-airflow-home-*")) == []  # the private home is gone
