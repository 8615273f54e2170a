"""
Kloudless through the proxy's faults, against the emulator: 300 events read by the sensor and by the trigger
(reads only: each event exactly once, in order), and 300 uploads through ``KloudlessUploadFileOperator``
(an upload without ``overwrite`` is not safe to repeat: a lost answer must be reconciled), each ending equal
to a fault-free run on its first try: one task a file, and one task for all 300 with the window open (up to
:data:`WINDOW` in flight), whose events the sensor then reads, each once and in order.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_cloud.hooks.kloudless import AFTER_AUTH
from airflow_provider_cloud.operators.kloudless import KloudlessUploadFileOperator
from airflow_provider_cloud.sensors.kloudless import KloudlessEventsSensor
from airflow_provider_cloud.testing.kloudless import KloudlessEmulator
from airflow_provider_cloud.testing.proxy import Fault, FaultPlan, NetworkConditionsProxy, matching
from airflow_provider_cloud.triggers.kloudless import KloudlessEventsTrigger
from tests.faults.support import (
    UNSEEN,
    VARIANTS,
    core_extras,
    run_case,
    set_connection,
    suite_plan,
)

pytestmark = [pytest.mark.faults, pytest.mark.integration]

EVENTS = 300
FILES = 300
PAGE_SIZE = 10  # events a request: 30 requests a pass, so that faults hit the reads
MAX_EVENTS = 100  # events a sensor poke or trigger run hands on
CONN_ID = "kloudless_faults"
WINDOW = 8  # uploads in flight at once in the window cases


@pytest.fixture(scope="module")
def emulator() -> Iterator[KloudlessEmulator]:
    with KloudlessEmulator() as kl:
        yield kl


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("uploads")
    paths = []
    for n in range(FILES):
        path = folder / f"report-{n:03d}.csv"
        path.write_bytes(b"id,value\n" + b"".join(b"%d,%d\n" % (n, i) for i in range(1 + n % 50)))
        paths.append(path)
    return paths


def connect(
    monkeypatch: pytest.MonkeyPatch,
    kl: KloudlessEmulator,
    proxy: NetworkConditionsProxy,
    account_id: int,
    lost: Fault | None = None,
    window: int = 1,
) -> str:
    connection = {
        "conn_type": "kloudless",
        "host": proxy.url,
        "password": kl.create_token(account_id),
        "extra": {"auth_scheme": "Bearer", "account_id": "me", "window": window, **core_extras(lost)},
    }
    return set_connection(monkeypatch, CONN_ID, connection)


def account_with_events(kl: KloudlessEmulator, name: str) -> int:
    """A fresh account with :data:`EVENTS` events made by the emulator itself (not through the proxy)."""
    account_id = kl.create_account(account=f"{name}@example.com")
    for n in range(EVENTS):
        kl.add_file(account_id, f"event-{n:03d}.txt", b"%d" % n)
    return account_id


def read_by_sensor() -> list[dict[str, Any]]:
    """Poke from the oldest event, then from each returned cursor, until a poke finds nothing."""
    events: list[dict[str, Any]] = []
    cursor: Any = None
    for _ in range(EVENTS // MAX_EVENTS + 2):
        sensor = KloudlessEventsSensor(
            task_id="wait",
            conn_id=CONN_ID,
            cursor=cursor,
            start_from="oldest",
            max_events=MAX_EVENTS,
            page_size=PAGE_SIZE,
            deferrable=False,
        )
        try:
            result = sensor.poke({})
        finally:
            sensor.hook.close()
        if not result.is_done:
            return events
        events.extend(result.xcom_value["events"])
        cursor = result.xcom_value["cursor"]
    raise AssertionError("the sensor kept finding events")


def read_by_trigger() -> list[dict[str, Any]]:
    """Run the trigger from ``after-auth``, then from each cursor it hands back, as deferrals would."""
    events: list[dict[str, Any]] = []
    cursor: Any = AFTER_AUTH
    while len(events) < EVENTS:
        trigger = KloudlessEventsTrigger(
            conn_id=CONN_ID,
            cursor=cursor,
            max_events=MAX_EVENTS,
            page_size=PAGE_SIZE,
            poll_interval=0.01,
            end_time=time.time() + 30,
        )
        event = asyncio.run(asyncio.wait_for(trigger.run().__anext__(), 60))
        assert event.payload["status"] == "success", event.payload
        events.extend(event.payload["events"])
        cursor = event.payload["cursor"]
    return events


def event_ids(events: list[dict[str, Any]]) -> list[int]:
    return [event["event_id"] for event in events]


@pytest.fixture(scope="module")
def events_baseline(emulator: KloudlessEmulator) -> None:
    """A fault-free pass of each path, timed; both read every event once, in order."""
    account_id = account_with_events(emulator, "baseline")
    expected = event_ids(emulator.events(account_id))
    assert len(expected) == EVENTS
    with pytest.MonkeyPatch.context() as monkeypatch, NetworkConditionsProxy(emulator.url) as proxy:
        connect(monkeypatch, emulator, proxy, account_id)
        for case, read in (("kloudless sensor", read_by_sensor), ("kloudless trigger", read_by_trigger)):
            assert event_ids(run_case(case, "baseline", proxy, read).result) == expected


@pytest.mark.parametrize(("lost", "seed"), VARIANTS)
@pytest.mark.parametrize("path", ["sensor", "trigger"])
def test_events_are_read_once_each_in_order(
    emulator, events_baseline, network_proxy, monkeypatch, path: str, lost: Fault, seed: int
) -> None:
    account_id = account_with_events(emulator, f"{path}-{lost.value}-{seed}")
    expected = event_ids(emulator.events(account_id))
    proxy = network_proxy(emulator.url, faults=suite_plan(lost), seed=seed)
    connect(monkeypatch, emulator, proxy, account_id, lost)
    read = read_by_sensor if path == "sensor" else read_by_trigger
    run = run_case(f"kloudless {path}", f"{lost.value}-seed{seed}", proxy, read)
    assert event_ids(run.result) == expected
    assert run.proxy.total_faulted > 0


def upload_all(paths: list[Path]) -> list[dict[str, Any]]:
    """Upload each file with its own task, first try only; raise at the end naming the tasks that failed."""
    results, failed = [], []
    for path in paths:
        operator = KloudlessUploadFileOperator(
            task_id=f"upload_{path.stem}", conn_id=CONN_ID, source=str(path)
        )
        try:
            results.append(operator.execute(context={}))
        except Exception as exc:
            failed.append(f"{path.name}: {type(exc).__name__}: {exc}")
    if failed:
        raise AssertionError(
            f"{len(failed)} of {len(paths)} upload tasks failed their first try; first: {failed[0]}"
        )
    return results


def uploaded(
    kl: KloudlessEmulator, account_id: int, results: list[dict[str, Any]]
) -> list[tuple[str, bytes]]:
    """What the account holds for each upload, and the events it made: one ``add`` per file, in order."""
    events = kl.events(account_id)
    assert [(e["type"], e["metadata"]["name"]) for e in events] == [("add", r["name"]) for r in results]
    return [(r["name"], kl.file_content(account_id, r["file_id"])) for r in results]


@pytest.fixture(scope="module")
def uploads_baseline(emulator: KloudlessEmulator, files: list[Path]) -> list[tuple[str, bytes]]:
    account_id = emulator.create_account(account="uploads-baseline@example.com")
    with pytest.MonkeyPatch.context() as monkeypatch, NetworkConditionsProxy(emulator.url) as proxy:
        connect(monkeypatch, emulator, proxy, account_id)
        run = run_case("kloudless uploads", "baseline", proxy, lambda: upload_all(files))
    stored = uploaded(emulator, account_id, run.result)
    assert stored == [(path.name, path.read_bytes()) for path in files]
    return stored


@pytest.mark.parametrize(("lost", "seed"), VARIANTS)
def test_uploads_end_equal_on_their_first_try(
    emulator, files, uploads_baseline, network_proxy, monkeypatch, lost: Fault, seed: int
) -> None:
    account_id = emulator.create_account(account=f"uploads-{lost.value}-{seed}@example.com")
    proxy = network_proxy(emulator.url, faults=suite_plan(lost), seed=seed)
    connect(monkeypatch, emulator, proxy, account_id, lost)
    run = run_case("kloudless uploads", f"{lost.value}-seed{seed}", proxy, lambda: upload_all(files))
    assert uploaded(emulator, account_id, run.result) == uploads_baseline


@pytest.mark.parametrize("fault", UNSEEN)
def test_an_upload_whose_answer_never_comes_is_stored_once(
    emulator, files, uploads_baseline, network_proxy, monkeypatch, fault: Fault
) -> None:
    """The tenth upload, hit on purpose: stored and unheard (lost, stalled), or never sent (reset)."""
    account_id = emulator.create_account(account=f"uploads-{fault.value}@example.com")
    proxy = network_proxy(emulator.url, faults=FaultPlan())
    proxy.script(*[None] * 9, fault, only=matching("POST", r"/storage/files$"))
    connect(monkeypatch, emulator, proxy, account_id, fault)
    run = run_case("kloudless uploads", f"upload-{fault.value}", proxy, lambda: upload_all(files))
    assert uploaded(emulator, account_id, run.result) == uploads_baseline
    assert proxy.pending_script == 0


def upload_in_a_window(paths: list[Path]) -> list[dict[str, Any]]:
    """One task uploads every file, up to :data:`WINDOW` at once, first try only."""
    operator = KloudlessUploadFileOperator(
        task_id="upload_all", conn_id=CONN_ID, source=[str(p) for p in paths]
    )
    results = operator.execute(context={})
    assert isinstance(results, list)
    return results


def stored_in_a_window(
    kl: KloudlessEmulator, account_id: int, paths: list[Path], results: list[dict[str, Any]]
) -> dict[str, bytes]:
    """The results in the sources' order and what the account holds for each, by name."""
    assert [r["name"] for r in results] == [p.name for p in paths]
    return {r["name"]: kl.file_content(account_id, r["file_id"]) for r in results}


