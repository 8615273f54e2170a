"""KloudlessEventsSensor against the in-thread emulator: poke, filters, bounds, Variables, deferral."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest
from airflow.sdk import PokeReturnValue
from airflow.sdk.exceptions import AirflowException, AirflowSensorTimeout, TaskDeferred
from airflow.sdk.module_loading import import_string

from airflow_provider_cloud.exceptions import CursorExpiredError, RateLimitError
from airflow_provider_cloud.sensors.kloudless import KloudlessEventsSensor
from airflow_provider_cloud.testing.kloudless import KloudlessEmulator
from airflow_provider_cloud.triggers.kloudless import KloudlessEventsTrigger

pytestmark = pytest.mark.integration


def make_sensor(conn_id: str, **kwargs) -> KloudlessEventsSensor:
    kwargs.setdefault("poke_interval", 0.01)
    kwargs.setdefault("timeout", 30)
    return KloudlessEventsSensor(task_id="wait_for_events", conn_id=conn_id, **kwargs)


def ids(events) -> list[str]:
    return [e["id"] for e in events]


def cursors_requested(emulator: KloudlessEmulator) -> list[str]:
    return [
        r["query"].get("cursor", [None])[0] for r in emulator.requests_seen if r["path"].endswith("/events")
    ]


def test_poke_without_stored_cursor_starts_at_latest(
    kloudless_emulator, kloudless_account_id, kloudless_conn_id
):
    kloudless_emulator.produce_event(kloudless_account_id, "add")  # before the sensor: not returned
    sensor = make_sensor(kloudless_conn_id)

    first = sensor.poke({})
    assert isinstance(first, PokeReturnValue)
    assert not first.is_done

    new = [kloudless_emulator.produce_event(kloudless_account_id, t) for t in ("add", "delete")]
    second = sensor.poke({})
    assert second.is_done
    assert second.xcom_value == {
        "cursor": 3,
        "previous_cursor": 1,
        "count": 2,
        "events": second.xcom_value["events"],
    }
    assert ids(second.xcom_value["events"]) == ids(new)


def test_start_from_oldest_returns_retained_events(
    kloudless_emulator, kloudless_account_id, kloudless_conn_id
):
    old = [kloudless_emulator.produce_event(kloudless_account_id, "add") for _ in range(3)]
    result = make_sensor(kloudless_conn_id, start_from="oldest").poke({})
    assert result.is_done
    assert ids(result.xcom_value["events"]) == ids(old)
    assert result.xcom_value["previous_cursor"] == "after-auth"
    assert result.xcom_value["cursor"] == 3


def test_event_types_filter_moves_the_cursor_past_skipped_events(
    kloudless_emulator, kloudless_account_id, kloudless_conn_id
):
    sensor = make_sensor(kloudless_conn_id, cursor=0, event_types=["add"])
    kloudless_emulator.produce_event(kloudless_account_id, "update")
    assert not sensor.poke({}).is_done  # only skipped events so far

    wanted = kloudless_emulator.produce_event(kloudless_account_id, "add")
    kloudless_emulator.produce_event(kloudless_account_id, "delete")
    result = sensor.poke({})

    assert result.is_done
    assert ids(result.xcom_value["events"]) == [wanted["id"]]
    assert result.xcom_value["previous_cursor"] == 0
    assert result.xcom_value["cursor"] == 3  # past the skipped "delete" as well
    # The second poke read on from where the first stopped, not from the stored cursor again.
    assert cursors_requested(kloudless_emulator) == ["0", "1"]


def test_max_events_bounds_the_batch_and_the_cursor_is_exact(
    kloudless_emulator, kloudless_account_id, kloudless_conn_id
):
    produced = [kloudless_emulator.produce_event(kloudless_account_id, "add") for _ in range(5)]
    seen: list[str] = []
    cursor = 0
    for expected in (2, 2, 1):
        result = make_sensor(kloudless_conn_id, cursor=cursor, max_events=2).poke({})
        assert result.is_done
        assert result.xcom_value["count"] == expected == len(result.xcom_value["events"])
        assert result.xcom_value["previous_cursor"] == cursor
        seen += ids(result.xcom_value["events"])
        cursor = result.xcom_value["cursor"]
    assert seen == ids(produced)
    assert not make_sensor(kloudless_conn_id, cursor=cursor, max_events=2).poke({}).is_done


def test_cursor_from_a_variable(monkeypatch, kloudless_emulator, kloudless_account_id, kloudless_conn_id):
    kloudless_emulator.produce_event(kloudless_account_id, "add")
    later = kloudless_emulator.produce_event(kloudless_account_id, "add")
    monkeypatch.setenv("AIRFLOW_VAR_KL_TEST_CURSOR", "1")

    result = make_sensor(kloudless_conn_id, cursor_variable="kl_test_cursor").poke({})

    assert result.is_done
    assert result.xcom_value["previous_cursor"] == "1"
    assert ids(result.xcom_value["events"]) == [later["id"]]


def test_missing_variable_starts_from_latest(kloudless_emulator, kloudless_account_id, kloudless_conn_id):
    kloudless_emulator.produce_event(kloudless_account_id, "add")
    sensor = make_sensor(kloudless_conn_id, cursor_variable="kl_test_cursor_never_set")
    assert not sensor.poke({}).is_done
    assert sensor.start_cursor() == 1


def test_cursor_and_cursor_variable_are_exclusive():
    with pytest.raises(ValueError, match="not both"):
        KloudlessEventsSensor(task_id="s", cursor=1, cursor_variable="v")


def test_expired_cursor_fails_the_poke(monkeypatch):
    with KloudlessEmulator(retention_max_events=2) as emulator:
        account_id = emulator.create_account()
        token = emulator.create_token(account_id)
        monkeypatch.setenv(
            "AIRFLOW_CONN_KL_EXPIRED",
            f'{{"conn_type": "kloudless", "host": "{emulator.url}", "password": "{token}"}}',
        )
        for _ in range(4):
            emulator.produce_event(account_id, "add")
        with pytest.raises(CursorExpiredError):
            make_sensor("kl_expired", cursor=1).poke({})


def test_execute_in_poke_mode_returns_the_xcom_value(
    kloudless_emulator, kloudless_account_id, kloudless_conn_id
):
    event = kloudless_emulator.produce_event(kloudless_account_id, "add")
    value = make_sensor(kloudless_conn_id, cursor=0, deferrable=False).execute({})
    assert ids(value["events"]) == [event["id"]]


def test_execute_in_poke_mode_times_out(kloudless_emulator, kloudless_account_id, kloudless_conn_id):
    with pytest.raises(AirflowSensorTimeout):
        make_sensor(kloudless_conn_id, timeout=0.05, deferrable=False).execute({})


def test_deferrable_returns_at_once_when_events_are_there(
    kloudless_emulator, kloudless_account_id, kloudless_conn_id
):
    event = kloudless_emulator.produce_event(kloudless_account_id, "add")
    value = make_sensor(kloudless_conn_id, cursor=0, deferrable=True).execute({})
    assert ids(value["events"]) == [event["id"]]


def test_deferrable_defers_to_the_trigger_and_resumes(
    kloudless_emulator, kloudless_account_id, kloudless_conn_id
):
    kloudless_emulator.produce_event(kloudless_account_id, "add")
    sensor = make_sensor(
        kloudless_conn_id, deferrable=True, timeout=600, event_types="add", max_events=10, poll_interval=0.02
    )
    before = time.time()
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute({})

    assert deferred.value.method_name == "execute_complete"
    assert deferred.value.timeout == timedelta(seconds=600)
    trigger = deferred.value.trigger
    assert isinstance(trigger, KloudlessEventsTrigger)
    classpath, kwargs = trigger.serialize()
    end_time = kwargs.pop("end_time")
    assert before + 600 <= end_time <= time.time() + 600
    assert kwargs == {
        "conn_id": kloudless_conn_id,
        "cursor": 1,
        "account_id": None,
        "event_types": ["add"],
        "max_events": 10,
        "page_size": None,
        "poll_interval": 0.02,
        "start_from": "latest",
    }

    # The triggerer rebuilds the trigger from its serialized form and runs it.
    rebuilt = import_string(classpath)(**kwargs, end_time=end_time)
    new = kloudless_emulator.produce_event(kloudless_account_id, "add")
    event = asyncio.run(asyncio.wait_for(rebuilt.run().__anext__(), 10))

    resumed = make_sensor(kloudless_conn_id, deferrable=True)  # a new instance, as after deferral
    value = resumed.execute_complete({}, event.payload)
    assert value == {"cursor": 2, "previous_cursor": 1, "count": 1, "events": value["events"]}
    assert ids(value["events"]) == [new["id"]]


def test_execute_complete_raises_on_error_timeout_and_garbage(kloudless_conn_id):
    sensor = make_sensor(kloudless_conn_id, deferrable=True)
    error = {
        "status": "error",
        "message": "Kloudless: GET /v1/accounts/me/events failed (HTTP 429)",
        "error_type": "RateLimitError",
        "service": "Kloudless",
        "status_code": 429,
        "detail": "GET /v1/accounts/me/events failed",
        "errors": [],
        "request_id": None,
    }
    with pytest.raises(RateLimitError) as raised:
        sensor.execute_complete({}, error)
    assert raised.value.status_code == 429
    assert str(raised.value) == error["message"]
    with pytest.raises(AirflowSensorTimeout, match="deadline"):
        sensor.execute_complete({}, {"status": "timeout", "message": "nothing before the deadline"})
    with pytest.raises(AirflowException, match="unknown trigger event status"):
        sensor.execute_complete({}, {"status": "running"})
    with pytest.raises(AirflowException, match="malformed"):
        sensor.execute_complete({}, {"status": "success", "cursor": 1})
    with pytest.raises(AirflowException, match="no event"):
        sensor.execute_complete({}, None)
