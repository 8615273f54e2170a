"""
The Kloudless emulator never answers success for what it did not do: moves across accounts, account filters and
writes are carried out; what the API has and the emulator lacks answers 501 ``not_implemented``, never 404.
"""

from __future__ import annotations

import json

import kloudless
import pytest
import requests

import airflow_provider_cloud.testing.kloudless as kloudless_module
from airflow_provider_cloud.testing._kloudless.unserved import UNSERVED, UNSERVED_PARAMETERS
from airflow_provider_cloud.testing.kloudless import KloudlessEmulator

pytestmark = pytest.mark.integration


@pytest.fixture
def kl(kloudless_emulator: KloudlessEmulator) -> KloudlessEmulator:
    return kloudless_emulator


@pytest.fixture
def http():
    with requests.Session() as session:
        yield session


def app(kl):
    return {"Authorization": f"APIKey {kl.api_key}"}


def error_of(response, status, code):
    assert response.status_code == status, response.text
    body = response.json()
    assert (body["status_code"], body["error_code"]) == (status, code)
    return body


def events_of(kl, account_id):
    return [(e["type"], e["metadata"]["name"]) for e in kl.events(account_id)]


# -- moving to another account ------------------------------------------------------------------------


def test_a_file_moves_to_another_account_with_the_events_each_would_see(kl, http):
    one, two = kl.create_account(account="one@example.com"), kl.create_account(account="two@example.com")
    item = kl.add_file(one, "report.csv", b"a,b\n1,2\n")
    inbox = kl.add_folder(two, "inbox")
    url = f"{kl.api_base}/accounts/{one}/storage/files/{item['id']}"

    moved = http.patch(
        url, json={"account": two, "parent_id": inbox["id"], "name": "moved.csv"}, headers=app(kl)
    )

    assert moved.status_code == 200, moved.text
    body = moved.json()
    assert (body["account"], body["name"], body["path"], body["parent"]["id"]) == (
        two,
        "moved.csv",
        "/inbox/moved.csv",
        inbox["id"],
    )
    assert kl.file_content(two, body["id"]) == b"a,b\n1,2\n"
    error_of(http.get(url, headers=app(kl)), 404, "not_found")
    assert events_of(kl, one) == [("add", "report.csv"), ("delete", "report.csv")]
    assert events_of(kl, two) == [("add", "inbox"), ("add", "moved.csv")]


def test_a_folder_moves_with_its_contents(kl, http):
    one, two = kl.create_account(), kl.create_account()
    folder = kl.add_folder(one, "data")
    inner = kl.add_folder(one, "2024", parent_id=folder["id"])
    kl.add_file(one, "a.csv", b"1", parent_id=inner["id"])
    url = f"{kl.api_base}/accounts/{one}/storage/folders/{folder['id']}"

    moved = http.patch(url, json={"account": str(two)}, headers=app(kl)).json()

    assert (moved["account"], moved["path"]) == (two, "/data")
    listing = http.get(
        f"{kl.api_base}/accounts/{two}/storage/folders/{moved['id']}/contents",
        params={"recursive": "true"},
        headers=app(kl),
    ).json()
    assert [o["path"] for o in listing["objects"]] == ["/data/2024", "/data/2024/a.csv"]
    assert events_of(kl, one)[-3:] == [("delete", "a.csv"), ("delete", "2024"), ("delete", "data")]
    assert events_of(kl, two) == [("add", "data"), ("add", "2024"), ("add", "a.csv")]


def test_a_move_that_cannot_be_done_changes_nothing(kl, http):
    one, two = kl.create_account(), kl.create_account()
    item = kl.add_file(one, "a.csv", b"1")
    kl.add_file(two, "a.csv", b"other")
    url = f"{kl.api_base}/accounts/{one}/storage/files/{item['id']}"
    before = (kl.events(one), kl.events(two))

    error_of(http.patch(url, json={"account": two}, headers=app(kl)), 409, "naming_conflict")
    error_of(
        http.patch(url, json={"account": two, "parent_id": "nope"}, headers=app(kl)),
        400,
        "invalid_parent_folder",
    )
    error_of(http.patch(url, json={"account": 99}, headers=app(kl)), 404, "not_found")
    error_of(http.patch(url, json={"account": "two"}, headers=app(kl)), 400, "invalid_parameters")
    token = kl.create_token(one)
    bearer = {"Authorization": f"Bearer {token}"}
    error_of(
        http.patch(url, json={"account": two, "name": "b.csv"}, headers=bearer), 403, "permission_denied"
    )

    assert (kl.events(one), kl.events(two)) == before
    assert kl.file_content(one, item["id"]) == b"1"


def test_the_sdk_2_moves_a_file_to_another_account(kl, monkeypatch):
    monkeypatch.setitem(kloudless.configuration, "base_url", kl.url)
    one, two = kl.create_account(), kl.create_account()
    item = kl.add_file(one, "a.csv", b"1")
    account = kloudless.Account(api_key=kl.api_key, account_id=one)
    moved = account.patch(f"storage/files/{item['id']}", json={"account": two, "parent_id": "root"})
    assert (moved.data["account"], moved.data["name"]) == (two, "a.csv")
    assert kl.file_content(two, moved.data["id"]) == b"1"


# -- accounts -----------------------------------------------------------------------------------------


