"""KloudlessHook against the Kloudless emulator over real HTTP (a fake transport only for odd edge cases)."""

from __future__ import annotations

import gzip
import io
import json
import secrets
import tracemalloc
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from airflow.sdk import ObjectStoragePath
from airflow.sdk.log import redact
from requests.adapters import BaseAdapter
from urllib3 import HTTPResponse

from airflow_provider_cloud.exceptions import (
    ApiConnectionError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    CursorExpiredError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    UnexpectedResponseError,
)
from airflow_provider_cloud.hooks.kloudless import AFTER_AUTH, EventStream, KloudlessHook
from airflow_provider_cloud.testing.kloudless import KloudlessEmulator
from tests.fake_transport import FakeTransport, Reply, build_response

pytestmark = pytest.mark.integration

FAKE_HOST = "https://kloudless.example.test"
FAKE_TOKEN = "fake-token-" + "x" * 20


def set_conn(monkeypatch: pytest.MonkeyPatch, conn_id: str, **fields: Any) -> str:
    """Define a ``kloudless`` connection through its environment variable and return its id."""
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps({"conn_type": "kloudless", **fields}))
    return conn_id


@pytest.fixture
def hooks() -> Iterator[list[KloudlessHook]]:
    made: list[KloudlessHook] = []
    yield made
    for hook in made:
        hook.close()


@pytest.fixture
def hook(kloudless_conn_id: str, hooks: list[KloudlessHook]) -> KloudlessHook:
    """A hook on connection ``kloudless_default`` (Bearer token, account ``me``), never really sleeping."""
    made = KloudlessHook(kloudless_conn_id)
    made._sleep = lambda seconds: None
    hooks.append(made)
    return made


@pytest.fixture
def apikey_conn(monkeypatch: pytest.MonkeyPatch, kloudless_emulator: KloudlessEmulator) -> str:
    return set_conn(
        monkeypatch,
        "kloudless_app",
        host=kloudless_emulator.url,
        password=kloudless_emulator.api_key,
        extra={"auth_scheme": "APIKey", "app_id": kloudless_emulator.app_id},
    )


@pytest.fixture
def fake_hook(monkeypatch: pytest.MonkeyPatch, hooks: list[KloudlessHook]):
    """Build a hook on a fake host whose session answers from a FakeTransport."""

    def make(*answers: Any, **hook_kwargs: Any) -> tuple[KloudlessHook, FakeTransport]:
        set_conn(monkeypatch, "kloudless_fake", host=FAKE_HOST, password=FAKE_TOKEN)
        made = KloudlessHook("kloudless_fake", **hook_kwargs)
        made._sleep = lambda seconds: None
        fake = FakeTransport(*answers).mount(made.session)
        hooks.append(made)
        return made, fake

    return make


def produce(
    kl: KloudlessEmulator, account_id: int, count: int, kinds: tuple[str, ...] = ("add",)
) -> list[int]:
    return [kl.produce_event(account_id, kinds[i % len(kinds)])["event_id"] for i in range(count)]


def paths_seen(kl: KloudlessEmulator, suffix: str) -> list[dict[str, Any]]:
    return [r for r in kl.requests_seen if r["path"].endswith(suffix)]


# -- connection, accounts, versions ---------------------------------------------------------------


def test_connection_reports_the_account(hook, kloudless_account_id):
    ok, message = hook.test_connection()
    assert ok is True
    assert f"account {kloudless_account_id}" in message
    assert "airflow@example.com" in message


def test_connection_with_a_revoked_token_fails_without_showing_it(hook, kloudless_emulator, kloudless_token):
    kloudless_emulator.revoke_token(kloudless_token)
    ok, message = hook.test_connection()
    assert ok is False
    assert "invalid_token" in message
    assert "HTTP 401" in message
    assert kloudless_token not in message


def test_numeric_account_id_and_me_reach_the_same_account(
    kloudless_conn_id, kloudless_account_id, kloudless_emulator, hooks
):
    by_id = KloudlessHook(kloudless_conn_id, account_id=kloudless_account_id)
    hooks.append(by_id)
    assert by_id.account_url().endswith(f"/v1/accounts/{kloudless_account_id}")
    assert by_id.get_account()["id"] == kloudless_account_id
    other = kloudless_emulator.create_account(account="other@example.com")
    stranger = KloudlessHook(kloudless_conn_id, account_id=other)
    hooks.append(stranger)
    with pytest.raises(PermissionDeniedError) as info:
        stranger.get_account()
    assert info.value.status_code == 403
    assert info.value.errors[0].startswith("permission_denied: ")


