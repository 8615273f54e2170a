"""
Datasette writes whose answer is lost are checked, then counted done or sent again (``reconcile``).

Against :class:`FakeDatasette`: the answer lost after the server acted (the check finds the write) or before
it acted (the check finds nothing, the write is sent again); requests counted, to show what a check costs.
"""

from __future__ import annotations

import pytest

from airflow_provider_cloud.exceptions import ApiConnectionError, BadRequestError, ConflictError
from airflow_provider_cloud.hooks.datasette import DatasetteHook
from tests.unit.hooks.datasette.fake_server import FakeDatasette

COLUMNS = {"id": "integer", "name": "text", "score": "float"}


@pytest.fixture
def hook(served_hook: DatasetteHook) -> DatasetteHook:
    return served_hook


def rows(first: int, last: int) -> list[dict[str, object]]:
    return [{"id": i, "name": f"n{i}", "score": i / 2} for i in range(first, last + 1)]


# -- create ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["after", "gateway"])
def test_a_create_whose_answer_was_lost_after_the_server_acted_counts_as_done(hook, server, how):
    server.lose("POST", "/-/create", how)

    answer = hook.create_table("t", COLUMNS, pk="id")

    assert server.exists("t")
    assert answer["ok"]
    assert answer["table"] == "t"
    assert answer["database"] == "data"
    assert answer["table_url"] == "https://ds.example.test/data/t"
    if how == "after":  # no answer: one check (the table's facts), nothing sent again
        assert server.requests == [("POST", "/data/-/create"), ("GET", "/data/t/-/schema.json")]
        assert (hook.counts.reconciled, hook.counts.resent) == (1, 0)
    else:  # a 502 is sent again as it stands; its "already exists" is checked and counts as done
        assert server.posts() == ["/data/-/create", "/data/-/create"]
        assert server.requests[-1] == ("GET", "/data/t/-/schema.json")


def test_a_create_lost_before_the_server_acted_is_sent_again(hook, server):
    server.lose("POST", "/-/create", "before")

    hook.create_table("t", COLUMNS, pk="id")

    assert server.exists("t")
    assert server.posts() == ["/data/-/create", "/data/-/create"]
    assert (hook.counts.reconciled, hook.counts.resent) == (0, 1)


def test_already_exists_after_a_lost_answer_counts_as_done_when_the_table_is_as_asked(hook, server):
    server.lose("POST", "/-/create", "late")  # the server creates it only after the check looked

    answer = hook.create_table("t", COLUMNS, pk="id")

    assert answer["ok"]
    assert server.exists("t")
    assert server.posts() == ["/data/-/create", "/data/-/create"]  # the second: 400 "already exists"
    assert hook.counts.resent == 1


def test_already_exists_at_the_first_attempt_is_still_an_error(hook, server):
    server.execute("create table t (id integer primary key, name text, score float)")

    with pytest.raises(BadRequestError, match="already exists"):
        hook.create_table("t", COLUMNS, pk="id")


def test_already_exists_after_a_lost_answer_with_other_columns_is_an_error(hook, server):
    server.lose("POST", "/-/create", "before")
    server.lose("POST", "/-/create", "gateway")  # not ours: someone made it with other columns meanwhile
    server.execute("create table t (id integer primary key, other text)")

    with pytest.raises(BadRequestError, match="already exists"):
        hook.create_table("t", COLUMNS, pk="id")


def test_write_rows_creating_the_table_gets_over_a_lost_create_answer(hook, server):
    server.lose("POST", "/-/create")

    result = hook.write_rows("t", rows(1, 3), key="id", create=True)

    assert (result.rows, result.created) == (3, True)
    assert server.table("t") == rows(1, 3)
    assert hook.counts.reconciled == 1


# -- insert ------------------------------------------------------------------------------------------------


def make_table(server: FakeDatasette, *, key: str = "id integer primary key", extra: str = "") -> None:
    server.execute(f"create table t ({key}, name text, score float, flag integer, note text{extra})")


def test_an_insert_whose_answer_was_lost_after_the_server_acted_is_read_back_and_counts_as_done(hook, server):
    make_table(server)
    # as stored: booleans as 0/1, an integer in a float column as a float, a number in a text column as text
    sent = [{"id": i, "name": f"n{i}", "score": i, "flag": i % 2 == 0, "note": 7} for i in range(1, 151)]
    server.lose("POST", "/t/-/insert")

    result = hook.write_rows("t", sent, mode="insert")

    assert result.rows == 150
    assert len(server.table("t")) == 150
    assert server.posts() == ["/data/t/-/insert", "/data/t/-/insert"]  # two batches, neither sent again
    checks = [path for method, path in server.requests if method == "GET" and path == "/data/t.json"]
    assert len(checks) == 1  # one page of keys read back the lost batch of 100
    assert (hook.counts.reconciled, hook.counts.resent) == (1, 0)


