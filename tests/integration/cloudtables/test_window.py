"""
CloudTables rows with a window in flight, against the emulator through the network-conditions proxy: the
latency keeps several requests really in flight at once, and the proxy loses the answers it is told to.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from typing import Any

import pytest

from airflow_provider_cloud.hooks.cloudtables import CloudTablesHook
from airflow_provider_cloud.testing.cloudtables import CloudTablesEmulator
from airflow_provider_cloud.testing.proxy import Fault, FaultPlan, matching

pytestmark = pytest.mark.integration

COLUMNS = [("Code", "text"), ("Seats", "number")]
INSERTS = matching("POST", r"/dataset/[^/]+$")


def through_proxy(
    monkeypatch: pytest.MonkeyPatch, ct: CloudTablesEmulator, proxy_url: str, window: int, **extra: Any
) -> CloudTablesHook:
    conn_id = f"ct_window_{window}"
    connection = {
        "conn_type": "cloudtables",
        "host": proxy_url,
        "password": ct.api_key,
        "extra": {"window": window, "rate_limit": 0, "retry_backoff_max": 0.05, **extra},
    }
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(connection))
    return CloudTablesHook(conn_id)


def by_code(ct: CloudTablesEmulator, dataset: str) -> Counter[tuple[Any, Any]]:
    code, seats = ct.datapoint_id(dataset, "Code"), ct.datapoint_id(dataset, "Seats")
    return Counter((row[code], row[seats]) for row in ct.rows(dataset))


@pytest.mark.parametrize("window", [1, 2, 4, 8])
def test_a_repeated_key_keeps_its_last_value_under_every_window(
    monkeypatch, cloudtables_emulator, network_proxy, window
):
    ct = cloudtables_emulator
    dataset = ct.add_dataset("Flights", COLUMNS)
    draws = random.Random(window)
    rows = [{"Code": f"F{draws.randrange(25)}", "Seats": draws.randrange(4)} for _ in range(150)]
    proxy = network_proxy(ct.url, latency=0.004, jitter=0.004, seed=window)
    with through_proxy(monkeypatch, ct, proxy.url, window) as hook:
        result = hook.write_rows(dataset, rows, key="Code")
        assert hook.window == window
    last = {row["Code"]: row["Seats"] for row in rows}
    assert by_code(ct, dataset) == Counter(last.items())  # each key once, with its last value
    assert result.inserted == len(last)
    assert result.rows == len(rows)


def test_updates_and_deletions_in_a_window_through_the_proxy(
    monkeypatch, cloudtables_emulator, network_proxy
):
    ct = cloudtables_emulator
    dataset = ct.add_dataset("Flights", COLUMNS)
    ct.seed_rows(dataset, [{"Code": f"F{n:03d}", "Seats": n} for n in range(200)])
    proxy = network_proxy(ct.url, latency=0.004, jitter=0.004, seed=4)
    with through_proxy(monkeypatch, ct, proxy.url, 8) as hook:
        changed = [{"Code": f"F{n:03d}", "Seats": n * 2} for n in range(200)]
        result = hook.write_rows(dataset, changed, key="Code")
        assert (result.updated, result.unchanged, result.inserted) == (199, 1, 0)  # F000 stays 0
        assert hook.delete_rows(dataset, where={"Seats__gte": 200}) == 100
    assert by_code(ct, dataset) == Counter((f"F{n:03d}", n * 2) for n in range(100))
    counters = next(d for d in ct.datasets() if d["id"] == dataset)
    assert (counters["updateCount"], counters["deleteCount"]) == (199, 100)


@pytest.mark.parametrize(("mode", "key"), [("upsert", "Code"), ("insert", None)])
def test_lost_inserts_in_a_window_are_checked_and_paced(monkeypatch, network_proxy, mode, key):
    """A tight rate limit, eight rows in flight, inserts lost after or before the service saw them."""
    limit = 40
    with CloudTablesEmulator(rate_limit=limit, rate_window=1.0) as ct:
        dataset = ct.add_dataset("Flights", COLUMNS)
        rows = [{"Code": f"F{n:03d}", "Seats": n % 3} for n in range(120)]
        rows[50:60] = [{"Code": "SAME", "Seats": 1}] * 10  # equal rows: never two in flight at once
        proxy = network_proxy(ct.url, latency=0.004, faults=FaultPlan(), seed=2)
        proxy.script(*([None] * 3 + [Fault.LOST, None, Fault.RESET]) * 12, only=INSERTS)
        extra = {"rate_limit": limit, "rate_window": 1.0}
        with through_proxy(monkeypatch, ct, proxy.url, 8, **extra) as hook:
            result = hook.write_rows(
                dataset, rows if key is None else rows[:50] + rows[60:], mode=mode, key=key
            )
            reconciled, resent = hook.counts.reconciled, hook.counts.resent
        written = rows if key is None else rows[:50] + rows[60:]
        assert result.inserted == len(written)
        assert by_code(ct, dataset) == Counter((row["Code"], row["Seats"]) for row in written)
        assert (reconciled, resent) == (12, 12)
        assert 429 not in [entry.status for entry in ct.requests_seen]  # the checks took their slots too