def test_account_id_must_be_me_or_a_number(kloudless_conn_id, hooks):
    bad = KloudlessHook(kloudless_conn_id, account_id="../admin")
    hooks.append(bad)
    with pytest.raises(ValueError, match="'me' or a numeric account id"):
        bad.get_account()


def test_api_key_scheme_with_a_numeric_account(apikey_conn, kloudless_account_id, kloudless_emulator, hooks):
    hook = KloudlessHook(apikey_conn, account_id=kloudless_account_id)
    hooks.append(hook)
    assert hook.test_connection()[0] is True
    seen = paths_seen(kloudless_emulator, f"/accounts/{kloudless_account_id}")
    assert seen[-1]["headers"]["Authorization"] == "APIKey ***"


def test_api_key_scheme_without_an_account_id_is_a_clear_error(apikey_conn, hooks):
    hook = KloudlessHook(apikey_conn)
    hooks.append(hook)
    ok, message = hook.test_connection()
    assert ok is False
    assert "numeric id of the account" in message
    with pytest.raises(ValueError, match="API key"):
        hook.account_url()


def test_api_version_per_call_per_connection_and_from_the_host(
    hook, kloudless_emulator, kloudless_token, kloudless_account_id, monkeypatch, hooks
):
    assert hook.get_account(api_version=2)["id"] == kloudless_account_id
    assert kloudless_emulator.requests_seen[-1]["path"] == "/v2/accounts/me"
    with pytest.raises(NotFoundError):
        hook.account_json("GET", api_version=3)
    set_conn(
        monkeypatch,
        "kl_v2",
        host=kloudless_emulator.url,
        password=kloudless_token,
        extra={"api_version": "2"},
    )
    set_conn(monkeypatch, "kl_host_v2", host=kloudless_emulator.url + "/v2", password=kloudless_token)
    for conn_id in ("kl_v2", "kl_host_v2"):
        versioned = KloudlessHook(conn_id)
        hooks.append(versioned)
        assert versioned.account_url() == f"{kloudless_emulator.url}/v2/accounts/me"
        assert versioned.account_url(api_version=1) == f"{kloudless_emulator.url}/v1/accounts/me"
        assert versioned.get_account()["id"] == kloudless_account_id


def test_an_empty_host_means_the_public_api(monkeypatch, hooks):
    set_conn(monkeypatch, "kl_public", password=FAKE_TOKEN)
    hook = KloudlessHook("kl_public")
    hooks.append(hook)
    assert hook.account_url() == "https://api.kloudless.com/v1/accounts/me"


def test_bad_extras_are_named(monkeypatch, hooks):
    set_conn(monkeypatch, "kl_bad", host=FAKE_HOST, password=FAKE_TOKEN, extra={"auth_scheme": "Basic"})
    set_conn(monkeypatch, "kl_bad2", host=FAKE_HOST, password=FAKE_TOKEN, extra={"raw_headers": "[1, 2]"})
    hooks.extend([KloudlessHook("kl_bad"), KloudlessHook("kl_bad2")])
    with pytest.raises(ValueError, match="auth_scheme must be 'Bearer' or 'APIKey'"):
        hooks[-2].auth_headers()
    with pytest.raises(ValueError, match="raw_headers"):
        hooks[-1].auth_headers()


def test_documented_headers_from_extras(
    kloudless_emulator, kloudless_token, kloudless_account_id, monkeypatch, hooks, local_file
):
    set_conn(
        monkeypatch,
        "kl_headers",
        host=kloudless_emulator.url,
        password=kloudless_token,
        extra={"raw_data": "true", "as_user": "robot-7", "raw_headers": {"X-Upstream": "yes"}},
    )
    hook = KloudlessHook("kl_headers")
    hooks.append(hook)
    assert "raw" in hook.get_account()
    hook.upload_file(local_file(b"hello"), name="h.txt")
    assert kloudless_emulator.events(kloudless_account_id)[-1]["user_id"] == "robot-7"
    echo = hook.raw("GET", "/drive/v2/about")
    assert echo["headers"] == {"X-Upstream": "yes"}


# -- paging ---------------------------------------------------------------------------------------


