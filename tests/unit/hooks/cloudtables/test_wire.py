"""CloudTables hook helpers that need no server: endpoints, script tags, values, conditions, pacing, ETA."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import pytest

from airflow_provider_cloud.exceptions import RowDataError
from airflow_provider_cloud.hooks.cloudtables.pacing import PacedProgress, RequestPacer
from airflow_provider_cloud.hooks.cloudtables.schema import link_ids
from airflow_provider_cloud.hooks.cloudtables.wire import (
    SCRIPT_STYLES,
    body_failed,
    endpoint_from_connection,
    error_messages,
    form_value,
    normalize_conditions,
    script_tag,
)


def endpoint(host: str, port: int | None = None, **extras: Any):
    return endpoint_from_connection(host, port=port, schema=None, extras=extras, conn_id="c")


@pytest.mark.parametrize(
    ("host", "extras", "base", "hosted"),
    [
        ("acme.cloudtables.io", {}, "https://acme.cloudtables.io", True),
        ("https://ACME.CloudTables.io/", {}, "https://ACME.CloudTables.io", True),
        ("tables.example.com", {}, "https://tables.example.com", False),
        ("cloudtables.io", {}, "https://cloudtables.io", False),  # not a sub-domain
        ("tables.example.com", {"ssl": "false"}, "http://tables.example.com", False),
        ("http://10.0.0.5/apps/ct", {}, "http://10.0.0.5/apps/ct", False),
        (
            "acme.tables.example.com",
            {"domain": "tables.example.com"},
            "https://acme.tables.example.com",
            True,
        ),
        ("acme.cloudtables.io", {"self_hosted": True}, "https://acme.cloudtables.io", False),
        ("http://127.0.0.1:8123", {"self_hosted": "false"}, "http://127.0.0.1:8123", True),
    ],
)
def test_endpoint_from_the_connection(host, extras, base, hosted):
    found = endpoint(host, **extras)
    assert found.base == base
    assert found.hosted is hosted
    assert found.api_path("dataset", "a b") == ("" if hosted else "/io") + "/api/1/dataset/a%20b"


def test_endpoint_port_and_bad_settings():
    assert endpoint("tables.example.com", port=8443).base == "https://tables.example.com:8443"
    assert endpoint("tables.example.com:9000", port=8443).base == "https://tables.example.com:9000"
    with pytest.raises(ValueError, match="no host"):
        endpoint(" ")
    with pytest.raises(ValueError, match="'ssl' extra"):
        endpoint("https://acme.cloudtables.io", ssl=False)
    with pytest.raises(ValueError, match="http or https"):
        endpoint("ftp://acme.cloudtables.io")


@pytest.mark.parametrize("style", SCRIPT_STYLES)
def test_script_tags_hosted_and_self_hosted(style):
    hosted = script_tag(endpoint("acme.cloudtables.io"), "ds-1", "tok", style)
    assert (
        hosted
        == f'<script src="https://acme.cloudtables.io/loader/ds-1/table/{style}" data-token="tok"></script>'
    )
    own = script_tag(endpoint("tables.example.com"), "ds-1", 'a"b<', style)
    assert (
        own
        == f'<script src="https://tables.example.com/io/loader/ds-1/table/{style}" data-token="a&quot;b&lt;"></script>'
    )


def test_script_tag_refuses_unknown_styles():
    with pytest.raises(ValueError, match="d, auto, bs, bs4, dt, zf, ju, se, no"):
        script_tag(endpoint("acme.cloudtables.io"), "ds-1", "tok", "bootstrap")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, ""),
        (True, "true"),
        (False, "false"),
        (5, "5"),
        (5.0, "5"),
        (2.5, "2.5"),
        ("x", "x"),
        (dt.date(2024, 5, 1), "2024-05-01"),
        ([1, 2], "[1,2]"),
    ],
)
def test_form_values(value, text):
    assert form_value(value) == text


def test_form_value_refuses_what_cannot_be_sent():
    with pytest.raises(ValueError, match="finite"):
        form_value(float("nan"))
    with pytest.raises(ValueError, match="bytes"):
        form_value(b"x")


def test_conditions_in_every_accepted_form():
    one = {"name": "Open", "value": True}
    assert normalize_conditions(one) == [one]
    assert normalize_conditions([one, {"id": "dp-2", "value": 3, "op": ">"}])[1]["op"] == ">"
    assert normalize_conditions('{"name": "Open", "value": true}') == [one]
    assert normalize_conditions({"Open": True, "dp-4": "x"}) == [one, {"id": "dp-4", "value": "x"}]
    assert normalize_conditions(None) == []
    with pytest.raises(ValueError, match="op"):
        normalize_conditions([{"name": "Open", "value": 1, "op": "like"}])
    with pytest.raises(ValueError, match="needs an id or a name"):
        normalize_conditions([{"value": 1}])


def test_link_values():
    assert link_ids([{"id": 2, "Name": "x"}, 3, "4"]) == [2, 3, 4]
    assert link_ids('[{"id": 7}]') == [7]
    assert link_ids("1, 2") == [1, 2]
    assert link_ids(None) == link_ids("") == link_ids([]) == []
    with pytest.raises(RowDataError, match="row ids"):
        link_ids([1.5])


def test_failed_bodies_and_their_messages():
    assert not body_failed({"data": [], "success": True})
    assert body_failed({"success": False})
    assert body_failed({"data": {}, "fieldErrors": [{"name": "dp-1", "status": "bad"}]})
    assert not body_failed({"error": ""})
    body = {
        "error": "no",
        "errors": [{"msg": "m", "name": "roles"}],
        "fieldErrors": [{"name": "dp-1", "status": "s"}],
    }
    assert error_messages(body, {"dp-1": "Name"}) == ["no", "roles: m", "Name (dp-1): s"]
    assert error_messages({"success": False}, {}) == ["the service answered success: false"]


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_the_pacer_waits_for_the_oldest_request_to_leave_the_window():
    clock = FakeClock()
    pacer = RequestPacer(3, 10.0, clock=clock, sleep=clock.sleep)
    for _ in range(3):
        with pacer.slot():
            clock.now += 1.0  # each request takes a second
    assert clock.sleeps == []
    with pacer.slot():
        pass
    assert clock.sleeps == [pytest.approx(8.0)]  # the first ended at 101; free again at 111 (now 103)
    assert pacer.waited == pytest.approx(8.0)
    assert pacer.mean_request_seconds == pytest.approx(0.75)


def test_the_pacer_schedule_gives_the_time_left():
    clock = FakeClock()
    pacer = RequestPacer(500, 900.0, clock=clock, sleep=clock.sleep)
    assert pacer.seconds_for(500) == 0.0  # a full window is free
    assert pacer.seconds_for(501) == pytest.approx(900.0)
    assert pacer.seconds_for(1500) == pytest.approx(1800.0)
    with pytest.raises(ValueError, match="at least 1"):
        RequestPacer(0, 1.0)


def test_paced_progress_shows_the_paced_eta_not_the_average_rate():
    clock = FakeClock()
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    logger = logging.getLogger("test.cloudtables.progress")
    logger.addHandler(Collect())
    logger.setLevel(logging.INFO)
    pacer = RequestPacer(500, 900.0, clock=clock, sleep=clock.sleep)
    progress = PacedProgress(logger, estimate=pacer.seconds_for, total=1000, every_seconds=0, clock=clock)
    for _ in range(500):  # a burst: the first window's 500 requests in 50 s
        with pacer.slot():
            clock.now += 0.1
    progress.update(500)
    assert progress.eta() == pytest.approx(
        900.0
    )  # the next 500 wait for the window, not 50 s at the burst rate
    assert lines[-1].startswith("500 of 1,000 rows done (50.0%)")
    assert lines[-1].endswith("ETA 15m00s")
