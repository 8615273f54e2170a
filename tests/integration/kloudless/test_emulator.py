"""The Kloudless emulator against ``requests`` and the official ``kloudless`` 2.0.1 SDK, unchanged."""

from __future__ import annotations

import json
import socket
import threading
from urllib.parse import parse_qs, urlsplit

import kloudless
import pytest
import requests
from kloudless import exceptions as sdk_errors

from airflow_provider_cloud.testing.kloudless import CURSOR_EXPIRED, KloudlessApiError, KloudlessEmulator

pytestmark = pytest.mark.integration

EVENT_FIELDS = {"id", "event_id", "account", "action", "type", "modified", "ip", "user_id", "metadata"}
METADATA_FIELDS = {
    "id",
    "raw_id",
    "account",
    "name",
    "path",
    "parent",
    "ancestors",
    "created",
    "modified",
    "downloadable",
    "type",
    "mime_type",
    "size",
    "api",
    "owner",
    "creator",
    "last_modifier",
    "can_create_folders",
    "can_upload_files",
}


@pytest.fixture(scope="module")
def server():
    with KloudlessEmulator() as emulator:
        yield emulator


@pytest.fixture
def kl(server):
    server.reset()
    yield server
    server.reset()


@pytest.fixture
def sdk(kl, monkeypatch):
    """The official SDK pointed at the emulator (configuration is global, so restore it afterwards)."""
    monkeypatch.setitem(kloudless.configuration, "base_url", kl.url)
    monkeypatch.setitem(kloudless.configuration, "api_version", "1")
    return kloudless


@pytest.fixture
def account_id(kl):
    return kl.create_account(service="gdrive", account="ann@example.com")


@pytest.fixture
def token(kl, account_id):
    return kl.create_token(account_id)


@pytest.fixture
def http():
    with requests.Session() as session:
        yield session


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def get(http, kl, path, token=None, headers=None, **params):
    merged = {**(bearer(token) if token else {}), **(headers or {})}
    return http.get(kl.api_base + path, headers=merged, params=params, timeout=10)


def assert_error(response, status, error_code):
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status_code"] == status
    assert body["error_code"] == error_code
    assert body["message"]
    assert body["id"]
    return body


def upload(http, kl, token, name, content, parent_id="root", **params):
    headers = {**bearer(token), "X-Kloudless-Metadata": json.dumps({"parent_id": parent_id, "name": name})}
    return http.post(kl.api_base + "/accounts/me/storage/files", data=content, headers=headers, params=params)


# ---- auth and accounts ---------------------------------------------------------------------------


def test_bearer_token_reaches_me_and_its_own_numeric_id(kl, http, account_id, token):
    me = get(http, kl, "/accounts/me", token)
    by_id = get(http, kl, f"/accounts/{account_id}", token)
    assert me.status_code == by_id.status_code == 200
    assert me.json()["id"] == by_id.json()["id"] == account_id
    assert me.json()["account"] == "ann@example.com"
    assert me.json()["apis"] == ["storage", "calendar"]


def test_bearer_token_on_another_account_is_403_permission_denied(kl, http, token):
    other = kl.create_account(account="bob@example.com")
    assert_error(get(http, kl, f"/accounts/{other}", token), 403, "permission_denied")


def test_missing_unknown_and_revoked_credentials_are_401(kl, http, token):
    assert_error(get(http, kl, "/accounts/me"), 401, "authentication_required")
    assert_error(get(http, kl, "/accounts/me", "not-a-token"), 401, "invalid_token")
    assert_error(get(http, kl, "/accounts/me", headers={"Authorization": "Basic abc"}), 401, "unauthorized")
    assert kl.revoke_token(token) is True
    assert_error(get(http, kl, "/accounts/me", token), 401, "invalid_token")


def test_a_token_of_a_chosen_value_works_and_is_not_minted_twice(kl, http, account_id):
    chosen = "chosen-token-4b1f0e"
    assert kl.create_token(account_id, token=chosen) == chosen
    assert get(http, kl, "/accounts/me", chosen).json()["id"] == account_id
    with pytest.raises(ValueError, match="not in use"):
        kl.create_token(account_id, token=chosen)