def test_object_list_pages_follow_next_page(hook, kloudless_emulator, kloudless_account_id):
    for number in range(7):
        kloudless_emulator.add_file(kloudless_account_id, f"f{number}.txt", b"x")
    folder = kloudless_emulator.add_folder(kloudless_account_id, "sub")
    kloudless_emulator.add_file(kloudless_account_id, "deep.txt", b"y", folder["id"])
    names = [item["name"] for item in hook.list_folder(page_size=3)]
    assert names == ["sub"] + [f"f{n}.txt" for n in range(7)]
    pages = [
        r["query"].get("page", ["1"])[0] for r in paths_seen(kloudless_emulator, "/folders/root/contents")
    ]
    assert pages == ["1", "2", "3"]
    assert all(r["query"]["page_size"] == ["3"] for r in paths_seen(kloudless_emulator, "/contents"))
    assert "deep.txt" in {item["name"] for item in hook.list_folder(recursive=True)}
    assert [i["name"] for i in hook.list_folder(folder["id"])] == ["deep.txt"]


def test_object_list_is_lazy(hook, kloudless_emulator, kloudless_account_id):
    for number in range(5):
        kloudless_emulator.add_file(kloudless_account_id, f"f{number}.txt", b"x")
    items = hook.list_folder(page_size=2)
    assert paths_seen(kloudless_emulator, "/contents") == []
    next(items)
    assert len(paths_seen(kloudless_emulator, "/contents")) == 1


def test_object_list_without_next_page_counts_pages_and_stops_on_404(fake_hook):
    hook, fake = fake_hook(
        Reply(200, json={"type": "object_list", "objects": [{"id": 1}], "page": 1}),
        Reply(200, json={"type": "object_list", "objects": [{"id": 2}], "page": 2}),
        Reply(404, json={"status_code": 404, "error_code": "not_found", "message": "No page.", "id": "r1"}),
    )
    assert [o["id"] for o in hook.iter_object_list("cal/calendars", params={"x": "y"})] == [1, 2]
    assert [parse_qs(urlsplit(s.url).query) for s in fake.sent] == [
        {"x": ["y"]},
        {"x": ["y"], "page": ["2"]},
        {"x": ["y"], "page": ["3"]},
    ]


def test_object_list_a_404_on_the_first_page_is_an_error(hook):
    with pytest.raises(NotFoundError):
        list(hook.list_folder("no-such-folder"))


# -- events ---------------------------------------------------------------------------------------


def test_latest_cursor(hook, kloudless_emulator, kloudless_account_id):
    produce(kloudless_emulator, kloudless_account_id, 3)
    assert hook.get_latest_cursor() == kloudless_emulator.latest_cursor(kloudless_account_id)


def test_events_page_as_the_api_gives_it(hook, kloudless_emulator, kloudless_account_id):
    start = hook.get_latest_cursor()
    ids = produce(kloudless_emulator, kloudless_account_id, 5)
    page = hook.get_events_page(start, page_size=2)
    assert [e["event_id"] for e in page["objects"]] == ids[:2]
    assert (page["count"], page["remaining"]) == (2, 3)
    assert page["cursor"] != start


def test_iter_events_resumes_exactly_none_lost_none_repeated(hook, kloudless_emulator, kloudless_account_id):
    cursor = hook.get_latest_cursor()
    ids = produce(kloudless_emulator, kloudless_account_id, 25)
    seen: list[int] = []
    for _ in range(10):
        stream = hook.iter_events(cursor, page_size=4, max_events=7)
        batch = [e["event_id"] for e in stream]
        assert stream.previous_cursor == cursor
        assert stream.count == len(batch) <= 7
        seen += batch
        cursor = stream.cursor
        if stream.caught_up:
            break
    assert seen == ids
    sizes = [int(r["query"]["page_size"][0]) for r in paths_seen(kloudless_emulator, "/events")]
    assert max(sizes) == 4
    assert 3 in sizes  # the last page of a 7-event batch asks for only what the budget allows


def test_iter_events_type_filter_consumes_skipped_events(hook, kloudless_emulator, kloudless_account_id):
    start = hook.get_latest_cursor()
    produce(kloudless_emulator, kloudless_account_id, 9, kinds=("add", "delete", "update"))
    stream = hook.iter_events(start, page_size=2, max_events=2, types={"delete"})
    first = list(stream)
    assert [e["type"] for e in first] == ["delete", "delete"]
    rest = hook.iter_events(stream.cursor, types="delete")
    assert [e["event_id"] for e in rest] == [8]
    assert rest.caught_up is True
    assert rest.cursor == kloudless_emulator.latest_cursor(kloudless_account_id)
    everything_after = hook.iter_events(stream.cursor)
    assert [e["event_id"] for e in everything_after] == [6, 7, 8, 9]


