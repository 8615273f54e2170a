"""
The import-linter contracts in pyproject.toml hold for the package, and break when a layer is crossed or a cycle
appears (shown on a copy of the package with one import added).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "airflow_provider_cloud"


def lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    """Run ``lint-imports`` with the project's contracts on the package found in ``tree``."""
    env = {**os.environ, "PYTHONPATH": str(tree), "COLUMNS": "1000"}  # one line per contract
    return subprocess.run(
        [sys.executable, "-c", "from importlinter.cli import lint_imports_command; lint_imports_command()"],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def copy_of_the_package(tmp_path: Path) -> Path:
    shutil.copytree(PACKAGE, tmp_path / PACKAGE.name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def add_import(tree: Path, module: str, line: str) -> None:
    path = tree / (module.replace(".", "/") + ".py")
    path.write_text(path.read_text(encoding="utf-8") + f"\n{line}\n", encoding="utf-8")


def broken_contracts(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in result.stdout.splitlines() if line.rstrip().endswith("BROKEN")]


def test_the_package_keeps_every_contract(copy_of_the_package: Path) -> None:
    result = lint_imports(copy_of_the_package)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "BROKEN" not in result.stdout
    assert " 0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        pytest.param(
            "airflow_provider_cloud.hooks.core.policy",
            "from airflow_provider_cloud.hooks.core import hook as _cycle  # noqa",
            "No import cycles",
            id="cycle-between-sibling-modules",
        ),
        pytest.param(
            "airflow_provider_cloud.hooks.core.policy",
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from airflow_provider_cloud.hooks.core.hook import CloudApiHook",
            "No import cycles",
            id="cycle-closed-through-type-checking",
        ),
        pytest.param(
            "airflow_provider_cloud.rows.filters",
            "import airflow_provider_cloud.operators.rows  # noqa",
            "Layers: DAGs",
            id="rows-importing-operators",
        ),
        pytest.param(
            "airflow_provider_cloud.hooks.kloudless.hook",
            "import airflow_provider_cloud.fs.kloudless  # noqa",
            "Layers: DAGs",
            id="hook-importing-the-filesystem-above-it",
        ),
        pytest.param(
            "airflow_provider_cloud.fs.kloudless",
            "import airflow_provider_cloud.operators.rows  # noqa",
            "Layers: DAGs",
            id="filesystem-importing-an-operator-beside-it",
        ),
        pytest.param(
            "airflow_provider_cloud.hooks.cloudtables.hook",
            "import airflow_provider_cloud.hooks.datasette  # noqa",
            "Hooks: three services",
            id="one-service-importing-another",
        ),
        pytest.param(
            "airflow_provider_cloud.operators.rows",
            "import airflow_provider_cloud.hooks.datasette.wire  # noqa",
            "reached through its package",
            id="operator-importing-a-room-of-a-service",
        ),
        pytest.param(
            "airflow_provider_cloud.operators.rows",
            "import airflow_provider_cloud.rows._records  # noqa",
            "Private modules",
            id="private-module-from-outside",
        ),
        pytest.param(
            "airflow_provider_cloud.testing.cloudtables",
            "import airflow_provider_cloud.hooks.cloudtables  # noqa",
            "The testing kit knows the wire",
            id="emulator-importing-the-client",
        ),
        pytest.param(
            "airflow_provider_cloud.testing._proxy.server",
            "import airflow_provider_cloud.testing.kloudless  # noqa",
            "Emulators in one shape",
            id="proxy-importing-an-emulator",
        ),
    ],
)
def test_one_added_import_breaks_its_contract(
    copy_of_the_package: Path, module: str, line: str, contract: str
) -> None:
    add_import(copy_of_the_package, module, line)
    result = lint_imports(copy_of_the_package)
    assert result.returncode != 0
    broken = broken_contracts(result)
    assert any(contract in name for name in broken), result.stdout
