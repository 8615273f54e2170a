"""
Reads by key ranges side by side (``iter_rows`` with a window over 1) return exactly the rows of the sequential
read, in its order, for many shapes of table: dense, sparse and negative keys, gaps, deleted rows, rowid tables,
filters (the re-checked ones too), projections, page sizes; and other orders, text and compound keys, views and
odd key values stay sequential.
"""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from airflow_provider_cloud.hooks.datasette import DatasetteHook
from airflow_provider_cloud.testing.datasette import DatasetteServer

pytestmark = pytest.mark.integration

WINDOWS = [2, 4, 16]


def make_table(server: DatasetteServer, name: str, ddl: str, rows: list[tuple[Any, ...]]) -> str:
    """Create a table straight in the database file (independent of the code under test)."""
    connection = sqlite3.connect(server.db_path)
    try:
        connection.execute(f'create table "{name}" {ddl}')
        if rows:
            marks = ", ".join("?" * len(rows[0]))
            connection.executemany(f'insert into "{name}" values ({marks})', rows)
        connection.commit()
    finally:
        connection.close()
    return name


def people(keys: list[int], seed: int = 1) -> list[tuple[Any, ...]]:
    rng = random.Random(seed)
    words = ["alpha", "Bravo", "charlie", "Delta", "echo_%", "fox"]
    return [
        (k, f"{rng.choice(words)} {k % 97}", rng.randint(-50, 50), rng.choice([None, 1.5, 2.25]))
        for k in keys
    ]


PEOPLE = "(id integer primary key, name text, n integer, x float)"


def shapes() -> Iterator[tuple[str, list[int]]]:
    rng = random.Random(7)
    yield "dense", list(range(1, 4_001))
    yield "negative", list(range(-2_000, 1_500))
    yield "sparse", sorted(rng.sample(range(0, 10**9), 3_000))
    yield "gaps", [*range(1, 1_200), *range(10**6, 10**6 + 900), *range(10**12, 10**12 + 1_100), 2**62]
    deleted = [k for k in range(1, 6_001) if rng.random() > 0.35]
    yield "deleted", deleted
    yield "deleted-blocks", [k for k in range(1, 8_001) if not 2_000 <= k < 5_500 and k % 7]
    yield "dense-then-sparse", [*range(1, 2_500), *range(2_500, 10**7, 4_001)]


@pytest.fixture(scope="module")
def tables(datasette_server: DatasetteServer) -> dict[str, str]:
    return {
        shape: make_table(datasette_server, f"ranges_{shape.replace('-', '_')}", PEOPLE, people(keys))
        for shape, keys in shapes()
    }


def read(hook: DatasetteHook, table: str, window: int, **kwargs: Any) -> list[dict[str, Any]]:
    return list(hook.iter_rows(table, window=window, **kwargs))


def asked(hook: DatasetteHook) -> list[dict[str, str]]:
    """Return a list that fills with the query of every table page the hook asks for."""
    queries: list[dict[str, str]] = []

    def on_response(response: Any, *args: Any, **kwargs: Any) -> None:
        parts = urlsplit(response.url)
        if parts.path.endswith(".json"):
            queries.append(dict(parse_qsl(parts.query)))

    hook.session.hooks["response"].append(on_response)
    return queries


def by_ranges(queries: list[dict[str, str]], key: str = "id") -> bool:
    return any(f"{key}__gte" in q for q in queries)


@pytest.mark.parametrize("window", WINDOWS)
@pytest.mark.parametrize("shape", [shape for shape, _ in shapes()])
@pytest.mark.parametrize("page_size", [None, 333])
def test_ranges_give_the_sequential_rows_in_order(module_hook, tables, shape, window, page_size):
    table = tables[shape]
    sequential = read(module_hook, table, 1, page_size=page_size)
    queries = asked(module_hook)

    assert read(module_hook, table, window, page_size=page_size) == sequential
    assert by_ranges(queries)
    assert len(sequential) > 1_000


WHERE = [
    {"n__gt": 10},
    {"n": 7},
    {"name__contains": "_%"},  # re-checked on each row: Datasette's LIKE takes % and _ as wildcards
    {"name__startswith": "bravo"},  # ... and ignores case
    {"id__gt": 2_500, "x__isnull": True},
    {"id__lt": 900},
    {"id__in": [5, 77, 3_999, 12]},
    {"x__isnull": False, "n__lte": 0},
]


@pytest.mark.parametrize("where", WHERE, ids=lambda w: ",".join(f"{k}={v}" for k, v in w.items()))
@pytest.mark.parametrize("shape", ["dense", "deleted", "sparse"])
def test_filters_and_projections_give_the_sequential_rows(module_hook, tables, shape, where):
    table = tables[shape]
    for columns in (None, ["name"], ["n", "id"], ["x"]):
        expected = read(module_hook, table, 1, where=where, columns=columns, page_size=200)
        assert read(module_hook, table, 4, where=where, columns=columns, page_size=200) == expected


