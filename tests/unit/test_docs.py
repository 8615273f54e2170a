"""
The docs document every public class, every operator's return value and every connection field; the README's links hold.

Decision: the checks of the built pages read the HTML that ``make docs`` wrote (``make test`` runs it just before
pytest, so CI builds the docs once). When that build is missing or older than a page, the package or the docs'
own code, the session builds its own copy into a temporary folder, with the same warnings-as-errors options.
"""

from __future__ import annotations

import importlib
import inspect
import json
import pkgutil
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

import airflow_provider_cloud
from airflow_provider_cloud.get_provider_info import get_provider_info

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
BUILT = DOCS / "_build" / "html"
README = (ROOT / "README.md").read_text(encoding="utf-8")
EXAMPLE_DAGS = ROOT / "airflow_provider_cloud" / "example_dags"
KINDS = ("hooks", "operators", "sensors", "triggers", "testing")
SUFFIXES = ("Hook", "Operator", "Sensor", "Trigger", "Emulator", "Server")
SPHINX = ["-W", "--keep-going", "-E", "-q", "-b", "html"]


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


def task_classes() -> list[type]:
    """Return the operator and sensor classes the public modules of ``operators`` and ``sensors`` define."""
    from airflow.sdk import BaseOperator

    found: dict[str, type] = {}
    for kind in ("operators", "sensors"):
        package = importlib.import_module(f"airflow_provider_cloud.{kind}")
        for module in pkgutil.iter_modules(package.__path__):
            if module.name.startswith("_"):
                continue
            loaded = importlib.import_module(f"airflow_provider_cloud.{kind}.{module.name}")
            for value in vars(loaded).values():
                if (
                    inspect.isclass(value)
                    and issubclass(value, BaseOperator)
                    and value.__module__ == loaded.__name__
                    and not value.__name__.startswith("_")
                ):
                    found[value.__name__] = value
    return [found[name] for name in sorted(found)]


def doc_pages() -> list[Path]:
    return sorted(p for p in DOCS.rglob("*.md") if "_build" not in p.parts)