def test_api_key_needs_a_numeric_account_id(kl, http, account_id):
    key = {"Authorization": f"APIKey {kl.api_key}"}
    assert get(http, kl, f"/accounts/{account_id}", headers=key).json()["id"] == account_id
    body = assert_error(get(http, kl, "/accounts/me", headers=key), 400, "invalid_parameters")
    assert "Bearer" in body["message"]
    assert_error(get(http, kl, "/accounts/999", headers=key), 404, "not_found")
    assert_error(
        get(http, kl, "/accounts/me", headers={"Authorization": "APIKey wrong"}), 401, "unauthorized"
    )


def test_accounts_list_pages_with_api_key(kl, http):
    ids = [kl.create_account(account=f"u{n}@example.com") for n in range(3)]
    key = {"Authorization": f"APIKey {kl.api_key}"}
    first = get(http, kl, "/accounts", headers=key, page_size=2).json()
    assert (first["type"], first["api"], first["total"], first["count"], first["page"]) == (
        "object_list",
        "meta",
        3,
        2,
        1,
    )
    second = get(http, kl, "/accounts", headers=key, page_size=2, page=2).json()
    assert [a["id"] for a in first["objects"] + second["objects"]] == ids
    assert_error(get(http, kl, "/accounts", headers=key, page_size=2, page=3), 404, "not_found")


def test_accounts_list_with_a_bearer_token_shows_only_its_account(kl, http, account_id, token):
    kl.create_account(account="other@example.com")
    listing = get(http, kl, "/accounts", token).json()
    assert [a["id"] for a in listing["objects"]] == [account_id]


def test_sdk_generic_paging_iterator_walks_accounts_until_404(kl, sdk):
    ids = [kl.create_account(account=f"u{n}@example.com") for n in range(5)]
    client = sdk.Client(api_key=kl.api_key)
    listing = client.get("accounts", params={"page_size": 2})
    assert [resource.data["id"] for resource in listing.get_paging_iterator()] == ids


def test_sdk_account_with_api_key_and_exceptions(kl, sdk, account_id, token):
    assert sdk.Account(api_key=kl.api_key, account_id=account_id).get().data["id"] == account_id
    other = kl.create_account()
    with pytest.raises(sdk_errors.ForbiddenException) as forbidden:
        sdk.Account(token=token).get(f"{kl.api_base}/accounts/{other}")
    assert forbidden.value.error_data["error_code"] == "permission_denied"
    with pytest.raises(sdk_errors.AuthorizationException) as unauthorized:
        sdk.Account(token="bogus").get()
    assert unauthorized.value.status == 401


# ---- events ----------------------------------------------------------------------------------------


def test_latest_cursor_is_an_integer_that_follows_the_stream(kl, sdk, account_id, token):
    account = sdk.Account(token=token)
    assert account.get("events/latest").data == {"cursor": 0}
    kl.produce_event(account_id)
    kl.produce_event(account_id, "delete")
    cursor = account.get("events/latest").data["cursor"]
    assert isinstance(cursor, int)
    assert cursor == kl.latest_cursor(account_id) == 2


def test_sdk_paging_iterator_yields_every_event_and_sets_latest_cursor(kl, sdk, account_id, token):
    kl.produce_event(account_id)
    start = kl.latest_cursor(account_id)
    produced = [kl.produce_event(account_id, "update")["id"] for _ in range(5)]
    events = sdk.Account(token=token).get("events", params={"cursor": start, "page_size": 2})
    seen = [event.data["id"] for event in events.get_paging_iterator()]
    assert seen == produced
    assert events.latest_cursor == kl.latest_cursor(account_id)
    follow_ups = [r for r in kl.requests_seen if r["path"] == "/v1/accounts/me/events"]
    assert [r["query"]["page_size"] for r in follow_ups] == [["2"]] * 4  # page_size stays sticky
    assert follow_ups[-1]["query"]["cursor"] == [str(kl.latest_cursor(account_id))]


