"""
DatasetteHook against a real Datasette 1.0a41 (the session server of the testing kit, plus one server
with a small body limit and a large row limit).

Every test works on its own table. What lands in the database is checked through the hook and, where
it matters, by reading the database file directly (``DatasetteServer.sql``), which bypasses the API.
"""

from __future__ import annotations

import itertools
import json
import math
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest

from airflow_provider_cloud.exceptions import (
    AuthenticationError,
    BadRequestError,
    NotFoundError,
    RowDataError,
    TokenExpiredError,
)
from airflow_provider_cloud.hooks.datasette import DatasetteHook
from airflow_provider_cloud.rows.batching import RowBlocks
from airflow_provider_cloud.rows.filters import matches_all, parse_filters
from airflow_provider_cloud.testing.datasette import DatasetteServer

pytestmark = pytest.mark.integration

_conn_numbers = itertools.count(1)


# -- helpers ------------------------------------------------------------------------------------------


def new_hook(
    server: DatasetteServer,
    monkeypatch: pytest.MonkeyPatch,
    *,
    token: str | None = None,
    extra: dict[str, Any] | None = None,
) -> DatasetteHook:
    """Return a hook on a connection of its own, defined through an ``AIRFLOW_CONN_...`` variable."""
    conn_id = f"ds_hook_test_{next(_conn_numbers)}"
    connection = server.connection_dict(token=token)
    connection["extra"].update(extra or {})
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(connection))
    hook = DatasetteHook(conn_id)
    assert hook.connection.host == server.url  # resolved now; cached on the hook afterwards
    return hook


@pytest.fixture
def make_hook(monkeypatch: pytest.MonkeyPatch) -> Any:
    def make(
        server: DatasetteServer, *, token: str | None = None, extra: dict[str, Any] | None = None
    ) -> DatasetteHook:
        return new_hook(server, monkeypatch, token=token, extra=extra)

    return make


@pytest.fixture
def hook(make_hook: Any, datasette_server: DatasetteServer) -> DatasetteHook:
    return make_hook(datasette_server)


@pytest.fixture(scope="module")
def module_hook(datasette_server: DatasetteServer) -> Iterator[DatasetteHook]:
    with pytest.MonkeyPatch.context() as monkeypatch:
        yield new_hook(datasette_server, monkeypatch)


def record_responses(hook: DatasetteHook) -> list[tuple[str, str, int]]:
    """Return a list that fills with ``(method, decoded path, status)`` of every response the hook gets."""
    seen: list[tuple[str, str, int]] = []

    def on_response(response: Any, *args: Any, **kwargs: Any) -> None:
        seen.append((response.request.method, unquote(urlsplit(response.url).path), response.status_code))

    hook.session.hooks["response"].append(on_response)
    return seen


def record_bodies(hook: DatasetteHook) -> list[int]:
    """Return a list that fills with the body size of every write request the hook sends."""
    sizes: list[int] = []

    def on_response(response: Any, *args: Any, **kwargs: Any) -> None:
        if response.request.method == "POST" and response.request.body:
            sizes.append(len(response.request.body))

    hook.session.hooks["response"].append(on_response)
    return sizes


def no_sleep(hook: DatasetteHook) -> list[float]:
    """Make the hook's retry waits instant and return the list of waits it asked for."""
    waits: list[float] = []
    hook._sleep = waits.append
    return waits


def stored(server: DatasetteServer, table: str, order: str = "id") -> list[dict[str, Any]]:
    """Read a whole table from the database file, bypassing the API."""
    quoted = '"' + table.replace('"', '""') + '"'
    return server.sql(f"select * from {quoted} order by {order}")


def table_in_file(server: DatasetteServer, table: str) -> bool:
    return bool(server.sql("select 1 from sqlite_master where type = 'table' and name = ?", [table]))


# -- connection and tokens ----------------------------------------------------------------------------


def test_test_connection_names_the_actor_and_the_version(hook: DatasetteHook) -> None:
    ok, message = hook.test_connection()

    assert ok, message
    assert "actor 'root'" in message
    assert "Datasette 1.0a41" in message