def test_iter_events_cursor_moves_with_the_last_event_of_a_page(
    hook, kloudless_emulator, kloudless_account_id
):
    start = hook.get_latest_cursor()
    produce(kloudless_emulator, kloudless_account_id, 4)
    stream = hook.iter_events(start, page_size=2)
    next(stream)
    assert stream.cursor == start  # inside a page: resuming replays it
    second = next(stream)
    assert stream.cursor == 2
    assert second["event_id"] == 2
    assert isinstance(stream, EventStream)


def test_caught_up_is_an_empty_page_with_the_same_cursor(hook, kloudless_emulator, kloudless_account_id):
    produce(kloudless_emulator, kloudless_account_id, 2)
    latest = hook.get_latest_cursor()
    page = hook.get_events_page(latest)
    assert (page["objects"], page["cursor"], page["remaining"]) == ([], latest, 0)
    stream = hook.iter_events(latest, max_events=10)
    assert list(stream) == []
    assert (stream.cursor, stream.count, stream.caught_up, stream.pages) == (latest, 0, True, 1)


def test_expired_cursor(hook, kloudless_emulator, kloudless_account_id):
    old = hook.get_latest_cursor()
    produce(kloudless_emulator, kloudless_account_id, 2)
    kloudless_emulator.advance_clock(2 * 86400)
    kept = produce(kloudless_emulator, kloudless_account_id, 3)
    stream = hook.iter_events(old)
    with pytest.raises(CursorExpiredError) as info:
        next(stream)
    assert isinstance(info.value, BadRequestError)
    assert info.value.status_code == 400
    assert info.value.errors[0].startswith("cursor_expired: ")
    assert info.value.request_id
    oldest = hook.iter_events(hook.get_oldest_cursor())
    assert [e["event_id"] for e in oldest] == kept
    assert oldest.previous_cursor == AFTER_AUTH


def test_event_stream_refuses_a_cursor_that_does_not_move(fake_hook):
    page = {"objects": [{"id": "e1", "type": "add"}], "cursor": 5, "remaining": 1, "count": 1}
    hook, _ = fake_hook(Reply(200, json=page))
    with pytest.raises(UnexpectedResponseError, match="did not move"):
        list(hook.iter_events(5))


def test_event_stream_without_remaining_reads_until_an_empty_page(fake_hook):
    hook, fake = fake_hook(
        Reply(200, json={"objects": [{"id": "a"}], "cursor": "c1"}),
        Reply(200, json={"objects": [{"id": "b"}], "cursor": "c2"}),
        Reply(200, json={"objects": [], "cursor": "c2"}),
    )
    stream = hook.iter_events("c0")
    assert [e["id"] for e in stream] == ["a", "b"]
    assert (stream.cursor, stream.caught_up, len(fake.sent)) == ("c2", True, 3)


def test_bad_page_size_and_max_events(hook):
    with pytest.raises(ValueError, match="page_size"):
        hook.iter_events(0, page_size=5000)
    with pytest.raises(ValueError, match="max_events"):
        hook.iter_events(0, max_events=0)


# -- storage --------------------------------------------------------------------------------------


@pytest.fixture
def local_file(tmp_path_factory: pytest.TempPathFactory) -> Callable[[bytes], str]:
    """Return a maker of local source files, each in a folder of its own under pytest's temporary folders."""

    def make(content: bytes) -> str:
        path = tmp_path_factory.mktemp("kl-upload") / "source.bin"
        path.write_bytes(content)
        return str(path)

    return make


@pytest.mark.parametrize("where", ["file", "memory"])
def test_download_to_file_and_memory(
    hook, kloudless_emulator, kloudless_account_id, tmp_path, memory_dir, where
):
    content = secrets.token_bytes(3 * 1024 * 1024 + 17)
    meta = kloudless_emulator.add_file(kloudless_account_id, "big.bin", content)
    target = (tmp_path / "out" / "big.bin").as_uri() if where == "file" else memory_dir / "big.bin"
    result = hook.download_file(meta["id"], target)
    assert result["size"] == len(content)
    written = ObjectStoragePath(result["path"])
    with written.fs.open(written.path, "rb") as handle:
        assert handle.read() == content
    assert [p for p in written.parent.iterdir() if p.name.startswith(".")] == []