@pytest.mark.parametrize("page_size", [1, 2, 7, 1000])
def test_every_page_size_gives_the_sequential_rows(module_hook, tables, page_size):
    table = tables["deleted-blocks"] if page_size >= 7 else tables["gaps"]
    where = None if page_size >= 7 else {"id__lt": 1_300}
    expected = read(module_hook, table, 1, where=where, page_size=page_size)
    assert read(module_hook, table, 8, where=where, page_size=page_size) == expected


def test_order_by_the_key_is_read_by_ranges(module_hook, tables):
    queries = asked(module_hook)
    got = read(module_hook, tables["deleted"], 4, order_by="id", page_size=250)
    assert got == read(module_hook, tables["deleted"], 1, order_by="id", page_size=250)
    assert by_ranges(queries)


@pytest.mark.parametrize("order_by", ["-id", "n", "-name"])
def test_other_orders_stay_sequential(module_hook, tables, order_by):
    queries = asked(module_hook)
    got = read(module_hook, tables["deleted"], 4, order_by=order_by, page_size=500)
    assert got == read(module_hook, tables["deleted"], 1, order_by=order_by, page_size=500)
    assert not by_ranges(queries)


def test_a_rowid_table_is_read_by_ranges_of_its_rowid(module_hook, datasette_server):
    table = make_table(
        datasette_server, "ranges_rowid", "(name text, n integer)", [(f"r{i}", i) for i in range(3_000)]
    )
    with sqlite3.connect(datasette_server.db_path) as connection:
        connection.execute(f'delete from "{table}" where n % 5 = 0 or n between 1000 and 1700')
    queries = asked(module_hook)

    for columns in (None, ["n"], ["rowid", "name"]):
        got = read(module_hook, table, 4, columns=columns, page_size=300)
        assert got == read(module_hook, table, 1, columns=columns, page_size=300)
    assert by_ranges(queries, "rowid")


@pytest.mark.parametrize(
    ("ddl", "rows"),
    [
        ("(code text primary key, n integer)", [(f"k{i:05}", i) for i in range(2_000)]),
        (
            "(a integer, b integer, n integer, primary key (a, b))",
            [(i // 10, i % 10, i) for i in range(2_000)],
        ),
        # not a rowid alias: text sorts after every number, so the largest key is not an integer
        ("(id int primary key, n integer)", [*((i, i) for i in range(1_500)), ("zz", -1)]),
        # ... and a NULL key sorts first
        ("(id int primary key, n integer)", [(None, 0), *((i, i) for i in range(1, 1_500))]),
    ],
    ids=["text-key", "compound-key", "text-among-int-keys", "null-key"],
)
def test_keys_that_are_not_integers_stay_sequential(module_hook, datasette_server, ddl, rows):
    table = make_table(datasette_server, f"ranges_odd_{abs(hash(ddl + str(rows[0]))) % 10**6}", ddl, rows)
    queries = asked(module_hook)
    got = read(module_hook, table, 4, page_size=400)
    assert got == read(module_hook, table, 1, page_size=400)
    assert len(got) == len(rows)
    assert not by_ranges(queries)


def test_real_keys_between_integers_are_read_by_ranges(module_hook, datasette_server):
    """A key column of INT type (not a rowid alias) may hold reals: the ranges' bounds still hold them all."""
    rows = [*((i, i) for i in range(3_000)), *((i + 0.5, -i) for i in range(600, 1_400))]
    table = make_table(datasette_server, "ranges_reals", "(id int primary key, n integer)", rows)
    got = read(module_hook, table, 4, page_size=250)
    assert got == read(module_hook, table, 1, page_size=250)
    assert len(got) == len(rows)


def test_a_view_stays_sequential(module_hook, datasette_server, tables):
    with sqlite3.connect(datasette_server.db_path) as connection:
        connection.execute(f'create view ranges_view as select id, name from "{tables["dense"]}" where n > 0')
    got = read(module_hook, "ranges_view", 4, page_size=500)
    assert got == read(module_hook, "ranges_view", 1, page_size=500)
    assert len(got) > 1_000


def test_a_single_page_costs_one_request(module_hook, tables):
    queries = asked(module_hook)
    got = read(module_hook, tables["dense"], 8, where={"id__lt": 50})
    assert len(got) == 49
    assert len(queries) == 1


def test_a_read_stopped_early_stops_its_window(module_hook, tables):
    rows = module_hook.iter_rows(tables["dense"], window=8, page_size=100)
    first = [next(rows) for _ in range(250)]
    rows.close()  # waits for the pages in flight, asks for nothing more
    assert [row["id"] for row in first] == list(range(1, 251))