def test_wrong_token_fails_at_once_with_a_clear_401(
    make_hook: Any, datasette_server: DatasetteServer
) -> None:
    good = datasette_server.token
    wrong = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")  # signature no longer matches
    hook = make_hook(datasette_server, token=wrong)
    seen, waits = record_responses(hook), no_sleep(hook)

    with pytest.raises(AuthenticationError) as caught:
        hook.list_tables()

    error = caught.value
    assert not isinstance(error, TokenExpiredError)
    assert error.status_code == 401
    assert "Invalid token signature" in str(error)
    assert wrong not in str(error)
    assert wrong not in repr(error.errors)
    assert hook.retry_policy.limit == 5  # retries were allowed, and none happened
    assert seen == [("GET", "/data.json", 401)]
    assert waits == []

    ok, message = hook.test_connection()
    assert not ok
    assert "HTTP 401" in message
    assert "Invalid token signature" in message
    assert wrong not in message


def test_expired_token_raises_token_expired(make_hook: Any, datasette_server: DatasetteServer) -> None:
    token = datasette_server.create_token(expires_after=1)
    time.sleep(2)
    hook = make_hook(datasette_server, token=token)
    seen, waits = record_responses(hook), no_sleep(hook)

    with pytest.raises(TokenExpiredError) as caught:
        hook.get_actor()

    error = caught.value
    assert error.status_code == 401
    assert "Token has expired" in str(error)
    assert token not in str(error)
    assert token not in repr(error.errors)
    assert len(seen) == 1
    assert waits == []
    ok, message = hook.test_connection()
    assert not ok
    assert "expired" in message
    assert token not in message


def test_a_token_datasette_does_not_know_is_reported(
    make_hook: Any, datasette_server: DatasetteServer
) -> None:
    hook = make_hook(datasette_server, token="not-a-datasette-token")

    ok, message = hook.test_connection()

    assert not ok
    assert "did not recognise the token" in message


# -- databases, tables, columns -----------------------------------------------------------------------


def test_list_databases_and_tables(hook: DatasetteHook, fresh_table_name: str) -> None:
    hook.create_table(fresh_table_name, {"id": "integer", "name": "text"}, pk="id")

    assert hook.list_databases() == ["data"]
    assert hook.database == "data"
    for _ in range(50):  # /data.json lists a new table after a second or two
        if fresh_table_name in hook.list_tables():
            break
        time.sleep(0.2)
    assert fresh_table_name in hook.list_tables()
    assert hook.table_exists(fresh_table_name)
    assert not hook.table_exists(f"{fresh_table_name}_missing")


def test_table_info_columns_and_primary_keys(hook: DatasetteHook, fresh_table_name: str) -> None:
    columns = {"id": "integer", "name": "text", "score": "float", "data": "blob"}
    hook.create_table(fresh_table_name, columns, pk="id")
    hook.write_rows(fresh_table_name, [{"id": i, "name": f"n{i}", "score": i / 2} for i in range(1, 4)])

    info = hook.get_table_info(fresh_table_name)

    assert list(info["columns"]) == ["id", "name", "score", "data"]
    assert info["columns"]["id"] == {"type": "integer", "notnull": False, "default": None, "is_pk": True}
    assert info["columns"]["name"]["type"] == "text"
    assert not info["columns"]["name"]["is_pk"]
    assert info["columns"]["score"]["type"] == "real"  # Datasette stores "float" as REAL
    assert info["primary_keys"] == ["id"]
    assert info["count"] is None  # counting is a full scan: only on request
    assert hook.get_table_info(fresh_table_name, count=True)["count"] == 3
    assert hook.get_columns(fresh_table_name) == ["id", "name", "score", "data"]
    assert hook.get_primary_keys(fresh_table_name) == ["id"]


def test_compound_and_rowid_tables(hook: DatasetteHook, fresh_table_name: str) -> None:
    compound, rowid = f"{fresh_table_name}_compound", f"{fresh_table_name}_rowid"
    hook.create_table(compound, {"a": "text", "b": "integer", "v": "text"}, pk=["a", "b"])
    hook.create_table(rowid, {"name": "text"})

    assert hook.get_primary_keys(compound) == ["a", "b"]
    assert hook.get_primary_keys(rowid) == []
    assert hook.get_columns(rowid) == ["name"]