def test_a_gz_file_downloads_byte_for_byte(hook, kloudless_emulator, kloudless_account_id, tmp_path):
    content = gzip.compress(b"id,name\n1,a\n")
    meta = kloudless_emulator.add_file(kloudless_account_id, "report.csv.gz", content)
    result = hook.download_file(meta["id"], (tmp_path / "report.csv.gz").as_uri())
    assert (tmp_path / "report.csv.gz").read_bytes() == content  # not compressed a second time
    assert result["size"] == len(content)


def test_a_broken_download_leaves_no_file_and_an_old_one_untouched(fake_hook, tmp_path):
    cut = Reply(
        200, body=b"x" * 100, headers={"Content-Length": "1000", "Content-Type": "application/octet-stream"}
    )
    hook, fake = fake_hook(cut, cut, retry_limit=1)
    with pytest.raises(ApiConnectionError, match="broke off") as info:
        hook.download_file("F1", tmp_path / "new.bin")
    assert FAKE_TOKEN not in str(info.value)
    assert len(fake.sent) == 2
    assert list(tmp_path.iterdir()) == []
    old = tmp_path / "old.bin"
    old.write_bytes(b"previous")
    fake.add(cut, cut)
    with pytest.raises(ApiConnectionError):
        hook.download_file("F1", old)
    assert old.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == ["old.bin"]


def test_a_broken_download_is_restarted(fake_hook, tmp_path):
    cut = Reply(200, body=b"x" * 10, headers={"Content-Length": "1000"})
    hook, fake = fake_hook(cut, Reply(200, body=b"y" * 1000))
    assert hook.download_file("F1", str(tmp_path / "f.bin"))["size"] == 1000
    assert (tmp_path / "f.bin").read_bytes() == b"y" * 1000
    assert len(fake.sent) == 2


def test_download_of_a_missing_file_creates_nothing(hook, tmp_path):
    with pytest.raises(NotFoundError):
        hook.download_file("nope", tmp_path / "x.bin")
    assert list(tmp_path.iterdir()) == []


def test_upload_overwrite_metadata_and_delete(hook, kloudless_emulator, kloudless_account_id, local_file):
    source = local_file(b"first version")
    meta = hook.upload_file(source, name="report.csv.gz")
    assert (meta["name"], meta["size"]) == ("report.csv.gz", 13)
    assert kloudless_emulator.file_content(kloudless_account_id, meta["id"]) == b"first version"
    header = json.loads(
        paths_seen(kloudless_emulator, "/storage/files")[-1]["headers"]["X-Kloudless-Metadata"]
    )
    assert header == {"parent_id": "root", "name": "report.csv.gz"}
    with pytest.raises(ConflictError) as info:
        hook.upload_file(source, name="report.csv.gz")
    assert "naming_conflict" in str(info.value)
    second = local_file(b"second, longer version")
    replaced = hook.upload_file(second, name="report.csv.gz", overwrite=True)
    assert replaced["id"] == meta["id"]
    assert hook.get_file_metadata(meta["id"])["size"] == len(b"second, longer version")
    assert hook.get_folder_metadata()["id"] == "root"
    assert [e["type"] for e in kloudless_emulator.events(kloudless_account_id)] == ["add", "update"]
    hook.delete_file(meta["id"])
    with pytest.raises(NotFoundError):
        hook.get_file_metadata(meta["id"])
    assert kloudless_emulator.events(kloudless_account_id)[-1]["type"] == "delete"


def test_upload_from_memory_into_a_folder_uses_the_source_name(
    hook, kloudless_emulator, kloudless_account_id, memory_dir
):
    source = memory_dir / "data.json"
    with source.fs.open(source.path, "wb") as handle:
        handle.write(b'{"a": 1}')
    folder = kloudless_emulator.add_folder(kloudless_account_id, "inbox")
    meta = hook.upload_file(source, parent_id=folder["id"])
    assert (meta["name"], meta["parent"]["id"]) == ("data.json", folder["id"])


