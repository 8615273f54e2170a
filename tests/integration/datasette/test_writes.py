"""
DatasetteHook.write_rows against a real Datasette 1.0a41 (the session server, plus one server with a small
body limit and a large row limit): modes, batches, column sets, awkward names, limits learned.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from airflow_provider_cloud.exceptions import (
    BadRequestError,
    RowDataError,
)
from airflow_provider_cloud.hooks.datasette import DatasetteHook
from airflow_provider_cloud.rows.batching import RowBlocks
from airflow_provider_cloud.testing.datasette import DatasetteServer
from tests.integration.datasette.support import (
    record_bodies,
    record_responses,
    stored,
    table_in_file,
)

pytestmark = pytest.mark.integration


# -- bulk writes ----------------------------------------------------------------------------------------


def test_ten_thousand_rows_written_and_read_back_equal(
    hook: DatasetteHook, datasette_server: DatasetteServer, fresh_table_name: str
) -> None:
    rows = [
        {"id": i, "name": f"name {i} ✓", "score": i / 4, "note": None if i % 7 == 0 else f"n{i % 13}"}
        for i in range(1, 10_001)
    ]

    result = hook.write_rows(fresh_table_name, rows, key="id", create=True)

    assert result.created
    assert result.rows == 10_000
    assert result.batches == math.ceil(10_000 / 100)
    assert stored(datasette_server, fresh_table_name) == rows
    assert list(hook.iter_rows(fresh_table_name)) == rows

    again = hook.write_rows(fresh_table_name, rows, key="id")

    assert (again.rows, again.batches, again.created) == (10_000, 100, False)
    assert stored(datasette_server, fresh_table_name) == rows


def test_write_modes(hook: DatasetteHook, datasette_server: DatasetteServer, fresh_table_name: str) -> None:
    table = fresh_table_name
    first = [{"id": 1, "name": "Ada", "score": 1.0}, {"id": 2, "name": "Bob", "score": 2.0}]
    first.append({"id": 3, "name": "Cy", "score": 3.0})
    hook.write_rows(table, first, key="id", create=True)

    with pytest.raises(BadRequestError) as caught:
        hook.write_rows(
            table,
            [{"id": 4, "name": "Dee", "score": 4.0}, {"id": 2, "name": "B", "score": 0.0}],
            mode="insert",
        )
    assert "UNIQUE constraint failed" in str(caught.value)
    assert "rows at lines 1-2" in str(caught.value)
    assert "none of that batch was written" in str(caught.value)
    assert stored(datasette_server, table) == first  # a batch is atomic: row 4 was not written either

    ignored = hook.write_rows(
        table,
        [{"id": 2, "name": "Bobby", "score": 20.0}, {"id": 4, "name": "Dee", "score": 4.0}],
        mode="ignore",
    )
    assert ignored.rows == 2
    hook.write_rows(table, [{"id": 3, "name": "Cyd"}], mode="replace")
    hook.write_rows(table, [{"id": 1, "score": 10.0}], mode="upsert")
    hook.write_rows(table, [{"id": 5, "name": "Eve", "score": 5.0}], mode="insert")

    assert stored(datasette_server, table) == [
        {"id": 1, "name": "Ada", "score": 10.0},  # upsert: only the given column changed
        {"id": 2, "name": "Bob", "score": 2.0},  # ignore: the existing row kept
        {"id": 3, "name": "Cyd", "score": None},  # replace: the whole row replaced
        {"id": 4, "name": "Dee", "score": 4.0},  # ignore: the new row inserted
        {"id": 5, "name": "Eve", "score": 5.0},
    ]


@pytest.mark.parametrize("in_lists", [False, True], ids=["rows", "row-blocks"])
def test_a_row_without_its_key_stops_the_write_after_the_full_batches_before_it(
    hook: DatasetteHook, datasette_server: DatasetteServer, fresh_table_name: str, in_lists: bool
) -> None:
    rows: list[dict[str, Any]] = [{"id": i, "name": f"n{i}"} for i in range(1, 13)]
    rows[7] = {"id": None, "name": "n8"}
    rows[10] = {"name": "n11"}
    # keys_checked names another column: "id" is still checked
    given = RowBlocks([rows[0:2], rows[2:9], rows[9:12]], keys_checked=["name"]) if in_lists else iter(rows)

    with pytest.raises(RowDataError) as caught:
        hook.write_rows(fresh_table_name, given, key="id", create=True, batch_size=3)

    assert (caught.value.line, caught.value.column) == (8, "id")
    assert str(caught.value) == "rows, line 8, column 'id': the row has no value for its key"
    assert [r["id"] for r in stored(datasette_server, fresh_table_name)] == [1, 2, 3, 4, 5, 6]


def test_row_blocks_of_several_column_sets_are_written_as_rows_would_be(
    hook: DatasetteHook, datasette_server: DatasetteServer, fresh_table_name: str
) -> None:
    rows = [{"id": i, "name": f"n{i}"} if i % 3 else {"id": i, "score": float(i)} for i in range(1, 40)]
    rows.append({"id": 3, "name": "later"})  # a later write of a key waiting in the other column set
    blocks = [rows[i : i + 7] for i in range(0, len(rows), 7)]

    result = hook.write_rows(fresh_table_name, RowBlocks(blocks), key="id", create=True, batch_size=4)

    assert result.rows == 40
    table = {r["id"]: r for r in stored(datasette_server, fresh_table_name)}
    assert table[3] == {"id": 3, "name": "later", "score": 3.0}
    assert table[4] == {"id": 4, "name": "n4", "score": None}
    assert len(table) == 39


def test_failed_batch_names_its_rows_when_they_are_not_consecutive(
    hook: DatasetteHook, fresh_table_name: str
) -> None:
    hook.write_rows(fresh_table_name, [{"id": 1, "name": "Ada", "score": 1.0}], key="id", create=True)
    rows: list[dict[str, Any]] = [
        {"id": 10, "name": "x"},
        {"id": 11, "score": 2.0},
        {"id": 1, "name": "again"},
    ]

    with pytest.raises(BadRequestError) as caught:
        hook.write_rows(fresh_table_name, rows, mode="insert")

    # rows 1 and 3 share a column set, so they travel in one batch; row 2 goes in another
    assert "UNIQUE constraint failed" in str(caught.value)
    assert "rows at lines 1-3" in str(caught.value)


def test_rows_with_different_column_sets_keep_the_values_they_lack(
    hook: DatasetteHook, datasette_server: DatasetteServer, fresh_table_name: str
) -> None:
    table = fresh_table_name
    hook.write_rows(
        table,
        [{"id": 1, "name": "Ada", "score": 5.0}, {"id": 2, "name": "Bob", "score": 6.0}],
        key="id",
        create=True,
    )

    result = hook.write_rows(table, [{"id": 1, "score": 1.0}, {"id": 2, "name": "Bobby"}])

    assert result.rows == 2
    assert result.batches == 2
    assert stored(datasette_server, table) == [
        {"id": 1, "name": "Ada", "score": 1.0},
        {"id": 2, "name": "Bobby", "score": 6.0},
    ]


def test_interleaved_column_sets_keep_write_order(
    hook: DatasetteHook, datasette_server: DatasetteServer, fresh_table_name: str
) -> None:
    table = fresh_table_name
    base: list[dict[str, Any]] = [{"id": k, "name": f"base {k}", "score": 0.0} for k in range(50)]
    hook.write_rows(table, base, key="id", create=True)
    shapes = [("name",), ("score",), ("name", "score")]
    rows: list[dict[str, Any]] = [{"id": 1, "name": "a"}, {"id": 1, "score": 2.0}, {"id": 1, "name": "b"}]
    rows += [{"id": 2, "score": 3.0}, {"id": 2, "name": "c", "score": 4.0}, {"id": 2, "score": 5.0}]
    for i in range(600):
        values = {"name": f"w{i}", "score": float(i)}
        rows.append({"id": 3 + (i * 7) % 47, **{c: values[c] for c in shapes[i % 3]}})
    expected: dict[int, dict[str, Any]] = {row["id"]: dict(row) for row in base}
    for row in rows:
        expected[row["id"]].update(row)

    hook.write_rows(table, rows)

    assert expected[1] == {"id": 1, "name": "b", "score": 2.0}
    assert expected[2] == {"id": 2, "name": "c", "score": 5.0}
    assert stored(datasette_server, table) == [expected[k] for k in sorted(expected)]


def test_many_column_sets_keep_write_order_across_a_full_flush(
    hook: DatasetteHook, datasette_server: DatasetteServer, fresh_table_name: str
) -> None:
    # 32 column sets waiting force a flush just as row {"id": 1, ...} arrives; its later write in
    # another column set then travels in a batch that fills up (100 rows) before the first one is sent
    table = fresh_table_name
    extra = {f"x{j}": "integer" for j in range(32)}
    hook.create_table(table, {"id": "integer", "shared": "text", "tag": "text", **extra}, pk="id")
    rows: list[dict[str, Any]] = [{"id": 1000 + j, f"x{j}": j} for j in range(32)]
    rows.append({"id": 1, "shared": "first", "tag": "a"})
    rows.append({"id": 1, "shared": "second"})
    rows += [{"id": 2000 + i, "shared": "filler"} for i in range(99)]

    result = hook.write_rows(table, rows, key="id")

    assert result.rows == len(rows)
    assert datasette_server.sql(f'select shared, tag from "{table}" where id = 1') == [
        {"shared": "second", "tag": "a"}
    ]


# -- awkward names and key values ------------------------------------------------------------------------

AWKWARD_KEYS = ["a/b", "x.y", "c,d", "with space", "t~ilde", "ä/., ~mix", "plain"]


@pytest.mark.parametrize("name", ["my.table", "a/b", "with space", "comma,name", "tåble"])
def test_awkward_table_names_and_key_values(
    hook: DatasetteHook, datasette_server: DatasetteServer, fresh_table_name: str, name: str
) -> None:
    table = f"{name}_{fresh_table_name}"
    rows = [{"k": key, "n": i} for i, key in enumerate(AWKWARD_KEYS)]

    result = hook.write_rows(table, rows, key="k", create=True)

    assert result.created
    assert result.rows == len(rows)
    assert table_in_file(datasette_server, table)
    assert sorted(hook.iter_rows(table), key=lambda r: r["n"]) == rows
    for row in rows:
        assert hook.get_row(table, row["k"]) == row
    assert hook.update_row(table, "c,d", {"n": 100}) == {"k": "c,d", "n": 100}
    hook.delete_row(table, "a/b")
    assert hook.delete_rows(table, keys=["x.y", "t~ilde"]) == 2
    assert hook.delete_rows(table, where={"k": "with space"}) == 1
    assert hook.delete_rows(table, where={"k__startswith": "ä/"}) == 1
    assert stored(datasette_server, table, order="n") == [{"k": "plain", "n": 6}, {"k": "c,d", "n": 100}]
    assert hook.count_rows(table) == 2


# -- body size and batch limits -----------------------------------------------------------------------------


BODY_LIMIT = 30_000


@pytest.fixture(scope="module")
def tuned_server(datasette_server_factory: Any) -> DatasetteServer:
    """A server allowing 1000 rows per write, in request bodies of at most 30,000 bytes."""
    settings = {"max_insert_rows": 1000, "max_post_body_bytes": BODY_LIMIT}
    server: DatasetteServer = datasette_server_factory(settings=settings)
    return server


def wide_rows(count: int) -> list[dict[str, Any]]:
    return [{"id": i, "text": f"{i:04d}" + "x" * 900} for i in range(1, count + 1)]  # ~920 bytes of JSON each


def test_batches_are_planned_under_the_body_limit(
    make_hook: Any, tuned_server: DatasetteServer, fresh_table_name: str
) -> None:
    hook = make_hook(tuned_server)
    seen, sizes = record_responses(hook), record_bodies(hook)
    rows = wide_rows(300)

    result = hook.write_rows(fresh_table_name, rows, key="id", create=True)

    assert hook.max_post_body_bytes == BODY_LIMIT
    assert result.rows == 300
    assert result.batches >= math.ceil(300 * 920 / BODY_LIMIT)  # split by size: 1000 rows are allowed
    writes = [status for method, path, status in seen if path.endswith("/-/upsert")]
    assert writes == [200] * result.batches  # planned under the limit: no 413 on the way
    assert max(sizes) <= BODY_LIMIT
    assert stored(tuned_server, fresh_table_name) == rows


def test_a_413_halves_the_batch_until_it_fits(
    make_hook: Any, tuned_server: DatasetteServer, fresh_table_name: str
) -> None:
    hook = make_hook(tuned_server)
    hook.create_table(fresh_table_name, {"id": "integer", "text": "text"}, pk="id")
    hook.max_post_body_bytes = 10_000_000  # as if the server's settings were not readable
    seen = record_responses(hook)
    rows = wide_rows(250)

    result = hook.write_rows(fresh_table_name, rows)

    assert result.rows == 250
    assert any(status == 413 for _, _, status in seen)
    assert stored(tuned_server, fresh_table_name) == rows


def test_a_row_over_the_body_limit_is_a_row_error(
    make_hook: Any, tuned_server: DatasetteServer, fresh_table_name: str
) -> None:
    hook = make_hook(tuned_server)
    hook.create_table(fresh_table_name, {"id": "integer", "text": "text", "other": "text"}, pk="id")
    rows = [{"id": 1, "text": "small"}, {"id": 2, "other": "b"}, {"id": 3, "text": "x" * 40_000}]

    with pytest.raises(RowDataError) as caught:
        hook.write_rows(fresh_table_name, rows)

    assert caught.value.line == 3  # rows 1 and 3 share a batch: the position is the row's own
    assert f"over the server's body limit of {BODY_LIMIT}" in str(caught.value)


def test_batches_follow_the_servers_max_insert_rows(
    make_hook: Any, tuned_server: DatasetteServer, fresh_table_name: str
) -> None:
    hook = make_hook(tuned_server)
    seen = record_responses(hook)
    rows = [{"id": i, "v": i % 10} for i in range(1, 2501)]  # 1000 of them fit in the body limit

    result = hook.write_rows(fresh_table_name, rows, key="id", create=True)

    assert hook.max_insert_rows == 1000
    assert (result.rows, result.batches) == (2500, 3)
    writes = [status for method, path, status in seen if path.endswith("/-/upsert")]
    assert writes == [200, 200, 200]
    assert stored(tuned_server, fresh_table_name) == rows


def test_max_insert_rows_is_learned_from_the_error(
    hook: DatasetteHook, datasette_server: DatasetteServer, fresh_table_name: str
) -> None:
    hook.create_table(fresh_table_name, {"id": "integer", "v": "text"}, pk="id")
    hook.max_insert_rows = 1000  # wrong on purpose: the session server allows 100
    seen = record_responses(hook)
    rows = [{"id": i, "v": f"v{i}"} for i in range(1, 1501)]

    result = hook.write_rows(fresh_table_name, rows)

    assert hook.max_insert_rows == 100
    assert (result.rows, result.batches) == (1500, 15)
    refused = [status for method, path, status in seen if status == 400]
    # the first batch of 1000 is refused; the next may already be on its way when the limit is learned
    assert 1 <= len(refused) <= 2
    assert stored(datasette_server, fresh_table_name) == rows


def test_settings_extras_fill_in_only_what_the_server_hides(
    make_hook: Any,
    module_hook: DatasetteHook,
    restricted_hook: DatasetteHook,
    datasette_server: DatasetteServer,
    fresh_table_name: str,
) -> None:
    extra = {"max_insert_rows": 500}
    readable = make_hook(datasette_server, extra=extra)
    assert readable.max_insert_rows == 100  # the server's own setting wins

    # this token may not read /-/settings.json: the extra fills in, and the server corrects it
    hidden = make_hook(datasette_server, token=restricted_hook.connection.password, extra=extra)
    module_hook.create_table(fresh_table_name, {"id": "integer", "v": "text"}, pk="id")
    assert hidden.max_insert_rows == 500
    rows = [{"id": i, "v": f"v{i}"} for i in range(1, 701)]

    result = hidden.write_rows(fresh_table_name, rows, mode="insert")

    assert hidden.max_insert_rows == 100
    assert (result.rows, result.batches) == (700, 7)
    assert stored(datasette_server, fresh_table_name) == rows


def test_alter_is_sent_only_with_batches_that_bring_new_columns(
    hook: DatasetteHook, datasette_server: DatasetteServer, fresh_table_name: str
) -> None:
    bodies: list[dict[str, Any]] = []

    def keep(response: Any, *args: Any, **kwargs: Any) -> None:
        if response.request.url.endswith("/-/upsert"):
            bodies.append(json.loads(b"".join(response.request.body)))  # batches go as an iterable of bytes

    hook.session.hooks["response"].append(keep)
    first = [{"id": i, "name": f"n{i}"} for i in range(1, 151)]  # the table is created from these columns
    later = [{"id": i, "name": f"n{i}", "extra": i * 2} for i in range(151, 181)]  # a new column

    hook.write_rows(fresh_table_name, first + later, key="id", create=True)

    bodies.sort(key=lambda body: body["rows"][0]["id"])  # answers of a window come in any order
    assert [len(b["rows"]) for b in bodies] == [100, 50, 30]
    assert [b.get("alter", False) for b in bodies] == [False, False, True]
    assert datasette_server.sql(f'select count(*) as n, sum(extra) as s from "{fresh_table_name}"') == [
        {"n": 180, "s": sum(i * 2 for i in range(151, 181))}
    ]
