"""Older response shapes that Datasette Cloud may still serve, through a fake transport."""

from __future__ import annotations

import pytest

from airflow_provider_cloud.exceptions import NotFoundError
from tests.fake_transport import FakeTransport, Reply

NOT_FOUND = Reply(404, json={"ok": False, "error": "Not found", "errors": ["Not found"], "status": 404})


def test_sql_falls_back_to_the_legacy_database_route(hook):
    fake = FakeTransport(NOT_FOUND, Reply(200, json={"rows": [{"n": 3}], "truncated": False}))
    fake.mount(hook.session)

    assert hook.query("select count(*) as n from t where a = :a", {"a": 1}) == [{"n": 3}]
    assert [sent.path for sent in fake.sent] == ["/data/-/query.json", "/data.json"]
    assert "sql=select" in fake.sent[1].url
    assert "a=1" in fake.sent[1].url


def test_sql_reports_the_first_404_when_both_routes_are_missing(hook):
    FakeTransport(NOT_FOUND, NOT_FOUND).mount(hook.session)

    with pytest.raises(NotFoundError, match="/data/-/query.json"):
        hook.query("select 1")


def test_update_understands_the_older_row_key(hook):
    FakeTransport(Reply(200, json={"ok": True, "row": {"id": 2, "age": 41}})).mount(hook.session)

    assert hook.update_row("people", 2, {"age": 41}) == {"id": 2, "age": 41}


def test_pages_follow_next_when_next_url_is_missing(hook):
    hook._window_arg = 1  # one page after another (by key ranges: test_ranges.py)
    fake = FakeTransport(
        Reply(200, json={"ok": True, "max_returned_rows": 1000}),  # /-/settings.json
        Reply(200, json={"rows": [{"id": 1}], "next": "1"}),
        Reply(200, json={"rows": [{"id": 2}], "next": None}),
    )
    fake.mount(hook.session)

    assert [row["id"] for row in hook.iter_rows("people", page_size=1)] == [1, 2]
    assert "_next=1" in fake.sent[2].url
    assert fake.sent[2].path == "/data/people.json"


def test_errors_without_status_in_the_body_still_map_by_http_status(hook):
    FakeTransport(Reply(403, json={"ok": False, "error": "Permission denied"})).mount(hook.session)

    with pytest.raises(Exception, match="Permission denied") as caught:
        hook.get_actor()
    assert caught.value.status_code == 403