def test_the_active_and_enabled_filters_pick_accounts_by_their_active_flag(kl, http):
    on = kl.create_account(active=True)
    off = kl.create_account(active=False)

    def ids(**params):
        return [
            a["id"]
            for a in http.get(f"{kl.api_base}/accounts", params=params, headers=app(kl)).json()["objects"]
        ]

    assert ids() == [on, off]
    assert ids(active="true") == ids(enabled="true") == [on]
    assert ids(active="false") == [off]
    assert ids(active="true", enabled="false") == []
    error_of(
        http.get(f"{kl.api_base}/accounts", params={"active": "maybe"}, headers=app(kl)),
        400,
        "invalid_parameters",
    )


def test_an_account_update_changes_what_it_says_and_refuses_the_rest(kl, http):
    account_id = kl.create_account(account="old@example.com")
    url = f"{kl.api_base}/accounts/{account_id}"

    updated = http.patch(
        url, json={"active": False, "account": "new@example.com", "service": "gdrive"}, headers=app(kl)
    )

    assert updated.status_code == 200, updated.text
    assert (updated.json()["active"], updated.json()["account"]) == (False, "new@example.com")
    assert http.get(url, headers=app(kl)).json()["active"] is False
    error_of(http.patch(url, json={"service": "box"}, headers=app(kl)), 400, "invalid_parameters")
    error_of(http.patch(url, json={"active": "no"}, headers=app(kl)), 400, "invalid_parameters")
    body = error_of(http.patch(url, json={"token": "upstream"}, headers=app(kl)), 501, "not_implemented")
    assert "token" in body["message"]
    assert http.get(url, headers=app(kl)).json()["service"] == "gdrive"


def test_deleting_an_account_disconnects_it(kl, http):
    account_id = kl.create_account()
    token = kl.create_token(account_id)
    kl.add_file(account_id, "a.csv", b"1")
    bearer = {"Authorization": f"Bearer {token}"}

    assert http.delete(f"{kl.api_base}/accounts/me", headers=bearer).status_code == 204

    error_of(http.get(f"{kl.api_base}/accounts/me", headers=bearer), 401, "invalid_token")
    error_of(http.get(f"{kl.api_base}/accounts/{account_id}", headers=app(kl)), 404, "not_found")
    error_of(http.delete(f"{kl.api_base}/accounts/{account_id}", headers=app(kl)), 404, "not_found")


# -- what is not served ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "params"),
    [
        ("POST", "/accounts", {}),
        ("GET", "/accounts/{a},{a}/storage/folders/root", {}),
        ("GET", "/meta/applications", {}),
        ("GET", "/applications/1/webhooks", {}),
        ("GET", "/accounts/{a}/storage/search", {"q": "x"}),
        ("GET", "/accounts/{a}/storage/recent", {}),
        ("POST", "/accounts/{a}/storage/links", {}),
        ("POST", "/accounts/{a}/storage/multipart", {}),
        ("GET", "/accounts/{a}/storage/quota", {}),
        ("POST", "/accounts/{a}/storage/files/upload_url", {}),
        ("POST", "/accounts/{a}/storage/files/{f}/copy", {}),
        ("GET", "/accounts/{a}/storage/files/{f}/permissions", {}),
        ("GET", "/accounts/{a}/storage/files/{f}/thumbnail", {}),
        ("GET", "/accounts/{a}/tasks/7", {}),
        ("GET", "/accounts/{a}/team/users", {}),
        ("GET", "/accounts/{a}/crm/contacts", {}),
        ("POST", "/accounts/{a}/cal/calendars", {}),
        ("PATCH", "/accounts/{a}/cal/calendars/primary", {}),
        ("GET", "/accounts/{a}/events", {"upstream_cursor": "u1"}),
        ("GET", "/accounts/{a}/cal/calendars/primary/events", {"start": "2024-01-01T00:00:00Z"}),
    ],
)
def test_what_the_api_has_and_the_emulator_lacks_answers_501(kl, http, method, path, params):
    account_id = kl.create_account()
    item = kl.add_file(account_id, "a.csv", b"1")
    url = kl.api_base + path.format(a=account_id, f=item["id"])
    before = kl.events(account_id)
    answer = http.request(method, url, params=params, json={}, headers=app(kl))
    assert "not implemented by this emulator" in error_of(answer, 501, "not_implemented")["message"]
    assert kl.events(account_id) == before  # nothing changed


def test_a_path_the_api_does_not_have_is_still_404(kl, http):
    account_id = kl.create_account()
    for path in ("/nowhere", f"/accounts/{account_id}/storage/elsewhere", f"/accounts/{account_id}/files"):
        body = error_of(http.get(kl.api_base + path, headers=app(kl)), 404, "not_found")
        assert "No such endpoint" in body["message"]


def test_the_docstring_lists_everything_that_answers_501():
    doc = " ".join((kloudless_module.__doc__ or "").split())
    listed = doc[doc.index("**Not implemented**") :]
    for _, _, what in (*UNSERVED, *UNSERVED_PARAMETERS):
        assert what in listed
    assert "updating upstream credentials" in listed


def test_requests_seen_still_hide_the_key(kl, http):
    http.post(f"{kl.api_base}/accounts", data=json.dumps({}), headers=app(kl))
    assert kl.api_key not in json.dumps(kl.requests_seen)
