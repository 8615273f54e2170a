"""
A table's facts (``describe``) against a real Datasette 1.0a41: one request, the same answer as the table
page, asked once per hook until the hook changes the table.
"""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_cloud.hooks.datasette import DatasetteHook
from airflow_provider_cloud.hooks.rowstore import DatasetInfo
from airflow_provider_cloud.testing.datasette import DatasetteServer
from tests.integration.datasette.support import record_responses, stored

pytestmark = pytest.mark.integration


def test_an_import_asks_the_facts_once_and_the_settings_once_before_its_first_write(
    make_hook: Any, module_hook: DatasetteHook, datasette_server: DatasetteServer, fresh_table_name: str
) -> None:
    table = fresh_table_name
    module_hook.create_table(table, {"id": "integer", "name": "text"}, pk="id")
    hook = make_hook(datasette_server)  # the database is set in the connection's extras
    seen = record_responses(hook)

    assert hook.get_columns(table) == ["id", "name"]
    assert hook.get_primary_keys(table) == ["id"]
    result = hook.write_rows(table, [{"id": i, "name": f"n{i}"} for i in range(1, 251)])

    assert (result.rows, result.batches) == (250, 3)
    assert seen[:3] == [
        ("GET", f"/data/{table}/-/schema.json", 200),
        ("GET", "/-/settings.json", 200),
        ("POST", f"/data/{table}/-/upsert", 200),
    ]
    assert [path for _, path, _ in seen[3:]] == [f"/data/{table}/-/upsert"] * 2


AWKWARD_TABLES = [  # a definition, and the column an index is made on
    pytest.param('("a" TEXT, "b" INTEGER, "v" TEXT, PRIMARY KEY ("b", "a"))', '"v"', id="compound-key"),
    pytest.param('([col one] REAL PRIMARY KEY, "x.y" BLOB, `z"q` TEXT)', '"x.y"', id="quoted-names"),
    pytest.param("(name TEXT, n INT, anything)", "n", id="rowid-table"),
    pytest.param(
        "(k TEXT NOT NULL PRIMARY KEY, v VARCHAR(10) DEFAULT 'x') WITHOUT ROWID", "v", id="without-rowid"
    ),
    pytest.param("(x INTEGER, y INTEGER GENERATED ALWAYS AS (x * 2) VIRTUAL)", "y", id="generated-column"),
]


@pytest.mark.parametrize("name", ["plain", "dot.ted name"])
@pytest.mark.parametrize(("definition", "indexed"), AWKWARD_TABLES)
def test_the_facts_read_from_the_ddl_match_the_table_page(
    hook: DatasetteHook, fresh_table_name: str, name: str, definition: str, indexed: str
) -> None:
    table = f"{name} {fresh_table_name}" if " " in name else f"{fresh_table_name}_{name}"
    quoted = '"' + table.replace('"', '""') + '"'
    hook.execute_write(f"create table {quoted} {definition}")
    hook.execute_write(f'create index "{table} index" on {quoted} ({indexed})')
    seen = record_responses(hook)

    info = hook.describe(table)
    asked = list(seen)

    page = hook.get_table_info(table)
    keys = [] if page["primary_keys"] == ["rowid"] else page["primary_keys"]
    expected = {n: d["type"] for n, d in page["columns"].items()}
    assert info == DatasetInfo(table, exists=True, columns=expected, keys=tuple(keys))
    assert list(info.columns) == list(expected)
    endpoint = "/data/-/query.json" if "." in table else f"/data/{table}/-/schema.json"  # see schema._ddl
    assert asked == [("GET", endpoint, 200)]


def test_a_view_is_described_from_its_page(hook: DatasetteHook, fresh_table_name: str) -> None:
    hook.create_table(fresh_table_name, {"id": "integer", "name": "text"}, pk="id")
    view = f"{fresh_table_name}_view"
    hook.execute_write(f'create view "{view}" as select name from "{fresh_table_name}"')

    seen = record_responses(hook)

    info = hook.describe(view)

    assert info == DatasetInfo(view, exists=True, columns={"name": "text"})
    assert [path for _, path, _ in seen] == [f"/data/{view}/-/schema.json", f"/data/{view}.json"]


@pytest.mark.parametrize("name", ["plain", "my.table", "with space"])
def test_a_missing_table_is_told_at_once_and_an_existing_one_written_without_create(
    hook: DatasetteHook, datasette_server: DatasetteServer, fresh_table_name: str, name: str
) -> None:
    table = f"{name}_{fresh_table_name}"
    seen = record_responses(hook)

    assert not hook.table_exists(table)
    assert [path.rsplit("/", 2)[-2:] for _, path, _ in seen] in (
        [["-", "schema.json"]],
        [["-", "query.json"]],
    )

    hook.write_rows(table, [{"k": "a", "n": 1}], key="k", create=True)
    result = hook.write_rows(table, [{"k": "a", "n": 2}, {"k": "b", "n": 3}])  # the table exists now

    assert not result.created
    assert hook.describe(table).keys == ("k",)
    assert stored(datasette_server, table, order="k") == [{"k": "a", "n": 2}, {"k": "b", "n": 3}]


def test_a_write_that_adds_columns_forgets_the_facts(hook: DatasetteHook, fresh_table_name: str) -> None:
    hook.write_rows(fresh_table_name, [{"id": 1, "name": "a"}], key="id", create=True)
    assert hook.get_columns(fresh_table_name) == ["id", "name"]
    hook.write_rows(fresh_table_name, [{"id": 2, "name": "b"}])
    assert hook.get_columns(fresh_table_name) == ["id", "name"]

    hook.write_rows(fresh_table_name, [{"id": 3, "name": "c", "score": 1.5}], alter=True)

    assert hook.get_columns(fresh_table_name) == ["id", "name", "score"]
    page = hook.get_table_info(fresh_table_name)["columns"]
    assert hook.describe(fresh_table_name).columns == {name: d["type"] for name, d in page.items()}


def test_dropping_a_table_forgets_it(hook: DatasetteHook, fresh_table_name: str) -> None:
    hook.create_table(fresh_table_name, {"id": "integer"}, pk="id")
    assert hook.table_exists(fresh_table_name)

    hook.drop_table(fresh_table_name, confirm=True)

    assert not hook.table_exists(fresh_table_name)