def test_sdk_iterator_on_a_caught_up_stream_keeps_the_cursor(kl, sdk, account_id, token):
    kl.produce_event(account_id)
    cursor = kl.latest_cursor(account_id)
    events = sdk.Account(token=token).get("events", params={"cursor": cursor})
    assert list(events.get_paging_iterator()) == []
    assert events.latest_cursor == cursor


def test_caught_up_page_is_empty_with_the_same_cursor(kl, http, account_id, token):
    for _ in range(3):
        kl.produce_event(account_id)
    page = get(http, kl, "/accounts/me/events", token, cursor=1, page_size=1).json()
    assert (page["count"], page["remaining"], page["cursor"]) == (1, 1, 2)
    assert page["type"] == "object_list"
    assert page["api"] == "events"
    caught_up = get(http, kl, "/accounts/me/events", token, cursor=3).json()
    assert caught_up["objects"] == []
    assert (caught_up["cursor"], caught_up["count"], caught_up["remaining"]) == (3, 0, 0)


def test_event_objects_carry_the_documented_fields(kl, http, account_id, token):
    upload(http, kl, token, "a.txt", b"abc").raise_for_status()
    [event] = get(http, kl, "/accounts/me/events", token, cursor=0).json()["objects"]
    assert set(event) == EVENT_FIELDS
    assert (event["type"], event["action"], event["account"], event["ip"]) == ("add", "+", account_id, None)
    assert event["metadata"]["name"] == "a.txt"
    assert isinstance(event["event_id"], int)


def test_events_without_a_cursor_start_at_the_oldest_retained(kl, http, account_id, token):
    for _ in range(2):
        kl.produce_event(account_id)
    assert get(http, kl, "/accounts/me/events", token).json()["count"] == 2
    assert get(http, kl, "/accounts/me/events", token, cursor="after-auth").json()["count"] == 2


@pytest.mark.parametrize("page_size", ["0", "1001", "-1", "ten"])
def test_page_size_outside_1_to_1000_is_400(kl, http, token, page_size):
    response = get(http, kl, "/accounts/me/events", token, page_size=page_size)
    assert "page_size" in assert_error(response, 400, "invalid_parameters")["message"]


def test_page_size_limits_are_accepted_and_the_sdk_raises_on_100000(kl, http, sdk, token):
    assert get(http, kl, "/accounts/me/events", token, page_size=1).status_code == 200
    assert get(http, kl, "/accounts/me/events", token, page_size=1000).status_code == 200
    with pytest.raises(sdk_errors.APIException) as error:
        sdk.Account(token=token).get("events", params={"page_size": 100000})
    assert error.value.status == 400


def test_invalid_or_future_cursor_is_400_invalid_parameters(kl, http, account_id, token):
    kl.produce_event(account_id)
    assert_error(get(http, kl, "/accounts/me/events", token, cursor="abc"), 400, "invalid_parameters")
    body = assert_error(get(http, kl, "/accounts/me/events", token, cursor=9), 400, "invalid_parameters")
    assert "ahead" in body["message"]


def test_cursor_cannot_be_combined_with_a_time_window(kl, http, token):
    stamp = "2024-01-01T00:00:00Z"
    assert_error(
        get(http, kl, "/accounts/me/events", token, cursor=0, **{"from": stamp}), 400, "invalid_parameters"
    )
    assert_error(get(http, kl, "/accounts/me/events", token, until=stamp), 400, "invalid_parameters")
    assert_error(
        get(http, kl, "/accounts/me/events", token, **{"from": "yesterday"}), 400, "invalid_parameters"
    )


def test_from_until_window_and_its_bounded_cursor(kl, http, account_id, token):
    kl.produce_event(account_id)
    kl.advance_clock(60)
    start = kl.now().isoformat()
    middle = kl.produce_event(account_id)
    kl.advance_clock(60)
    until = kl.now().isoformat()
    kl.advance_clock(1)
    last = kl.produce_event(account_id)
    window = get(http, kl, "/accounts/me/events", token, **{"from": start, "until": until}).json()
    assert [e["id"] for e in window["objects"]] == [middle["id"]]
    assert window["remaining"] == 0
    assert isinstance(window["cursor"], str)
    after = get(http, kl, "/accounts/me/events", token, cursor=window["cursor"]).json()
    assert after["objects"] == []  # the follow-up cursor stays inside [from, until)
    open_ended = get(http, kl, "/accounts/me/events", token, **{"from": start}).json()
    assert [e["id"] for e in open_ended["objects"]] == [middle["id"], last["id"]]