def test_compound_keys_with_awkward_values(
    hook: DatasetteHook, datasette_server: DatasetteServer, fresh_table_name: str
) -> None:
    rows = [
        {"a": "x/y", "b": "1,2", "v": "one"},
        {"a": "x", "b": "y/1,2", "v": "two"},
        {"a": "dot.ted", "b": "~tilde ", "v": "three"},
    ]
    result = hook.write_rows(fresh_table_name, rows, key=["a", "b"], create=True)

    assert result.created
    assert result.rows == 3
    assert hook.get_primary_keys(fresh_table_name) == ["a", "b"]
    for row in rows:
        assert hook.get_row(fresh_table_name, (row["a"], row["b"])) == row
    assert hook.update_row(fresh_table_name, ("x", "y/1,2"), {"v": "TWO"}) == {
        "a": "x",
        "b": "y/1,2",
        "v": "TWO",
    }
    hook.delete_row(fresh_table_name, ["x/y", "1,2"])
    assert stored(datasette_server, fresh_table_name, order="v") == [
        {"a": "x", "b": "y/1,2", "v": "TWO"},
        {"a": "dot.ted", "b": "~tilde ", "v": "three"},
    ]


def test_count_rows_with_and_without_where(hook: DatasetteHook, fresh_table_name: str) -> None:
    hook.write_rows(fresh_table_name, [{"id": i, "n": i % 4} for i in range(1, 21)], key="id", create=True)

    assert hook.count_rows(fresh_table_name) == 20
    assert hook.count_rows(fresh_table_name, where={"n": 1}) == 5
    assert hook.count_rows(fresh_table_name, where={"n__gte": 2, "id__lt": 10}) == 4


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
    assert "rows 1-2" in str(caught.value)
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
    assert "rows 1-3" in str(caught.value)


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
    hook.__dict__["max_post_body_bytes"] = 10_000_000  # as if the server's settings were not readable
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
    hook.__dict__["max_insert_rows"] = 1000  # wrong on purpose: the session server allows 100
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


@pytest.fixture(scope="module")
def restricted_hook(datasette_server: DatasetteServer) -> Iterator[DatasetteHook]:
    """A hook whose token may read and change rows, but not run SQL."""
    actions = ("view-table", "insert-row", "delete-row", "update-row")
    token = datasette_server.create_token(restrictions=[(action,) for action in actions])
    with pytest.MonkeyPatch.context() as monkeypatch:
        yield new_hook(datasette_server, monkeypatch, token=token)


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
        with pytest.raises(ValueError, match="has no column") as caught:
            call()
        assert "'id'" in str(caught.value)  # the message lists the table's real columns
    assert stored(datasette_server, fresh_table_name) == rows


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


# -- reading: columns, order, pages, SQL ---------------------------------------------------------------------


@pytest.fixture
def scores_table(hook: DatasetteHook, fresh_table_name: str) -> list[dict[str, Any]]:
    rows = [{"id": i, "name": f"p{i}", "score": float((i * 11) % 25)} for i in range(1, 26)]
    hook.create_table(fresh_table_name, {"id": "integer", "name": "text", "score": "float"}, pk="id")
    hook.write_rows(fresh_table_name, rows)
    return rows


def test_iter_rows_columns(
    hook: DatasetteHook, fresh_table_name: str, scores_table: list[dict[str, Any]]
) -> None:
    got = list(hook.iter_rows(fresh_table_name, columns=["name"]))

    assert got == [{"name": row["name"]} for row in scores_table]
    both = list(hook.iter_rows(fresh_table_name, columns=["score", "id"], where={"name__startswith": "p1"}))
    assert both == [{"score": r["score"], "id": r["id"]} for r in scores_table if r["name"].startswith("p1")]


def test_iter_rows_columns_of_a_rowid_table(hook: DatasetteHook, fresh_table_name: str) -> None:
    hook.create_table(fresh_table_name, {"name": "text", "n": "integer"})
    hook.write_rows(fresh_table_name, [{"name": "a", "n": 1}, {"name": "b", "n": 2}], mode="insert")

    assert list(hook.iter_rows(fresh_table_name, columns=["rowid", "name"])) == [
        {"rowid": 1, "name": "a"},
        {"rowid": 2, "name": "b"},
    ]
    assert list(hook.iter_rows(fresh_table_name, columns=["rowid"])) == [{"rowid": 1}, {"rowid": 2}]