def test_an_insert_lost_before_the_server_acted_is_sent_again(hook, server):
    make_table(server)
    server.lose("POST", "/t/-/insert", "before")

    result = hook.write_rows("t", rows(1, 5), mode="insert")

    assert result.rows == 5
    assert server.table("t") == [{**row, "flag": None, "note": None} for row in rows(1, 5)]
    assert server.posts() == ["/data/t/-/insert", "/data/t/-/insert"]
    assert (hook.counts.reconciled, hook.counts.resent) == (0, 1)


def test_an_insert_stored_late_is_refused_when_sent_again_and_then_counts_as_done(hook, server):
    make_table(server)
    server.lose("POST", "/t/-/insert", "late")  # the check finds nothing; the server then stores the batch

    assert hook.write_rows("t", rows(1, 5), mode="insert").rows == 5

    assert len(server.table("t")) == 5  # never twice
    assert server.posts() == ["/data/t/-/insert", "/data/t/-/insert"]  # the second refused: UNIQUE


def test_a_unique_refusal_without_a_lost_answer_is_an_error(hook, server):
    make_table(server)
    server.execute("insert into t (id, name, score) values (1, 'n1', 0.5)")

    with pytest.raises(
        BadRequestError, match="UNIQUE.*in the batch of rows at lines 1-2; none of that batch was written"
    ):
        hook.write_rows("t", rows(1, 2), mode="insert")


def test_a_partial_match_is_another_writers_doing(hook, server):
    make_table(server)
    server.execute("insert into t (id, name, score) values (2, 'n2', 1.0)")
    server.lose("POST", "/t/-/insert", "before")

    with pytest.raises(
        ConflictError, match=r"rows at lines 1-3 was lost, and 1 of its 3 rows are in the table \(lines 2\)"
    ):
        hook.write_rows("t", rows(1, 3), mode="insert")

    assert server.posts() == ["/data/t/-/insert"]  # not sent again


def test_other_values_under_the_keys_are_another_writers_doing(hook, server):
    make_table(server)
    server.lose("POST", "/t/-/insert", "before")
    for row in rows(1, 3):
        server.execute("insert into t (id, name, score) values (?, ?, ?)", [row["id"], "other", row["score"]])

    with pytest.raises(
        ConflictError,
        match=r"the row of line 1 \(key \[1\]\) is in the table with 'name' = 'other', not 'n1'",
    ):
        hook.write_rows("t", rows(1, 3), mode="insert")


def test_a_compound_key_is_read_back_row_by_row(hook, server):
    make_table(server, key="id integer, part text", extra=", primary key (id, part)")
    sent = [{"id": i, "part": "a", "name": "x"} for i in range(1, 4)]
    server.lose("POST", "/t/-/insert")

    assert hook.write_rows("t", sent, mode="insert").rows == 3

    gets = [path for method, path in server.requests if method == "GET" and path.startswith("/data/t/")]
    assert gets[-3:] == ["/data/t/1,a.json", "/data/t/2,a.json", "/data/t/3,a.json"]
    assert hook.counts.reconciled == 1


def test_a_rowid_table_cannot_be_checked_and_says_why(hook, server):
    server.execute("create table t (name text)")
    server.lose("POST", "/t/-/insert")

    with pytest.raises(ApiConnectionError, match="no primary key, so its rows cannot be looked up") as caught:
        hook.write_rows("t", [{"name": "a"}, {"name": "b"}], mode="insert")

    assert "in the batch of rows at lines 1-2, which may or may not have been written" in str(caught.value)
    assert server.posts() == ["/data/t/-/insert"]


def test_a_check_that_fails_leaves_the_batch_in_doubt_and_says_so(hook, server):
    make_table(server)
    server.lose("POST", "/t/-/insert")
    server.lose("GET", "/data/t.json", "before")  # the check's read is lost too, and its retries
    for _ in range(3):
        server.lose("GET", "/data/t.json", "before")

    with pytest.raises(ApiConnectionError, match="checking failed too"):
        hook.write_rows("t", rows(1, 2), mode="insert")

    assert server.posts() == ["/data/t/-/insert"]


@pytest.mark.parametrize("mode", ["upsert", "ignore", "replace"])
def test_idempotent_modes_are_sent_again_without_a_check(hook, server, mode):
    make_table(server)
    server.lose("POST", "/-/upsert" if mode == "upsert" else "/t/-/insert")

    assert hook.write_rows("t", rows(1, 3), mode=mode).rows == 3

    assert not [path for method, path in server.requests if method == "GET" and path == "/data/t.json"]
    assert hook.counts.reconciled == 0