def test_events_older_than_the_retention_age_expire_the_cursor(kl, http, sdk, account_id, token):
    kl.produce_event(account_id)
    kl.advance_clock(86400 + 1)
    assert kl.events(account_id) == []
    body = assert_error(get(http, kl, "/accounts/me/events", token, cursor=0), 400, CURSOR_EXPIRED)
    assert "older than" in body["message"]
    with pytest.raises(sdk_errors.APIException) as error:
        list(sdk.Account(token=token).get("events", params={"cursor": 0}).get_paging_iterator())
    assert error.value.error_data["error_code"] == "cursor_expired"
    latest = get(http, kl, "/accounts/me/events/latest", token).json()["cursor"]
    assert get(http, kl, "/accounts/me/events", token, cursor=latest).json()["objects"] == []


def test_events_beyond_the_retained_count_expire_the_cursor(http):
    with KloudlessEmulator(retention_max_events=3) as small:
        account_id = small.create_account()
        token = small.create_token(account_id)
        for _ in range(5):
            small.produce_event(account_id)
        assert len(small.events(account_id)) == 3
        assert_error(get(http, small, "/accounts/me/events", token, cursor=1), 400, CURSOR_EXPIRED)
        kept = get(http, small, "/accounts/me/events", token, cursor=2).json()
        assert (kept["count"], kept["cursor"]) == (3, 5)


def test_produce_event_checks_the_type(kl, account_id):
    with pytest.raises(KloudlessApiError) as error:
        kl.produce_event(account_id, "explode")
    assert (error.value.status, error.value.error_code) == (400, "invalid_parameters")
    assert kl.produce_event(account_id, "restore", {"id": "x", "api": "storage"})["metadata"] == {
        "id": "x",
        "api": "storage",
    }


# ---- storage ---------------------------------------------------------------------------------------


def test_sdk_upload_download_overwrite_delete_emit_events(kl, sdk, account_id, token):
    account = sdk.Account(token=token)
    metadata = json.dumps({"parent_id": "root", "name": "report.csv"})
    created = account.post("storage/files", data=b"a,b\n1,2\n", headers={"X-Kloudless-Metadata": metadata})
    assert created.response.status_code == 201
    file_id = created.data["id"]
    assert created.url.endswith(f"/v1/accounts/me/storage/files/{file_id}")
    download = created.get("contents")
    assert download.content == b"a,b\n1,2\n"
    assert download.headers["Content-Type"] == "application/octet-stream"
    assert account.put(f"storage/files/{file_id}", data=b"new").data["size"] == 3
    assert created.get("contents").content == b"new"
    assert account.delete(f"storage/files/{file_id}").status_code == 204
    with pytest.raises(sdk_errors.NotFoundException):
        account.get(f"storage/files/{file_id}")
    events = kl.events(account_id)
    assert [(e["type"], e["metadata"]["id"]) for e in events] == [
        ("add", file_id),
        ("update", file_id),
        ("delete", file_id),
    ]


def test_file_metadata_has_the_documented_shape(kl, http, account_id, token):
    folder = kl.add_folder(account_id, "docs")
    response = upload(http, kl, token, "notes.txt", b"hello", parent_id=folder["id"])
    assert response.status_code == 201
    body = response.json()
    assert METADATA_FIELDS <= set(body)
    assert (body["type"], body["api"], body["account"], body["size"]) == ("file", "storage", account_id, 5)
    assert (body["path"], body["mime_type"], body["downloadable"]) == ("/docs/notes.txt", "text/plain", True)
    assert body["parent"] == {"id": folder["id"], "name": "docs"}
    assert [a["id"] for a in body["ancestors"]] == ["root", folder["id"]]
    assert get(http, kl, f"/accounts/me/storage/files/{body['id']}", token).json() == body
    root = get(http, kl, "/accounts/me/storage/folders/root", token).json()
    assert (root["type"], root["id"], root["can_upload_files"]) == ("folder", "root", True)


