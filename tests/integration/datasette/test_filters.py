"""DatasetteHook filters against a real Datasette 1.0a41: reading, counting and deleting by ``where``."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_cloud.hooks.datasette import DatasetteHook
from airflow_provider_cloud.rows.filters import matches_all, parse_filters
from airflow_provider_cloud.testing.datasette import DatasetteServer
from tests.integration.datasette.support import (
    record_responses,
    stored,
)

pytestmark = pytest.mark.integration


# -- filters ------------------------------------------------------------------------------------------------

FILTER_ROWS: list[dict[str, Any]] = [
    {"id": 1, "n": 1, "score": 0.5, "name": "Ada", "active": True},
    {"id": 2, "n": 2, "score": 1.5, "name": "ada lovelace", "active": False},
    {"id": 3, "n": 3, "score": 2.5, "name": "Grace_Hopper", "active": True},
    {"id": 4, "n": None, "score": 3.5, "name": "grace hopper", "active": None},
    {"id": 5, "n": 5, "score": None, "name": None, "active": False},
    {"id": 6, "n": 10, "score": 10.0, "name": "100% Ada", "active": True},
    {"id": 7, "n": -1, "score": -2.0, "name": "Edsger", "active": None},
    {"id": 8, "n": 20, "score": 20.25, "name": "Åsa åsa", "active": True},
]
FILTER_COLUMNS = {"id": "integer", "n": "integer", "score": "float", "name": "text", "active": "integer"}

FILTER_CASES: list[dict[str, Any]] = [
    {"n": 2},
    {"n__exact": 3},
    {"name": "Ada"},
    {"n__not": 2},
    {"name__not": "Ada"},
    {"n__lt": 3},
    {"n__lte": 3},
    {"n__gt": 3},
    {"n__gte": 3},
    {"score__gt": 1.5},
    {"score__lte": "2.5"},
    {"n__in": [1, 3, 10]},
    {"n__in": "1, 3,10"},
    {"name__in": ["Ada", "Edsger", "nobody"]},
    {"n__notin": [1, 2]},
    {"n__notin": "1,2"},
    {"n__isnull": True},
    {"n__isnull": False},
    {"name__isnull": "true"},
    {"score__isnull": "false"},
    {"n": None},
    {"name": None},
    {"n__not": None},
    {"active": True},
    {"active": False},
    {"active__not": True},
    {"active__in": [True]},
    {"name__contains": "Ada"},
    {"name__contains": "_"},
    {"name__contains": "%"},
    {"name__contains": "åsa"},
    {"name__startswith": "grace"},
    {"name__startswith": "Gr"},
    {"n__gte": 2, "score__lt": 10},
    {"name__startswith": "a", "active": False},
]


def case_id(where: dict[str, Any]) -> str:
    return ",".join(f"{k}={v!r}" for k, v in where.items())


def expected_ids(rows: list[dict[str, Any]], where: dict[str, Any]) -> set[int]:
    filters = parse_filters(where)
    return {row["id"] for row in rows if matches_all(row, filters)}


def make_filter_table(hook: DatasetteHook, server: DatasetteServer, table: str) -> list[dict[str, Any]]:
    hook.create_table(table, FILTER_COLUMNS, pk="id")
    hook.write_rows(table, FILTER_ROWS)
    return stored(server, table)  # the values as stored (booleans become 0/1)


@pytest.fixture(scope="module")
def filter_table(
    module_hook: DatasetteHook, datasette_server: DatasetteServer
) -> tuple[str, list[dict[str, Any]]]:
    table = "t_filters_shared_by_the_filter_tests"
    return table, make_filter_table(module_hook, datasette_server, table)


@pytest.mark.parametrize("where", FILTER_CASES, ids=case_id)
def test_iter_rows_filter(module_hook: DatasetteHook, filter_table: Any, where: dict[str, Any]) -> None:
    table, rows = filter_table
    expected = expected_ids(rows, where)
    assert 0 < len(expected) < len(rows)  # every case selects some rows, not all

    got = [row["id"] for row in module_hook.iter_rows(table, where=where)]

    assert sorted(got) == sorted(expected)


@pytest.mark.parametrize("where", FILTER_CASES, ids=case_id)
def test_count_rows_filter(module_hook: DatasetteHook, filter_table: Any, where: dict[str, Any]) -> None:
    table, rows = filter_table

    assert module_hook.count_rows(table, where=where) == len(expected_ids(rows, where))


@pytest.mark.parametrize("where", [{"nope__gt": 2}, {"nope": 1}, {"id__gt": 1, "Score": 2}], ids=str)
def test_a_filter_on_an_unknown_column_selects_nothing_and_deletes_nothing(
    hook: DatasetteHook, datasette_server: DatasetteServer, fresh_table_name: str, where: dict[str, Any]
) -> None:
    # Datasette ignores ?nope__gt=2 (every row would match) and SQLite reads "nope" as a string:
    # the hook refuses such filters before anything is read or deleted.
    rows = make_filter_table(hook, datasette_server, fresh_table_name)
    for call in (
        lambda: list(hook.iter_rows(fresh_table_name, where=where)),
        lambda: hook.count_rows(fresh_table_name, where=where),
        lambda: hook.delete_rows(fresh_table_name, where=where, dry_run=True),
        lambda: hook.delete_rows(fresh_table_name, where=where),
    ):
        with pytest.raises(ValueError, match=r"where= filter .*: no column") as caught:
            call()
        assert "'id'" in str(caught.value)  # the message lists the table's real columns
    assert stored(datasette_server, fresh_table_name) == rows


@pytest.mark.parametrize(
    ("arguments", "named"),
    [
        ({"columns": ["id", "nmae"]}, "nmae"),
        ({"order_by": "scroe"}, "scroe"),
        ({"order_by": "-scroe"}, "scroe"),
        ({"columns": ["id"], "order_by": "n", "where": {"id__gt": 1}}, None),
        ({"columns": ["rowid", "id"]}, None),  # every SQLite table answers to rowid
    ],
    ids=["column", "sort", "sort-descending", "all-known", "rowid"],
)
def test_iter_rows_refuses_an_unknown_column_or_sort_before_reading(
    hook: DatasetteHook, filter_table: Any, arguments: dict[str, Any], named: str | None
) -> None:
    # Datasette would answer an unknown _col or _sort with a 400 only after the pages began (or not at all for
    # _col): the hook names the column and the table's columns before it reads anything.
    table, _ = filter_table
    seen = record_responses(hook)
    rows = hook.iter_rows(table, **arguments)
    if named is None:
        assert len(list(rows)) == (len(FILTER_ROWS) - 1 if "where" in arguments else len(FILTER_ROWS))
        return
    with pytest.raises(ValueError, match=f"data set '{table}' has no column '{named}'") as caught:
        next(rows)
    assert "'score'" in str(caught.value)  # the message lists the table's real columns
    assert [path for _, path, _ in seen if path.endswith(f"/{table}.json")] == []  # no page was read


@pytest.mark.parametrize("where", FILTER_CASES, ids=case_id)
def test_delete_rows_filter_in_one_sql_write(
    hook: DatasetteHook, datasette_server: DatasetteServer, fresh_table_name: str, where: dict[str, Any]
) -> None:
    rows = make_filter_table(hook, datasette_server, fresh_table_name)
    expected = expected_ids(rows, where)
    seen = record_responses(hook)

    would = hook.delete_rows(fresh_table_name, where=where, dry_run=True)
    assert stored(datasette_server, fresh_table_name) == rows
    deleted = hook.delete_rows(fresh_table_name, where=where)

    assert would == deleted == len(expected)
    assert ("POST", "/data/-/execute-write", 200) in seen
    remaining = {row["id"] for row in stored(datasette_server, fresh_table_name)}
    assert remaining == {row["id"] for row in rows} - expected


@pytest.mark.parametrize("where", FILTER_CASES, ids=case_id)
def test_delete_rows_filter_row_by_row_without_sql(
    module_hook: DatasetteHook,
    restricted_hook: DatasetteHook,
    datasette_server: DatasetteServer,
    fresh_table_name: str,
    where: dict[str, Any],
) -> None:
    rows = make_filter_table(module_hook, datasette_server, fresh_table_name)
    expected = expected_ids(rows, where)
    hook = restricted_hook
    hook.session.hooks["response"].clear()
    seen = record_responses(hook)

    would = hook.delete_rows(fresh_table_name, where=where, dry_run=True)
    deleted = hook.delete_rows(fresh_table_name, where=where)

    assert would == deleted == len(expected)
    assert ("POST", "/data/-/execute-write", 403) in seen
    assert sum(1 for method, path, _ in seen if path.endswith("/-/delete")) == len(expected)
    remaining = {row["id"] for row in stored(datasette_server, fresh_table_name)}
    assert remaining == {row["id"] for row in rows} - expected


def test_delete_rows_in_a_rowid_table_without_sql(
    module_hook: DatasetteHook,
    restricted_hook: DatasetteHook,
    datasette_server: DatasetteServer,
    fresh_table_name: str,
) -> None:
    module_hook.create_table(fresh_table_name, {"name": "text"})
    module_hook.write_rows(fresh_table_name, [{"name": n} for n in ("a", "b", "a", "c")], mode="insert")

    assert restricted_hook.delete_rows(fresh_table_name, where={"name": "a"}) == 2
    assert datasette_server.sql(f'select rowid, name from "{fresh_table_name}"') == [
        {"rowid": 2, "name": "b"},
        {"rowid": 4, "name": "c"},
    ]
