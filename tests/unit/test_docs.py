"""The README documents every public hook, operator, sensor, trigger and testing class."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest

import airflow_provider_cloud

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
KINDS = ("hooks", "operators", "sensors", "triggers", "testing")
SUFFIXES = ("Hook", "Operator", "Sensor", "Trigger", "Emulator", "Server")


def public_classes() -> list[str]:
    """
    Return ``kind.module.Class`` for every public class: those a module defines, and those a package exports.

    A service package (``hooks.datasette``) is its ``__init__``: the classes in its ``__all__`` that are defined
    inside it, wherever (``hooks.datasette.DatasetteHook`` is defined in ``hooks.datasette.hook``).
    """
    found = []
    for kind in KINDS:
        package = importlib.import_module(f"airflow_provider_cloud.{kind}")
        for module in pkgutil.iter_modules(package.__path__):
            if module.name.startswith("_") or module.name == "pytest_plugin":
                continue
            loaded = importlib.import_module(f"airflow_provider_cloud.{kind}.{module.name}")
            if module.ispkg:
                names = list(getattr(loaded, "__all__", ()))
                inside = loaded.__name__ + "."
            else:
                names = list(vars(loaded))
                inside = loaded.__name__
            for name in names:
                value = getattr(loaded, name)
                if (
                    inspect.isclass(value)
                    and (value.__module__ + ".").startswith(inside)
                    and not name.startswith("_")
                    and name.endswith(SUFFIXES)
                ):
                    found.append(f"{kind}.{module.name}.{name}")
    return sorted(found)


def test_there_are_classes_to_document():
    assert len(public_classes()) >= 17
    assert airflow_provider_cloud.__version__


@pytest.mark.parametrize("dotted", public_classes())
def test_readme_lists_the_class(dotted):
    assert f"`{dotted}`" in README, f"README.md's table does not list {dotted}"


@pytest.mark.parametrize("command", ["make demo", "make test"])
def test_readme_names_the_two_commands(command):
    assert command in README


def test_the_license_file_is_the_license_the_package_declares():
    import tomllib

    root = Path(__file__).resolve().parents[2]
    declared = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]["license"]
    text = (root / "LICENSE").read_text(encoding="utf-8")
    assert declared == "Apache-2.0"
    assert "Apache License" in text
    assert "Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text