def test_upload_with_content_type_and_a_streamed_download(kl, http, token):
    content = bytes(range(256)) * 4096  # 1 MiB
    headers = {
        **bearer(token),
        "Content-Type": "application/octet-stream",
        "X-Kloudless-Metadata": json.dumps({"parent_id": "root", "name": "blob.bin"}),
    }
    created = http.post(kl.api_base + "/accounts/me/storage/files", data=content, headers=headers).json()
    with http.get(
        kl.api_base + f"/accounts/me/storage/files/{created['id']}/contents",
        headers=bearer(token),
        stream=True,
    ) as response:
        assert int(response.headers["Content-Length"]) == len(content)
        assert b"".join(response.iter_content(64 * 1024)) == content


def test_same_name_upload_is_409_unless_overwrite(kl, http, account_id, token):
    first = upload(http, kl, token, "a.txt", b"one").json()
    body = assert_error(upload(http, kl, token, "a.txt", b"two"), 409, "naming_conflict")
    assert body["conflicting_resource_id"] == first["id"]
    replaced = upload(http, kl, token, "a.txt", b"two", overwrite="true")
    assert replaced.status_code == 200
    assert replaced.json()["id"] == first["id"]
    assert kl.file_content(account_id, first["id"]) == b"two"
    assert [e["type"] for e in kl.events(account_id)] == ["add", "update"]


def test_upload_errors(kl, http, token):
    no_header = http.post(kl.api_base + "/accounts/me/storage/files", data=b"x", headers=bearer(token))
    assert_error(no_header, 400, "invalid_parameters")
    assert_error(upload(http, kl, token, "x.txt", b"x", parent_id="nope"), 400, "invalid_parent_folder")
    assert_error(get(http, kl, "/accounts/me/storage/files/nope", token), 404, "not_found")


def test_sdk_folder_contents_paging_follows_next_page(kl, sdk, account_id, token):
    names = [f"file-{n:02d}.txt" for n in range(7)]
    for name in names:
        kl.add_file(account_id, name, b"x")
    contents = sdk.Account(token=token).get("storage/folders/root/contents", params={"page_size": 3})
    assert (contents.page, contents.next_page) == (1, 2)
    assert [item.data["name"] for item in contents.get_paging_iterator()] == names
    pages = [r["query"].get("page") for r in kl.requests_seen if r["path"].endswith("/contents")]
    assert pages == [None, ["2"], ["3"]]


def test_folder_contents_last_page_and_past_the_end(kl, http, account_id, token):
    kl.add_folder(account_id, "zeta")
    kl.add_file(account_id, "alpha.txt", b"x")
    last = get(http, kl, "/accounts/me/storage/folders/root/contents", token, page_size=5).json()
    assert [o["name"] for o in last["objects"]] == ["zeta", "alpha.txt"]  # folders first
    assert (last["next_page"], last["type"], last["api"]) == (None, "object_list", "storage")
    assert_error(get(http, kl, "/accounts/me/storage/folders/root/contents", token, page=2), 404, "not_found")


def test_folder_create_delete_and_folder_not_empty(kl, http, account_id, token):
    auth = bearer(token)
    url = kl.api_base + "/accounts/me/storage/folders"
    made = http.post(url, json={"parent_id": "root", "name": "box"}, headers=auth)
    assert made.status_code == 201
    folder_id = made.json()["id"]
    again = http.post(url, json={"parent_id": "root", "name": "box"}, headers=auth)
    assert (again.status_code, again.json()["id"]) == (200, folder_id)
    conflict = http.post(
        url, json={"parent_id": "root", "name": "box"}, params={"conflict_if_exists": "true"}, headers=auth
    )
    assert_error(conflict, 409, "naming_conflict")
    inner = kl.add_file(account_id, "inside.txt", b"x", parent_id=folder_id)
    assert_error(http.delete(f"{url}/{folder_id}", headers=auth), 403, "folder_not_empty")
    assert http.delete(f"{url}/{folder_id}", params={"recursive": "true"}, headers=auth).status_code == 204
    deletes = [e["metadata"]["id"] for e in kl.events(account_id) if e["type"] == "delete"]
    assert deletes == [inner["id"], folder_id]