def read_once_each_in_order(kl: KloudlessEmulator, account_id: int, results: list[dict[str, Any]]) -> None:
    """The sensor reads exactly one ``add`` per upload, in the order stored, the cursor neither skipping nor repeating."""
    read = read_by_sensor()
    stored = kl.events(account_id)
    assert event_ids(read) == event_ids(stored)  # every event once, in the account's order
    assert event_ids(read) == sorted(set(event_ids(read)))
    assert len(read) == len(results)
    assert sorted((e["type"], e["metadata"]["id"]) for e in read) == sorted(
        ("add", r["file_id"]) for r in results
    )


@pytest.fixture(scope="module")
def window_uploads_baseline(emulator: KloudlessEmulator, files: list[Path]) -> dict[str, bytes]:
    account_id = emulator.create_account(account="window-baseline@example.com")
    with pytest.MonkeyPatch.context() as monkeypatch, NetworkConditionsProxy(emulator.url) as proxy:
        connect(monkeypatch, emulator, proxy, account_id, window=WINDOW)
        run = run_case("kloudless window", "baseline", proxy, lambda: upload_in_a_window(files))
        read_once_each_in_order(emulator, account_id, run.result)
    stored = stored_in_a_window(emulator, account_id, files, run.result)
    assert stored == {path.name: path.read_bytes() for path in files}
    return stored


@pytest.mark.parametrize(("lost", "seed"), VARIANTS)
def test_uploads_in_a_window_end_equal_and_the_sensor_reads_each_event_once_in_order(
    emulator, files, window_uploads_baseline, network_proxy, monkeypatch, lost: Fault, seed: int
) -> None:
    account_id = emulator.create_account(account=f"window-{lost.value}-{seed}@example.com")
    proxy = network_proxy(emulator.url, faults=suite_plan(lost), seed=seed)
    connect(monkeypatch, emulator, proxy, account_id, lost, window=WINDOW)
    run = run_case("kloudless window", f"{lost.value}-seed{seed}", proxy, lambda: upload_in_a_window(files))
    assert stored_in_a_window(emulator, account_id, files, run.result) == window_uploads_baseline
    assert run.proxy.total_faulted > 0
    read_once_each_in_order(emulator, account_id, run.result)  # through the same faults
