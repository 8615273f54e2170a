"""
``write_rows`` with several batches in flight against a real Datasette, through the network-conditions proxy
with jitter (so that batches sent side by side land out of order): the last value of a repeated key wins under
every window, a column added by one batch keeps the type of its values, and lost inserts are each stored once.
"""

from __future__ import annotations

import itertools
import json
import random
from typing import Any

import pytest

from airflow_provider_cloud.hooks.datasette import DatasetteHook
from airflow_provider_cloud.testing.datasette import DatasetteServer
from airflow_provider_cloud.testing.proxy import Fault, FaultPlan, matching
from tests.integration.datasette.support import no_sleep, stored

pytestmark = pytest.mark.integration

WINDOWS = [1, 2, 4, 8, 16]


@pytest.fixture
def slow_hook(datasette_server: DatasetteServer, network_proxy: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A hook through a proxy adding 1 to 6 ms a request at random (seeded): answers come out of order."""
    numbers = itertools.count(1)
    proxies: list[Any] = []

    def make(window: int, *, faults: FaultPlan | None = None) -> DatasetteHook:
        proxy = network_proxy(datasette_server.url, latency=0.001, jitter=0.005, faults=faults, seed=window)
        proxies.append(proxy)
        extra = {
            "database": datasette_server.database,
            "window": window,
            "retry_limit": 8,
            "retry_backoff_max": 0.2,
        }
        connection = {**datasette_server.connection_dict(), "host": proxy.url, "extra": extra}
        conn_id = f"ds_window_{next(numbers)}"
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(connection))
        return DatasetteHook(conn_id)

    make.proxies = proxies  # type: ignore[attr-defined]
    return make


@pytest.mark.parametrize("window", WINDOWS)
def test_a_key_repeated_across_batches_keeps_its_last_value(
    slow_hook, datasette_server, fresh_table_name, window
):
    rng = random.Random(window)
    rows = [{"id": rng.randrange(300), "version": n, "note": f"v{n}"} for n in range(6_000)]
    hook = slow_hook(window)

    result = hook.write_rows(fresh_table_name, rows, key="id", create=True, batch_size=50)

    last = {row["id"]: row for row in rows}
    assert result.rows == 6_000
    assert stored(datasette_server, fresh_table_name) == [last[k] for k in sorted(last)]


@pytest.mark.parametrize("mode", ["upsert", "replace"])
def test_rows_of_one_key_keep_their_order_across_column_sets(
    slow_hook, datasette_server, fresh_table_name, mode
):
    """Rows of several column sets go in several batches; a key's later row still lands later."""
    hook = slow_hook(8)
    hook.create_table(fresh_table_name, {"id": "integer", "a": "integer", "b": "integer"}, pk="id")
    rows: list[dict[str, Any]] = []
    for n in range(3_000):
        row: dict[str, Any] = {"id": n % 150, "a": n}
        if n % 3 == 0:
            row["b"] = n
        rows.append(row)

    hook.write_rows(fresh_table_name, rows, mode=mode, batch_size=40)

    expected: dict[int, dict[str, Any]] = {}
    for row in rows:
        base = {"id": row["id"], "a": None, "b": None} if mode == "replace" else expected.get(row["id"], {})
        expected[row["id"]] = {**{"id": row["id"], "a": None, "b": None}, **base, **row}
    assert stored(datasette_server, fresh_table_name) == [expected[k] for k in sorted(expected)]


def test_a_column_added_by_a_batch_gets_the_type_of_that_batchs_values(
    slow_hook, datasette_server, fresh_table_name
):
    """The batch that brings a new column adds it; a later batch with only NULLs in it must not add it first."""
    hook = slow_hook(16)  # its retries wait (up to 0.2 s): time for the batches after it to overtake it
    hook.create_table(fresh_table_name, {"id": "integer", "name": "text"}, pk="id")
    rows: list[dict[str, Any]] = [{"id": n, "name": f"n{n}"} for n in range(1, 401)]
    rows += [{"id": n, "name": f"n{n}", "city": n * 10} for n in range(401, 421)]
    rows += [{"id": n, "name": f"n{n}", "city": None} for n in range(421, 2_001)]
    # The batch bringing the column is reset on its way, twice: only the order kept makes the others wait.
    (proxy,) = slow_hook.proxies
    proxy.script(Fault.RESET, Fault.RESET, only=lambda request: b'"city":4010' in request.body)

    hook.write_rows(fresh_table_name, rows, alter=True, batch_size=20)

    columns = datasette_server.sql(f"select name, type from pragma_table_info('{fresh_table_name}')")
    assert {c["name"]: c["type"] for c in columns}["city"] == "INTEGER"
    assert stored(datasette_server, fresh_table_name) == [{"city": None, **row} for row in rows]


@pytest.mark.parametrize("lost", [Fault.LOST, Fault.RESET])
def test_inserts_whose_answers_are_lost_in_a_window_are_stored_once(
    slow_hook, datasette_server, fresh_table_name, lost
):
    hook = slow_hook(8, faults=FaultPlan(**{lost.value: 0.15}, only=matching("POST", r"/-/insert$")))
    no_sleep(hook)
    hook.create_table(fresh_table_name, {"id": "integer", "name": "text"}, pk="id")
    rows = [{"id": n, "name": f"n{n}"} for n in range(1, 5_001)]

    result = hook.write_rows(fresh_table_name, rows, mode="insert", batch_size=50)

    assert result.rows == 5_000
    assert stored(datasette_server, fresh_table_name) == rows  # none twice, none missing
    checked = hook.counts.reconciled + hook.counts.resent
    assert checked > 0
    if lost is Fault.LOST:
        assert hook.counts.reconciled > 0  # the server had stored them: read back, counted, not sent again
    else:
        assert hook.counts.reconciled == 0  # never seen by the server: sent again


def test_the_window_of_a_call_wins_over_the_hooks(slow_hook, datasette_server, fresh_table_name):
    hook = slow_hook(2)
    rows = [{"id": n, "v": n} for n in range(1, 2_001)]
    assert (
        hook.write_rows(fresh_table_name, rows, key="id", create=True, window=16, batch_size=20).rows == 2_000
    )
    adapter = hook.session.get_adapter(hook.base_url)
    assert adapter._pool_maxsize == 16  # type: ignore[attr-defined]  # a connection for each request in flight
    assert stored(datasette_server, fresh_table_name) == rows
    with pytest.raises(ValueError, match="window"):
        hook.write_rows(fresh_table_name, rows, window=0)
    assert json.dumps(list(hook.iter_rows(fresh_table_name, window=5, page_size=100))) == json.dumps(rows)