def test_rename_and_move_emit_their_events(kl, http, account_id, token):
    target = kl.add_folder(account_id, "archive")
    item = kl.add_file(account_id, "old.txt", b"x")
    url = kl.api_base + f"/accounts/me/storage/files/{item['id']}"
    renamed = http.patch(url, json={"name": "new.txt"}, headers=bearer(token)).json()
    moved = http.patch(url, json={"parent_id": target["id"]}, headers=bearer(token)).json()
    assert (renamed["name"], moved["path"]) == ("new.txt", "/archive/new.txt")
    assert [e["type"] for e in kl.events(account_id)][-2:] == ["rename", "move"]


# ---- calendar, raw pass-through, headers ----------------------------------------------------------


def test_calendar_primary_list_and_event_creation(kl, sdk, account_id, token):
    account = sdk.Account(token=token)
    primary = account.get("cal/calendars/primary")
    assert primary.data["primary"] is True
    assert primary.url.endswith("/cal/calendars/primary")
    calendars = account.get("cal/calendars")
    assert [c.data["id"] for c in calendars] == [primary.data["id"]]
    created = primary.post(
        "events", json={"name": "Standup", "start": "2024-05-01T09:00:00Z", "end": "2024-05-01T09:15:00Z"}
    )
    assert created.response.status_code == 201
    listed = primary.get("events")
    assert [e.data["name"] for e in listed.get_paging_iterator()] == ["Standup"]
    assert listed.data["type"] == "object_list"
    [event] = kl.events(account_id)
    assert (event["type"], event["metadata"]["id"]) == ("add", created.data["id"])
    with pytest.raises(sdk_errors.APIException) as error:
        primary.post("events", json={"name": "no times"})
    assert error.value.status == 400


def test_raw_passthrough_echoes_what_would_be_forwarded(kl, sdk, account_id, token):
    account = sdk.Account(token=token)
    response = account.raw(
        "post",
        "/drive/v2/files",
        data=b'{"title": "x"}',
        headers={"Content-Type": "application/json"},
        raw_headers={"X-Upstream": "yes"},
    )
    echo = response.json()
    assert (echo["method"], echo["uri"], echo["body"], echo["account"]) == (
        "POST",
        "/drive/v2/files",
        '{"title": "x"}',
        account_id,
    )
    assert echo["headers"] == {"X-Upstream": "yes", "Content-Type": "application/json"}
    assert kl.requests_seen[-1]["headers"]["X-Kloudless-Raw-Headers"] == '{"X-Upstream": "yes"}'


def test_raw_passthrough_and_raw_headers_errors(kl, http, token):
    url = kl.api_base + "/accounts/me/raw"
    assert_error(http.post(url, headers=bearer(token)), 400, "invalid_parameters")
    broken = {**bearer(token), "X-Kloudless-Raw-Headers": "not json"}
    assert_error(http.get(kl.api_base + "/accounts/me", headers=broken), 400, "invalid_parameters")


def test_kloudless_headers_are_honoured_and_recorded(kl, http, account_id, token):
    headers = {"X-Kloudless-Raw-Data": "true", "X-Kloudless-As-User": "admin-7"}
    account = get(http, kl, "/accounts/me", token, headers=headers).json()
    assert "raw" in account
    response = http.post(
        kl.api_base + "/accounts/me/storage/folders",
        json={"parent_id": "root", "name": "shared"},
        headers={**bearer(token), **headers},
    )
    assert "raw" in response.json()
    assert kl.events(account_id)[-1]["user_id"] == "admin-7"
    seen = kl.requests_seen[-1]
    assert (seen["method"], seen["path"]) == ("POST", "/v1/accounts/me/storage/folders")
    assert seen["headers"]["X-Kloudless-As-User"] == "admin-7"
    assert seen["headers"]["Authorization"] == "Bearer ***"
    assert token not in json.dumps(kl.requests_seen)


# ---- OAuth -----------------------------------------------------------------------------------------


