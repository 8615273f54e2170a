"""Plain Kloudless uploads whose answer is lost: which file counts as the upload's own, and the 409 after a resend."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from airflow_provider_cloud.exceptions import ApiConnectionError, ConflictError
from airflow_provider_cloud.hooks.kloudless import KloudlessHook, storage
from airflow_provider_cloud.hooks.kloudless.uploads import CLOCK_SKEW, digest_of, matches
from tests.fake_transport import FakeTransport, Reply, read_timeout

NOW = datetime(2026, 5, 1, 12, 0, 0, tzinfo=UTC)
CONTENT = b"id,name\n1,Ada\n"
MD5 = digest_of(lambda: [CONTENT])("md5")


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def file_item(
    name: str = "a.csv", size: int = len(CONTENT), created: datetime = NOW, **more: Any
) -> dict[str, Any]:
    return {"id": "F1", "type": "file", "name": name, "size": size, "created": stamp(created), **more}


def is_ours(item: dict[str, Any], since: datetime = NOW) -> bool:
    return matches(item, name="a.csv", size=len(CONTENT), since=since, digest=digest_of(lambda: [CONTENT]))


def test_the_upload_s_own_file_has_its_name_size_type_and_a_creation_since_it_began():
    assert is_ours(file_item())
    assert is_ours(file_item(created=NOW - CLOCK_SKEW))  # the clocks may differ a little; whole seconds
    assert not is_ours(file_item(created=NOW - CLOCK_SKEW - timedelta(seconds=1)))  # there before
    assert not is_ours(file_item(size=len(CONTENT) + 1))
    assert not is_ours(file_item(name="b.csv"))
    assert not is_ours({**file_item(), "type": "folder"})
    assert not is_ours({**file_item(), "created": None})  # no time: never taken for ours
    assert is_ours({**file_item(), "created": None, "modified": stamp(NOW)})


def test_a_checksum_the_metadata_carries_must_match_the_source():
    assert is_ours(file_item(md5=MD5.upper()))
    assert is_ours(file_item(raw={"md5Checksum": MD5}))
    assert not is_ours(file_item(md5="0" * 32))
    assert not is_ours(file_item(raw={"sha1": "0" * 40}))


class Service:
    """A scripted POST: what it does on each send, and what the folder listing shows on each look."""

    def __init__(self, sends: list[str], listings: list[list[dict[str, Any]]]) -> None:
        self.sends = sends
        self.listings = listings
        self.looked = 0

    def send(self, *, data: Any, headers: dict[str, str], reconcile: Any) -> Any:
        while self.sends:
            what = self.sends.pop(0)
            if what == "created":
                return file_item()
            if what == "conflict":
                raise ConflictError(
                    "POST storage/files: naming_conflict", service="Kloudless", status_code=409
                )
            payload = reconcile()  # "lost": the core asks whether it happened
            if payload is not None:
                return payload
        raise AssertionError("no send left")

    def listing(self) -> list[dict[str, Any]]:
        self.looked += 1
        return self.listings.pop(0) if self.listings else []


def upload(tmp_path, service: Service, since: datetime | None = None) -> storage.Uploaded:
    (tmp_path / "a.csv").write_bytes(CONTENT)
    return storage.upload(
        service.send, tmp_path / "a.csv", parent_id="root", name=None, listing=service.listing, since=since
    )


@pytest.fixture
def now(monkeypatch):
    """Set the clock the upload starts by."""

    class Clock(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> datetime:  # type: ignore[override]
            return NOW

    monkeypatch.setattr(storage, "datetime", Clock)


def test_a_lost_answer_whose_file_is_there_counts_as_done(tmp_path, now):
    service = Service(["lost"], [[file_item(name="other.csv"), file_item()]])
    done = upload(tmp_path, service)
    assert (done.metadata["id"], done.found) == ("F1", True)


def test_a_409_on_the_resend_after_a_lost_answer_is_done_when_the_file_is_the_upload_s(tmp_path, now):
    service = Service(["lost", "conflict"], [[], [file_item()]])  # the first look came before the file showed
    done = upload(tmp_path, service)
    assert (done.metadata["id"], done.found, service.looked) == ("F1", True, 2)


def test_a_409_on_the_resend_fails_when_the_file_there_is_another(tmp_path, now):
    older = file_item(created=NOW - timedelta(hours=1))
    with pytest.raises(ConflictError):
        upload(tmp_path, Service(["lost", "conflict"], [[older], [older]]))
    with pytest.raises(ConflictError):
        upload(tmp_path, Service(["lost", "conflict"], [[], [file_item(size=3)]]))


def test_a_409_on_the_first_send_fails_as_before_and_nothing_is_looked_up(tmp_path, now):
    service = Service(["conflict"], [[file_item()]])
    with pytest.raises(ConflictError):
        upload(tmp_path, service)
    assert service.looked == 0


def test_since_makes_a_file_made_since_then_the_upload_s_own(tmp_path, now):
    earlier_try = file_item(created=NOW - timedelta(minutes=5))
    done = upload(tmp_path, Service(["conflict"], [[earlier_try]]), since=NOW - timedelta(minutes=10))
    assert done.found is True
    with pytest.raises(ConflictError):  # made before the run began: somebody else's
        upload(tmp_path, Service(["conflict"], [[earlier_try]]), since=NOW - timedelta(minutes=1))


# -- through the hook and the HTTP core ------------------------------------------------------------------


@pytest.fixture
def hook(monkeypatch):
    conn = {"conn_type": "kloudless", "host": "https://kl.example.test", "password": "tok-" + "x" * 20}
    monkeypatch.setenv("AIRFLOW_CONN_KL_UNIT", json.dumps(conn))
    made = KloudlessHook("kl_unit")
    made._sleep = lambda seconds: None
    yield made
    made.close()


def listing(*items: dict[str, Any]) -> Reply:
    return Reply(200, json={"objects": list(items), "type": "object_list", "page": 1, "next_page": None})


def conflict() -> Reply:
    body = {"status_code": 409, "error_code": "naming_conflict", "message": "taken", "id": "r1"}
    return Reply(409, json=body)


def test_the_hook_reconciles_a_lost_upload_and_a_409_after_it(hook, tmp_path):
    (tmp_path / "a.csv").write_bytes(CONTENT)
    mine = file_item(created=datetime.now(UTC))
    fake = FakeTransport(read_timeout, listing(), conflict(), listing(mine)).mount(hook.session)
    assert hook.upload_file(tmp_path / "a.csv")["id"] == "F1"
    assert fake.methods == ["POST", "GET", "POST", "GET"]
    assert fake.sent[1].path == "/v1/accounts/me/storage/folders/root/contents"
    assert hook.counts.as_dict() == {"attempts": 4, "retries": 1, "reconciled": 0, "resent": 1}


def test_the_hook_counts_a_lost_upload_whose_file_is_there_as_done(hook, tmp_path):
    (tmp_path / "a.csv").write_bytes(CONTENT)
    fake = FakeTransport(read_timeout, listing(file_item(created=datetime.now(UTC)))).mount(hook.session)
    assert hook.upload_file(tmp_path / "a.csv")["id"] == "F1"
    assert fake.methods == ["POST", "GET"]
    assert hook.counts.reconciled == 1


def test_an_overwrite_upload_is_not_looked_up(hook, tmp_path):
    (tmp_path / "a.csv").write_bytes(CONTENT)
    fake = FakeTransport(read_timeout, Reply(200, json=file_item())).mount(hook.session)
    assert hook.upload_file(tmp_path / "a.csv", overwrite=True)["id"] == "F1"
    assert fake.methods == ["POST", "POST"]  # safe to repeat: sent again as it stands


def test_a_lost_upload_fails_when_the_file_there_is_older_and_the_resend_meets_it(hook, tmp_path):
    (tmp_path / "a.csv").write_bytes(CONTENT)
    older = file_item(created=datetime.now(UTC) - timedelta(hours=1))
    fake = FakeTransport(read_timeout, listing(older), conflict(), listing(older)).mount(hook.session)
    with pytest.raises(ConflictError):
        hook.upload_file(tmp_path / "a.csv")
    assert fake.methods == ["POST", "GET", "POST", "GET"]


def test_a_lost_upload_whose_check_fails_stays_in_doubt(hook, tmp_path):
    (tmp_path / "a.csv").write_bytes(CONTENT)
    fake = FakeTransport(read_timeout, *[Reply(404, json={"error_code": "not_found"})]).mount(hook.session)
    with pytest.raises(ApiConnectionError):
        hook.upload_file(tmp_path / "a.csv")
    assert fake.methods == ["POST", "GET"]  # never sent again blindly