def test_a_retried_upload_sends_the_whole_file_again(
    hook, kloudless_emulator, kloudless_account_id, monkeypatch, local_file
):
    content = secrets.token_bytes(200_000)
    kloudless_emulator.rate_limit_next(1, retry_after=1)
    waits: list[float] = []
    hook._sleep = waits.append
    meta = hook.upload_file(local_file(content), name="retry.bin")
    assert waits == [1.0]
    assert kloudless_emulator.file_content(kloudless_account_id, meta["id"]) == content
    assert [r["body_size"] for r in paths_seen(kloudless_emulator, "/storage/files")] == [200_000, 200_000]


# -- raw, OAuth -----------------------------------------------------------------------------------


def test_raw_pass_through(hook, kloudless_account_id):
    echo = hook.raw("post", "/drive/v2/files", data={"title": "x"}, headers={"X-Trace": "1"})
    assert echo["emulated"] is True
    assert (echo["account"], echo["method"], echo["uri"]) == (kloudless_account_id, "POST", "/drive/v2/files")
    assert json.loads(echo["body"]) == {"title": "x"}
    assert echo["headers"] == {"X-Trace": "1", "Content-Type": "application/json"}


def test_oauth_url_state_exchange_and_verification(apikey_conn, kloudless_emulator, hooks):
    hook = KloudlessHook(apikey_conn)
    hooks.append(hook)
    redirect = "http://localhost:8080/callback"
    url, state = hook.authorization_url(
        redirect_uri=redirect, scope="storage", extra_params={"extra_data": {"a": 1}}
    )
    url2, state2 = hook.authorization_url(client_id=kloudless_emulator.app_id, redirect_uri=redirect)
    assert state != state2
    assert len(state) >= 32
    query = parse_qs(urlsplit(url).query)
    assert query["client_id"] == [kloudless_emulator.app_id]
    assert (query["response_type"], query["state"], query["scope"]) == (["code"], [state], ["storage"])
    assert json.loads(query["extra_data"][0]) == {"a": 1}
    browser = requests.get(url, allow_redirects=False, timeout=10)
    back = parse_qs(urlsplit(browser.headers["Location"]).query)
    assert back["state"] == [state]
    code = back["code"][0]
    before = len(kloudless_emulator.requests_seen)
    with pytest.raises(AuthenticationError, match="state mismatch"):
        hook.exchange_code(code=code, state="forged", expected_state=state, redirect_uri=redirect)
    assert len(kloudless_emulator.requests_seen) == before
    token = hook.exchange_code(code=code, state=back["state"][0], expected_state=state, redirect_uri=redirect)
    access = token["access_token"]
    assert redact(f"got {access}") == "got ***"
    assert hook.verify_token(access)["account_id"] == token["account_id"]
    with pytest.raises(AuthenticationError, match="issued to application"):
        hook.verify_token(access, app_id="another-app")
    with pytest.raises(BadRequestError, match="invalid_parameters"):  # a code is used once
        hook.exchange_code(code=code, state=state, expected_state=state, redirect_uri=redirect)


def test_exchange_needs_the_api_key(hook, kloudless_emulator):
    with pytest.raises(ValueError, match="auth_scheme APIKey"):
        hook.exchange_code(
            code="c",
            state="s",
            expected_state="s",
            client_id=kloudless_emulator.app_id,
            redirect_uri="http://x",
        )


# -- retries, errors, secrets ---------------------------------------------------------------------


def test_429_with_retry_after_is_waited_out(hook, kloudless_emulator, kloudless_account_id):
    waits: list[float] = []
    hook._sleep = waits.append
    kloudless_emulator.rate_limit_next(2, retry_after=2)
    assert hook.get_account()["id"] == kloudless_account_id
    assert waits == [2.0, 2.0]


def test_429_past_the_retry_limit(kloudless_conn_id, kloudless_emulator, hooks):
    hook = KloudlessHook(kloudless_conn_id, retry_limit=0)
    hooks.append(hook)
    kloudless_emulator.rate_limit_next(1, retry_after=3)
    with pytest.raises(RateLimitError) as info:
        hook.get_latest_cursor()
    assert (info.value.retry_after, info.value.status_code) == (3.0, 429)


def test_error_mapping_with_request_id(hook):
    with pytest.raises(NotFoundError) as info:
        hook.get_file_metadata("missing-file")
    error = info.value
    assert error.errors[0].startswith("not_found: ")
    assert error.request_id
    assert len(error.request_id) == 16
    assert f"[request id {error.request_id}]" in str(error)
    assert error.service == "Kloudless"