def test_oauth_flow_with_the_sdk_helpers(kl, sdk, http):
    redirect_uri = "http://localhost:8020/callback"
    url, state = sdk.get_authorization_url(kl.app_id, redirect_uri, scope="box:normal.storage")
    assert url.startswith(kl.api_base + "/oauth?")
    redirect = http.get(url, allow_redirects=False)
    assert redirect.status_code == 302
    location = urlsplit(redirect.headers["Location"])
    assert location.path == "/callback"
    params = {k: v[0] for k, v in parse_qs(location.query).items()}
    assert params["state"] == state
    token = sdk.get_token_from_code(kl.app_id, kl.api_key, state, redirect_uri, **params)
    exchange = [r for r in kl.requests_seen if r["path"] == "/v1/oauth/token"][-1]
    assert exchange["headers"]["Content-Type"] == "application/form-urlencoded"  # the SDK's typo
    info = sdk.verify_token(kl.app_id, token)
    assert info["client_id"] == kl.app_id
    account = sdk.Account(token=token).get().data
    assert (account["id"], account["service"]) == (info["account_id"], "box")
    with pytest.raises(sdk_errors.APIException) as reused:
        sdk.get_token_from_code(kl.app_id, kl.api_key, state, redirect_uri, **params)
    assert reused.value.error_data["error"] == "invalid_grant"
    with pytest.raises(sdk_errors.TokenVerificationFailed):
        sdk.verify_token("some-other-app", token)


def test_oauth_unknown_client_redirects_with_an_error(kl, sdk, http):
    url, state = sdk.get_authorization_url("unknown-app", "http://localhost/cb")
    location = http.get(url, allow_redirects=False).headers["Location"]
    params = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    assert (params["error"], params["state"]) == ("invalid_client", state)
    assert "code" not in params
    with pytest.raises(sdk_errors.OauthFlowFailed):
        sdk.get_token_from_code(kl.app_id, kl.api_key, state, "http://localhost/cb", **params)


def test_oauth_code_exchange_reads_any_content_type_and_checks_everything(kl, http, account_id):
    url = kl.api_base + "/oauth/token"

    def exchange(code, **overrides):
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": "http://localhost/callback",
            "client_id": kl.app_id,
            "client_secret": kl.api_key,
            **overrides,
        }
        body = "&".join(f"{k}={requests.utils.quote(v, safe='')}" for k, v in form.items())
        return http.post(url, data=body, headers={"Content-Type": "text/plain"})

    assert exchange(kl.authorize(account_id), client_secret="wrong").status_code == 401
    assert exchange(kl.authorize(account_id), redirect_uri="http://evil/").json()["error"] == "invalid_grant"
    assert exchange(kl.authorize(account_id), grant_type="password").status_code == 400
    expired = kl.authorize(account_id)
    kl.advance_clock(601)
    assert exchange(expired).status_code == 400
    granted = exchange(kl.authorize(account_id, scope="storage"))
    assert granted.status_code == 200
    body = granted.json()
    assert (body["token_type"], body["account_id"], body["scope"]) == ("bearer", account_id, "storage")
    verify = http.get(url, headers=bearer(body["access_token"])).json()
    assert (verify["client_id"], verify["account_id"]) == (kl.app_id, account_id)
    assert_error(
        http.get(url, headers={"Authorization": f"APIKey {kl.api_key}"}), 401, "authentication_required"
    )


# ---- faults, versions, life cycle ------------------------------------------------------------------


def test_rate_limit_carries_retry_after_for_the_sdk(kl, sdk, token):
    kl.rate_limit_next(1, retry_after=7)
    with pytest.raises(sdk_errors.RateLimitException) as error:
        sdk.Account(token=token).get()
    assert error.value.retry_after == 7.0
    assert error.value.error_data["error_code"] == "too_many_requests"
    assert sdk.Account(token=token).get().data["account"] == "ann@example.com"


