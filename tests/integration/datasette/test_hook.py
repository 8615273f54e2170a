"""
DatasetteHook against a real Datasette 1.0a41: connection and tokens, tables and their facts, reading and SQL.

Every test works on its own table. What lands in the database is checked through the hook and, where
it matters, by reading the database file directly (``DatasetteServer.sql``), which bypasses the API.
"""

from __future__ import annotations

import math
import time
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from airflow_provider_cloud.exceptions import (
    AuthenticationError,
    BadRequestError,
    NotFoundError,
    TokenExpiredError,
)
from airflow_provider_cloud.hooks.datasette import DatasetteHook
from airflow_provider_cloud.testing.datasette import DatasetteServer
from tests.integration.datasette.support import (
    no_sleep,
    record_responses,
    stored,
    table_in_file,
)

pytestmark = pytest.mark.integration


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

    got = list(hook.iter_rows(fresh_table_name, page_size=4, window=1))  # one page after another

    assert got == scores_table
    pages = [path for method, path, _ in seen if path == f"/data/{fresh_table_name}.json"]
    assert len(pages) == math.ceil(25 / 4)


def test_iter_rows_page_size_by_key_ranges(
    hook: DatasetteHook, fresh_table_name: str, scores_table: list[dict[str, Any]]
) -> None:
    asked: list[str] = []
    hook.session.hooks["response"].append(lambda response, *args, **kwargs: asked.append(response.url))

    got = list(hook.iter_rows(fresh_table_name, page_size=4, window=4))

    assert got == scores_table
    pages = [url for url in asked if urlsplit(url).path == f"/data/{fresh_table_name}.json"]
    assert all(dict(parse_qsl(urlsplit(url).query))["_size"] in ("4", "1") for url in pages)
    assert any("id__gte=" in url for url in pages)  # read by ranges of the key


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
