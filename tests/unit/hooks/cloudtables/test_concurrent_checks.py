"""The key map and the lost-insert checks when several rows of a write are in flight at once."""

from __future__ import annotations

import threading
from typing import Any

from airflow_provider_cloud.hooks.cloudtables.keymap import KeyMap
from airflow_provider_cloud.hooks.cloudtables.reconcile import LostInserts
from airflow_provider_cloud.hooks.cloudtables.schema import DatasetSchema
from airflow_provider_cloud.hooks.cloudtables.writes import PreparedRow, WritePlan
from tests.unit.hooks.cloudtables.fake_service import DATASET_ID, SCHEMA


def row(line: int, code: str, count: int | None = None, *, key: bool = False) -> PreparedRow:
    fields: dict[str, Any] = {"dp-1": code} if count is None else {"dp-1": code, "dp-2": count}
    return PreparedRow(line, fields, (code,) if key else None)


def stored(row_id: int, code: str, count: int | None) -> dict[str, Any]:
    return {"id": row_id, "dv": 1, "color": None, "dp-1": code, "dp-2": count}


def plan(key: str | None = None) -> WritePlan:
    return WritePlan(DatasetSchema(DATASET_ID, SCHEMA), "upsert" if key else "insert", key)


def test_a_read_renews_only_the_keys_this_write_has_not_sent_to():
    keys = KeyMap({("A",): stored(1, "A", 1), ("B",): stored(2, "B", 2), ("C",): stored(3, "C", 3)})
    keys.take(("A",))
    keys.put(("A",), stored(1, "A", 10))  # this write updated A
    keys.take(("D",))  # ... and sends D, not yet answered
    fresh = {("A",): stored(1, "A", 1), ("B",): stored(2, "B", 20), ("E",): stored(5, "E", 5)}  # read before
    keys.renew(fresh)
    assert keys.get(("A",)) == stored(1, "A", 10)  # not put back to the older row
    assert keys.get(("B",)) == stored(2, "B", 20)  # another writer changed B: taken
    assert keys.get(("C",)) is None  # another writer deleted C: gone
    assert keys.get(("D",)) is None  # D's insert is in flight: its answer decides
    assert keys.get(("E",)) == stored(5, "E", 5)  # another writer added E
    keys.put(("D",), stored(6, "D", 6))
    keys.renew({})
    assert (keys.get(("A",)), keys.get(("D",)), len(keys)) == (stored(1, "A", 10), stored(6, "D", 6), 2)


def test_concurrent_checks_never_take_one_stored_row_for_two_inserts():
    # three equal inserts lost at once, two of them stored: two checks find a row each, the third none
    rows_there = [stored(1, "A", 1), stored(2, "A", 1)]
    gate = threading.Barrier(3)

    def read() -> list[dict[str, Any]]:
        gate.wait(timeout=10)  # every check has its read in hand before any decides
        return [dict(r) for r in rows_there]

    inserts = LostInserts(plan(), KeyMap(), read=read, send=lambda fields, check: {})
    found: list[Any] = []

    def check(line: int) -> None:
        found.append(inserts.check(row(line, "A", 1), newest=0))

    threads = [threading.Thread(target=check, args=(line,)) for line in (1, 2, 3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    taken = sorted(answer["data"]["id"] for answer in found if answer is not None)
    assert taken == [1, 2]
    assert found.count(None) == 1  # not stored: sent again


def test_an_answered_insert_claims_its_row_before_any_later_check():
    rows_there: list[dict[str, Any]] = []

    def send(fields: dict[str, Any], check: Any) -> dict[str, Any]:
        answer = stored(len(rows_there) + 1, fields["dp-1"], fields.get("dp-2"))
        rows_there.append(answer)
        return answer

    inserts = LostInserts(plan(), KeyMap(), read=lambda: list(rows_there), send=send)
    inserts.read_before()
    assert inserts.insert(row(1, "A", 1))["id"] == 1
    assert inserts.check(row(2, "A", 1), newest=0) is None  # row 1 is the first insert's: not this one's


def test_inserts_are_confusable_when_no_column_both_send_differs():
    inserts = LostInserts(plan(), KeyMap(), read=list, send=lambda fields, check: {})
    assert inserts.confusable(row(1, "A", 1), row(2, "A", 1))
    assert inserts.confusable(row(1, "A", 1), row(2, "A"))  # A's check could take the other's row
    assert inserts.confusable(row(1, "5", 1), row(2, "5", "1.0"))  # type: ignore[arg-type]
    assert not inserts.confusable(row(1, "A", 1), row(2, "B", 1))
    assert not inserts.confusable(row(1, "A", 1), row(2, "A", 2))