def test_fail_next_fails_exactly_n_requests(kl, http, token):
    kl.fail_next(2, status=503, retry_after=2)
    first = get(http, kl, "/accounts/me", token)
    assert_error(first, 503, "service_not_available")
    assert first.headers["Retry-After"] == "2"
    assert_error(get(http, kl, "/accounts/me", token), 503, "service_not_available")
    assert get(http, kl, "/accounts/me", token).status_code == 200
    kl.fail_next(1, status=500, error_code="link_error")
    assert_error(get(http, kl, "/accounts/me", token), 500, "link_error")
    kl.fail_next(1, status=429)
    assert get(http, kl, "/accounts/me", token).headers["Retry-After"] == "1"


def test_latency_delays_answers(kl, http, token):
    kl.latency = 0.5
    with pytest.raises(requests.exceptions.ReadTimeout):
        http.get(kl.api_base + "/accounts/me", headers=bearer(token), timeout=0.05)
    kl.latency = 0
    assert get(http, kl, "/accounts/me", token).status_code == 200


def test_api_versions_unknown_paths_and_methods(kl, http, token):
    assert get(http, kl, "/accounts/me", token).status_code == 200
    assert http.get(kl.url + "/v2/accounts/me", headers=bearer(token)).status_code == 200
    assert_error(http.get(kl.url + "/v3/accounts/me", headers=bearer(token)), 404, "not_found")
    assert_error(get(http, kl, "/nowhere", token), 404, "not_found")
    assert_error(http.put(kl.api_base + "/accounts/me", headers=bearer(token)), 405, "method_not_allowed")


def test_options_and_unreadable_bodies_are_answered_in_the_error_shape(kl, http, token):
    assert_error(http.options(kl.api_base + "/accounts/me", headers=bearer(token)), 405, "method_not_allowed")
    with socket.create_connection(("127.0.0.1", kl.port), timeout=5) as sock:
        sock.sendall(b"POST /v1/accounts/me HTTP/1.1\r\nHost: x\r\nContent-Length: many\r\n\r\n")
        answer = sock.makefile("rb").read()  # the server closes the connection after answering
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 ")
    assert b"Connection: close" in head
    error = json.loads(body)
    assert (error["status_code"], error["error_code"]) == (400, "bad_request")
    assert error["message"] == "Content-Length is not a number"
    assert error["id"]


def test_pending_failures_counts_what_is_left(kl, http, token):
    kl.fail_next(2, status=500)
    assert kl.pending_failures == 2
    assert_error(get(http, kl, "/accounts/me", token), 500, "internal_error")
    assert kl.pending_failures == 1
    kl.clear_faults()
    assert kl.pending_failures == 0


def test_reset_drops_state_but_keeps_credentials(kl, http, account_id, token):
    api_key, app_id = kl.api_key, kl.app_id
    kl.add_file(account_id, "a.txt", b"x")
    kl.fail_next(5)
    kl.reset()
    assert (kl.api_key, kl.app_id) == (api_key, app_id)
    assert kl.requests_seen == []
    assert_error(get(http, kl, "/accounts/me", token), 401, "invalid_token")
    listing = get(http, kl, "/accounts", headers={"Authorization": f"APIKey {api_key}"}).json()
    assert listing["objects"] == []
    with pytest.raises(KloudlessApiError):
        kl.events(account_id)


def test_concurrent_uploads_each_emit_one_event(kl, http, account_id, token):
    def send(n):
        with requests.Session() as session:
            upload(session, kl, token, f"c{n}.txt", b"x").raise_for_status()

    threads = [threading.Thread(target=send, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    events = kl.events(account_id)
    assert len(events) == 16
    assert len({e["event_id"] for e in events}) == 16
    assert kl.latest_cursor(account_id) == 16


def test_start_stop_and_loopback_only():
    emulator = KloudlessEmulator(api_key="k", app_id="a")
    with pytest.raises(RuntimeError):
        _ = emulator.url
    emulator.start()
    try:
        assert emulator.url.startswith("http://127.0.0.1:")
        assert requests.get(emulator.api_base + "/accounts/me", timeout=5).status_code == 401
        url = emulator.api_base
    finally:
        emulator.stop()
    assert not emulator.running
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(url + "/accounts/me", timeout=5)
    with pytest.raises(ValueError, match="loopback"):
        KloudlessEmulator(host="0.0.0.0")