def _newest_source() -> float:
    sources = [p for p in DOCS.rglob("*") if p.is_file() and not {"_build", "__pycache__"} & set(p.parts)]
    sources += list((ROOT / "airflow_provider_cloud").rglob("*.py"))
    return max(p.stat().st_mtime for p in sources)


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return the built HTML: ``make docs``' own when it is newer than every source, else a fresh build."""
    stamp = BUILT / ".buildinfo"
    if stamp.exists() and stamp.stat().st_mtime >= _newest_source():
        return BUILT
    out = tmp_path_factory.mktemp("docs-html")
    done = subprocess.run(
        [sys.executable, "-m", "sphinx", *SPHINX, str(DOCS), str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, f"the docs build failed:\n{done.stderr[-4000:]}"
    return out


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def page_text(path: Path) -> str:
    """Return a built page's text, whitespace collapsed (what a reader sees, tags left out)."""
    parser = _Text()
    parser.feed(path.read_text(encoding="utf-8"))
    return " ".join(" ".join(parser.parts).split())


def squeeze(text: str) -> str:
    return " ".join(str(text).split())


def test_there_are_classes_to_document():
    assert len(public_classes()) >= 17
    assert len(task_classes()) >= 8
    assert airflow_provider_cloud.__version__


@pytest.mark.parametrize("dotted", public_classes())
def test_the_api_reference_documents_the_class(built, dotted):
    reference = "".join(p.read_text(encoding="utf-8") for p in (built / "api").glob("*.html"))
    assert f'id="airflow_provider_cloud.{dotted}"' in reference, f"docs/api/ does not document {dotted}"


@pytest.mark.parametrize("task_class", task_classes(), ids=lambda c: c.__name__)
def test_every_operator_says_what_it_returns(task_class):
    """Each operator and sensor has a ``(returns-<name>)=`` section on a how-to page saying what goes to XCom."""
    name = task_class.__name__
    pattern = re.compile(
        rf"^\(returns-{name.lower()}\)=\n## What `{name}` returns\n\n(?P<body>.+?)(?=^#|\Z)", re.M | re.S
    )
    found = [m for page in (DOCS / "howto").glob("*.md") for m in pattern.finditer(page.read_text("utf-8"))]
    assert len(found) == 1, f"no (or more than one) 'What `{name}` returns' section in docs/howto/"
    body = found[0]["body"]
    assert len(body.split()) >= 10, f"the return value of {name} is not described: {body!r}"


LITERALINCLUDE = re.compile(r"^```\{literalinclude\} (?P<path>\S+)\n(?P<options>(?::.*\n)*)```", re.M)


def literalincludes() -> list[tuple[Path, Path, dict[str, str]]]:
    """Return ``(page, included file, options)`` for every ``literalinclude`` of the docs' pages."""
    found = []
    for page in doc_pages():
        for match in LITERALINCLUDE.finditer(page.read_text(encoding="utf-8")):
            options = dict(re.findall(r"^:([\w-]+): *(.*)$", match["options"], re.M))
            options = {k: v.strip().strip('"') for k, v in options.items()}
            found.append((page, (page.parent / match["path"]).resolve(), options))
    return found


def test_the_pages_include_example_code():
    assert len(literalincludes()) >= 12


@pytest.mark.parametrize(
    ("page", "included", "options"),
    literalincludes(),
    ids=lambda v: v.name if isinstance(v, Path) else "",
)
def test_every_included_marker_exists(page, included, options):
    where = page.relative_to(DOCS)
    assert included.is_file(), f"{where} includes {included}, which does not exist"
    text = included.read_text(encoding="utf-8")
    if included.parent == EXAMPLE_DAGS:  # example DAGs are shown between their markers, never whole
        assert {"start-after", "end-before"} <= set(options), f"{where} includes {included.name} unmarked"
    for option in ("start-after", "end-before"):
        if option in options:
            assert options[option] in text, f"{where}: {options[option]!r} is not in {included.name}"


def example_markers() -> list[tuple[str, str]]:
    found = []
    for path in sorted(EXAMPLE_DAGS.glob("*.py")):
        found += [(path.name, name) for name in re.findall(r"# \[START (\w+)\]", path.read_text("utf-8"))]
    return found


def test_the_example_dags_have_markers():
    assert len(example_markers()) >= 13


@pytest.mark.parametrize(("file_name", "marker"), example_markers())
def test_every_example_marker_is_closed_and_used(file_name, marker):
    text = (EXAMPLE_DAGS / file_name).read_text(encoding="utf-8")
    assert text.count(f"# [START {marker}]") == 1
    assert text.count(f"# [END {marker}]") == 1
    assert text.index(f"# [START {marker}]") < text.index(f"# [END {marker}]")
    used = {
        (included.name, options.get("start-after"), options.get("end-before"))
        for _, included, options in literalincludes()
    }
    assert (file_name, f"[START {marker}]", f"[END {marker}]") in used, f"no page includes {marker}"


CONNECTION_TYPES = get_provider_info()["connection-types"]


@pytest.mark.parametrize("entry", CONNECTION_TYPES, ids=lambda e: e["connection-type"])
def test_every_connection_field_is_on_its_page(built, entry):
    """The page shows every extra's key, label, description, default and placeholder, and every relabelling."""
    conn_type = entry["connection-type"]
    page = built / "connections" / f"{conn_type}.html"
    assert page.is_file(), f"connection type {conn_type} has no page docs/connections/{conn_type}.md"
    text = page_text(page)
    behaviour = entry.get("ui-field-behaviour") or {}
    expected = [conn_type, entry["hook-class-name"], *map(str, (behaviour.get("relabeling") or {}).values())]
    placeholders = (behaviour.get("placeholders") or {}).values()
    expected += [v if isinstance(v, str) else json.dumps(v) for v in placeholders]
    for key, field in (entry.get("conn-fields") or {}).items():
        expected.append(key)
        # Every value of the field and of its schema (label, description, default, enum, bounds, and keys
        # added later), except the schema's type, which is shown in words ("integer, may be empty").
        values = [v for k, v in field.items() if k != "schema"]
        values += [v for k, v in (field.get("schema") or {}).items() if k != "type"]
        for value in values:
            for item in value if isinstance(value, list) else [value]:
                expected.append(item if isinstance(item, str) else json.dumps(item))
    missing = [squeeze(e) for e in expected if squeeze(e) not in text]
    assert not missing, f"connections/{conn_type}.html does not show: {missing}"
    hidden = behaviour.get("hidden-fields") or []
    for field_name in hidden:
        assert re.search(rf"\b{field_name} hidden\b", text), (
            f"{field_name} not shown as hidden on {conn_type}"
        )


def test_every_connection_type_is_in_the_connections_toctree():
    index = (DOCS / "connections" / "index.md").read_text(encoding="utf-8")
    for entry in CONNECTION_TYPES:
        assert f"\n{entry['connection-type']}\n" in index


README_LINK = re.compile(r"\[[^\]]*\]\((?P<target>[^)\s]+)\)")


def test_the_readme_links_resolve():
    targets = [m["target"] for m in README_LINK.finditer(README)]
    local = [t.split("#", 1)[0] for t in targets if not re.match(r"[a-z]+:", t) and not t.startswith("#")]
    assert len(local) >= 5
    missing = [t for t in local if not (ROOT / t).exists()]
    assert not missing, f"README.md links to missing files: {missing}"


def test_the_readme_is_a_front_door():
    assert len(README.splitlines()) <= 100, "README.md grew past a front door: move the detail into docs/"


@pytest.mark.parametrize("command", ["make demo", "make test", "make docs"])
def test_readme_names_the_commands(command):
    assert command in README


def test_the_license_file_is_the_license_the_package_declares():
    import tomllib

    declared = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["license"]
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert declared == "Apache-2.0"
    assert "Apache License" in text
    assert "Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text


def test_the_renderer_shows_keys_it_does_not_know(monkeypatch):
    """A field key or placeholder the form gains later is rendered, not dropped (docs/_ext/provider_fields.py)."""
    monkeypatch.syspath_prepend(str(DOCS / "_ext"))
    provider_fields = importlib.import_module("provider_fields")
    entry = {
        "connection-type": "demo",
        "ui-field-behaviour": {
            "hidden-fields": ["login"],
            "relabeling": {"host": "Base URL"},
            "placeholders": {
                "host": "https://example.org",
                "ca_bundle": "/etc/ssl/ca.pem",
                "elsewhere": "x-y",
            },
        },
        "conn-fields": {
            "ca_bundle": {
                "label": "CA bundle",
                "description": "A path.",
                "sensitive_hint": "new-key",
                "schema": {"type": ["string", "null"], "format": "path", "maxLength": 255},
            },
        },
    }
    shown = " ".join(
        [str(c) for row in provider_fields.standard_rows(entry) for c in row]
        + [str(v) for row in provider_fields.extra_rows(entry) for v in row.values()]
        + [f"{k} {v}" for k, v in provider_fields.orphan_placeholders(entry).items()]
    )
    for text in ("Base URL", "https://example.org", "/etc/ssl/ca.pem", "CA bundle", "A path.", "new-key"):
        assert text in shown
    for text in ("string, may be empty", "format: path", "maxLength: 255", "elsewhere x-y"):
        assert text in shown
    assert ["login", "hidden", ""] in provider_fields.standard_rows(entry)
