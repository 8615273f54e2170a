"""The testing kit knows the wire, not our client code: nothing under ``testing/`` imports the provider's layers."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import airflow_provider_cloud.testing as testing

FORBIDDEN = tuple(
    f"airflow_provider_cloud.{layer}"
    for layer in ("hooks", "operators", "sensors", "triggers", "rows", "exceptions", "example_dags")
)
MODULES = sorted(Path(testing.__file__).parent.rglob("*.py"))


def imported(path: Path) -> set[str]:
    """Return every module a file imports, ``TYPE_CHECKING`` blocks and function bodies included."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_the_kit_has_modules_to_check() -> None:
    assert len(MODULES) > 20


@pytest.mark.parametrize(
    "path", MODULES, ids=lambda path: str(path.relative_to(Path(testing.__file__).parent))
)
def test_no_module_imports_the_provider_layers(path: Path) -> None:
    assert sorted(name for name in imported(path) if name.startswith(FORBIDDEN)) == []