@pytest.mark.parametrize("order_by", ["score", "-score"])
def test_iter_rows_order_by_across_pages(
    hook: DatasetteHook, fresh_table_name: str, scores_table: list[dict[str, Any]], order_by: str
) -> None:
    descending = order_by.startswith("-")
    expected = sorted(scores_table, key=lambda r: r["score"], reverse=descending)

    got = list(hook.iter_rows(fresh_table_name, order_by=order_by, page_size=4, columns=["id", "score"]))

    assert got == [{"id": r["id"], "score": r["score"]} for r in expected]


def test_iter_rows_page_size(
    hook: DatasetteHook, fresh_table_name: str, scores_table: list[dict[str, Any]]
) -> None:
    seen = record_responses(hook)

    got = list(hook.iter_rows(fresh_table_name, page_size=4))

    assert got == scores_table
    pages = [path for method, path, _ in seen if path == f"/data/{fresh_table_name}.json"]
    assert len(pages) == math.ceil(25 / 4)


def test_query_with_params(
    hook: DatasetteHook, fresh_table_name: str, scores_table: list[dict[str, Any]]
) -> None:
    got = hook.query(
        f'select id, name from "{fresh_table_name}" where score >= :low and name != :skip order by id',
        {"low": 20, "skip": "p2"},
    )

    expected = [
        {"id": r["id"], "name": r["name"]} for r in scores_table if r["score"] >= 20 and r["name"] != "p2"
    ]
    assert got == expected
    assert got


COUNT_TO = "with recursive c(x) as (select 1 union all select x + 1 from c where x < {n}) select x from c"


def test_query_refuses_to_truncate(hook: DatasetteHook) -> None:
    assert len(hook.query(COUNT_TO.format(n=1000))) == 1000

    with pytest.raises(BadRequestError) as caught:
        hook.query(COUNT_TO.format(n=1001))

    assert "iter_query" in str(caught.value)


@pytest.mark.parametrize("ending", ["", ";", " ;\n", "\n-- every row"])
def test_iter_query_pages_through_every_row(hook: DatasetteHook, ending: str) -> None:
    sql = COUNT_TO.format(n=2500) + " order by x" + ending

    got = [row["x"] for row in hook.iter_query(sql)]

    assert got == list(range(1, 2501))
    assert len(hook.query(sql.replace("2500", "3"))) == 3  # query() takes the same SQL


def test_execute_write_update_and_delete_row(
    hook: DatasetteHook,
    datasette_server: DatasetteServer,
    fresh_table_name: str,
    scores_table: list[dict[str, Any]],
) -> None:
    table = fresh_table_name

    changed = hook.execute_write(
        f'update "{table}" set name = :name where score < :below', {"name": "low", "below": 3}
    )

    assert changed == sum(1 for r in scores_table if r["score"] < 3) == 3
    assert hook.update_row(table, 5, {"score": 99.5}) == {"id": 5, "name": "p5", "score": 99.5}
    hook.delete_row(table, 6)
    with pytest.raises(NotFoundError):
        hook.get_row(table, 6)
    assert hook.count_rows(table) == 24
    assert datasette_server.sql(f'select count(*) as n from "{table}" where name = ?', ["low"]) == [{"n": 3}]


def test_drop_table_needs_confirmation(
    hook: DatasetteHook,
    datasette_server: DatasetteServer,
    fresh_table_name: str,
    scores_table: list[dict[str, Any]],
) -> None:
    assert hook.drop_table(fresh_table_name) == 25
    assert table_in_file(datasette_server, fresh_table_name)
    assert hook.count_rows(fresh_table_name) == 25

    assert hook.drop_table(fresh_table_name, confirm=True) == 25
    assert not table_in_file(datasette_server, fresh_table_name)


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

    assert [len(b["rows"]) for b in bodies] == [100, 50, 30]
    assert [b.get("alter", False) for b in bodies] == [False, False, True]
    assert datasette_server.sql(f'select count(*) as n, sum(extra) as s from "{fresh_table_name}"') == [
        {"n": 180, "s": sum(i * 2 for i in range(151, 181))}
    ]