def test_request_id_falls_back_to_headers_and_conflicts_name_the_resource(fake_hook):
    hook, _ = fake_hook(
        Reply(500, body="upstream exploded", headers={"X-Request-Id": "hdr-1"}),
        Reply(
            409, json={"error_code": "naming_conflict", "message": "Exists.", "conflicting_resource_id": "F9"}
        ),
        retry_limit=0,
    )
    with pytest.raises(ServerError) as first:
        hook.account_json("POST", "storage/folders", json_body={})
    assert first.value.request_id == "hdr-1"
    with pytest.raises(ConflictError) as second:
        hook.account_json("POST", "storage/folders", json_body={})
    assert second.value.errors == ["naming_conflict: Exists.", "conflicting_resource_id: F9"]


def test_a_400_about_retention_is_a_cursor_expired_error(fake_hook):
    body = {"error_code": "invalid_parameters", "message": "This cursor is past the retention period."}
    hook, _ = fake_hook(Reply(400, json=body))
    with pytest.raises(CursorExpiredError):
        hook.get_events_page("123")


def test_secrets_are_not_in_error_text(fake_hook, logged_warnings):
    echo = {"error_code": "unauthorized", "message": f"Bearer {FAKE_TOKEN} is not valid", "id": "r-7"}
    hook, fake = fake_hook(Reply(503, json=echo), Reply(401, json=echo))
    with pytest.raises(AuthenticationError) as info:
        hook.get_account()
    assert FAKE_TOKEN not in str(info.value)
    assert "Bearer *** is not valid" in str(info.value)
    assert fake.sent[0].headers["Authorization"] == f"Bearer {FAKE_TOKEN}"
    assert logged_warnings()
    assert all(FAKE_TOKEN not in text for text in logged_warnings())
    assert redact(f"token {FAKE_TOKEN}") == "token ***"


@pytest.fixture
def logged_warnings():
    import structlog

    formatter = structlog.stdlib.PositionalArgumentsFormatter()
    with structlog.testing.capture_logs(processors=[formatter]) as entries:
        yield lambda: [e["event"] for e in entries if e["log_level"] == "warning"]


# -- memory ---------------------------------------------------------------------------------------

FIFTY_MB = 50 * 1024 * 1024


class ZeroStream(io.RawIOBase):
    """A body of ``size`` zero bytes, produced as it is read (never held whole)."""

    def __init__(self, size: int) -> None:
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        count = min(len(buffer), self.left)
        buffer[:count] = bytes(count)
        self.left -= count
        return count


class StreamingServer(BaseAdapter):
    """Serves a generated download of ``size`` bytes and swallows upload bodies chunk by chunk."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size
        self.received = 0

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        if request.method == "POST":
            chunks: Any = request.body
            for chunk in chunks:
                self.received += len(chunk)
            return build_response(request, Reply(201, json={"id": "F1", "size": self.received}))
        response = build_response(request, Reply(200, headers={"Content-Type": "application/octet-stream"}))
        response.raw = HTTPResponse(
            body=io.BufferedReader(ZeroStream(self.size)),
            headers={"Content-Length": str(self.size)},
            status=200,
            preload_content=False,
            decode_content=False,
        )
        return response

    def close(self) -> None:
        pass


def test_50_mb_download_and_upload_keep_memory_flat(fake_hook, tmp_path):
    hook, _ = fake_hook()
    server = StreamingServer(FIFTY_MB)
    hook.session.mount("https://", server)
    tracemalloc.start()
    try:
        result = hook.download_file("F1", tmp_path / "big.bin")
        _, download_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        meta = hook.upload_file(tmp_path / "big.bin")
        _, upload_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result["size"] == FIFTY_MB == (tmp_path / "big.bin").stat().st_size
    assert meta["size"] == FIFTY_MB == server.received
    assert download_peak < 8 * 1024 * 1024
    assert upload_peak < 8 * 1024 * 1024


def test_an_empty_file_round_trips(hook, kloudless_emulator, kloudless_account_id, tmp_path):
    (tmp_path / "empty.txt").write_bytes(b"")
    meta = hook.upload_file(tmp_path / "empty.txt")
    assert meta["size"] == 0
    assert hook.download_file(meta["id"], tmp_path / "back.txt")["size"] == 0
    assert (tmp_path / "back.txt").read_bytes() == b""
