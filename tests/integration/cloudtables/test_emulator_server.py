"""The CloudTables emulator as a server: life cycle, paths and the key, rate limit, fault knobs, routing, bodies."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from airflow_provider_cloud.testing.cloudtables import LOADER_STYLES, CloudTablesEmulator
from tests.integration.cloudtables.emulator_support import (
    World,
    api,
    counters,
    get,
    ids,
)

pytestmark = pytest.mark.integration


# ----------------------------------------------------------------------------------- lifecycle


def test_context_manager_serves_on_loopback_then_stops() -> None:
    with CloudTablesEmulator(api_key="secret-key") as ct:
        assert ct.running
        assert ct.host == "127.0.0.1"
        assert ct.port > 0
        assert ct.url == f"http://127.0.0.1:{ct.port}"
        assert ct.api_key == "secret-key"
        response = requests.get(f"{ct.url}/api/1/datasets", params={"key": "secret-key"}, timeout=5)
        assert response.json() == {"datasets": [], "success": True}
        url = ct.url
    assert not ct.running
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{url}/api/1/datasets", timeout=2)


def test_start_stop_restart_keeps_state_and_key() -> None:
    ct = CloudTablesEmulator()
    with pytest.raises(RuntimeError, match="no port"):
        _ = ct.url
    ct.start()
    try:
        with pytest.raises(RuntimeError, match="already running"):
            ct.start()
        dataset = ct.add_dataset("Kept", [("Name", "text")])
        key = ct.api_key
        ct.stop()
        ct.stop()  # a second stop does nothing
        ct.start()
        assert ct.api_key == key
        assert [entry["id"] for entry in get(ct, "/datasets").json()["datasets"]] == [dataset]
    finally:
        ct.stop()


def test_random_api_keys_differ() -> None:
    first, second = CloudTablesEmulator(), CloudTablesEmulator()
    assert len(first.api_key) == 24
    assert first.api_key != second.api_key


@pytest.mark.parametrize("host", ["0.0.0.0", "10.1.2.3", "::1", "example.com"])
def test_binds_loopback_ipv4_only(host: str) -> None:
    with pytest.raises(ValueError, match="loopback"):
        CloudTablesEmulator(host=host)


# ----------------------------------------------------------------------------------- paths and the key


@pytest.mark.parametrize("io", [False, True], ids=["hosted", "self-hosted"])
def test_both_path_forms_serve_the_api(ct: CloudTablesEmulator, world: World, io: bool) -> None:
    response = requests.get(
        api(ct, f"/dataset/{world.airports}", io=io), params={"key": ct.api_key}, timeout=5
    )
    assert ids(response) == [1, 2, 3]
    assert ct.requests_seen[-1].path == ("/io" if io else "") + f"/api/1/dataset/{world.airports}"


def test_hosted_form_ignores_the_subdomain_host_header(ct: CloudTablesEmulator, world: World) -> None:
    response = requests.get(
        api(ct, "/datasets"), params={"key": ct.api_key}, headers={"Host": "acme.cloudtables.io"}, timeout=5
    )
    assert response.status_code == 200
    assert ct.requests_seen[-1].headers["Host"] == "acme.cloudtables.io"


@pytest.mark.parametrize(
    ("method", "where"),
    [
        ("GET", "header"),
        ("GET", "query"),
        ("GET", "form"),
        ("GET", "json"),
        ("DELETE", "header"),
        ("DELETE", "query"),
        ("DELETE", "form"),
        ("POST", "form"),
        ("PUT", "query"),
    ],
)
def test_key_accepted_from_header_query_and_body(
    ct: CloudTablesEmulator, world: World, method: str, where: str
) -> None:
    path = {"GET": f"/dataset/{world.airports}/1", "DELETE": f"/dataset/{world.airports}/2"}.get(
        method, f"/dataset/{world.airports}" if method == "POST" else f"/dataset/{world.airports}/1"
    )
    kwargs: dict[str, Any] = {"timeout": 5}
    if where == "header":
        kwargs["headers"] = {"key": ct.api_key}
    elif where == "query":
        kwargs["params"] = {"key": ct.api_key}
    elif where == "form":
        kwargs["data"] = {"key": ct.api_key}
    else:
        kwargs["json"] = {"key": ct.api_key}
    response = requests.request(method, api(ct, path), **kwargs)
    assert response.status_code == 200, response.text
    assert "error" not in response.json()


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("GET", "/datasets", {"error": "Invalid API key"}),
        ("GET", "/dataset/{ds}", {"error": "Invalid API key"}),
        ("POST", "/access", {"errors": [{"msg": "Invalid API key", "name": "key"}]}),
        ("DELETE", "/dataset/{ds}/1", {"success": False, "error": "Invalid API key"}),
    ],
)
def test_wrong_key_is_401_in_the_endpoint_shape(
    ct: CloudTablesEmulator, world: World, method: str, path: str, expected: dict[str, Any]
) -> None:
    url = api(ct, path.format(ds=world.airports))
    response = requests.request(method, url, data={"key": "not-the-key"}, timeout=5)
    assert response.status_code == 401
    assert response.json() == expected
    assert len(ct.rows(world.airports)) == 3


def test_missing_key_is_401(ct: CloudTablesEmulator) -> None:
    response = requests.get(api(ct, "/datasets"), timeout=5)
    assert response.status_code == 401
    assert response.json() == {"error": "API key required"}


# ----------------------------------------------------------------------------------- rate limit


def test_rate_limit_answers_429_with_retry_after_per_key() -> None:
    with CloudTablesEmulator(rate_limit=3, rate_window=60) as ct:
        for _ in range(3):
            assert get(ct, "/datasets").status_code == 200
        limited = get(ct, "/datasets")
        assert limited.status_code == 429
        assert 1 <= int(limited.headers["Retry-After"]) <= 60
        assert limited.json() == {"error": "Rate limit exceeded: 3 requests per 60 seconds"}
        access = requests.post(api(ct, "/access"), data={"key": ct.api_key}, timeout=5)
        assert access.status_code == 429
        assert access.json()["errors"][0]["name"] == "key"
        other_key = requests.get(api(ct, "/datasets"), params={"key": "someone-else"}, timeout=5)
        assert other_key.status_code == 401  # another key has its own allowance


def test_rate_limit_slots_free_up_after_the_window() -> None:
    with CloudTablesEmulator(rate_limit=2, rate_window=0.3) as ct:
        assert [get(ct, "/datasets").status_code for _ in range(3)] == [200, 200, 429]
        time.sleep(0.35)
        assert get(ct, "/datasets").status_code == 200


def test_rate_limit_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="rate_limit"):
        CloudTablesEmulator(rate_limit=0)
    with pytest.raises(ValueError, match="rate_window"):
        CloudTablesEmulator(rate_window=0)


# ----------------------------------------------------------------------------------- fault knobs


def test_fail_next_fails_that_many_requests_then_recovers(ct: CloudTablesEmulator, world: World) -> None:
    ct.fail_next(2, 503, retry_after=7)
    assert ct.pending_failures == 2
    url = api(ct, f"/dataset/{world.airports}/1")
    first = requests.delete(url, params={"key": ct.api_key}, timeout=5)
    second = get(ct, "/datasets")
    assert (first.status_code, second.status_code) == (503, 503)
    assert first.headers["Retry-After"] == "7"
    assert first.json() == {"success": False, "error": "Emulated failure (HTTP 503)"}
    assert second.json() == {"error": "Emulated failure (HTTP 503)"}
    assert len(ct.rows(world.airports)) == 3  # the failed delete did nothing
    assert get(ct, "/datasets").status_code == 200
    assert ct.pending_failures == 0


def test_fail_next_with_custom_bodies(ct: CloudTablesEmulator) -> None:
    ct.fail_next(1, 502, body="<html>Bad Gateway</html>")
    ct.fail_next(1, 400, body={"error": "custom", "fieldErrors": []})
    html = get(ct, "/datasets")
    assert (html.status_code, html.text, html.headers["Content-Type"]) == (
        502,
        "<html>Bad Gateway</html>",
        "text/plain; charset=utf-8",
    )
    custom = get(ct, "/datasets")
    assert (custom.status_code, custom.json()) == (400, {"error": "custom", "fieldErrors": []})
    assert "Retry-After" not in custom.headers


def test_rate_limit_next_answers_429_in_the_endpoint_shape(ct: CloudTablesEmulator, world: World) -> None:
    ct.rate_limit_next(2, retry_after=5)
    access = requests.post(api(ct, "/access"), data={"key": ct.api_key}, timeout=5)
    delete = requests.delete(api(ct, f"/dataset/{world.airports}/1"), params={"key": ct.api_key}, timeout=5)
    assert (access.status_code, access.headers["Retry-After"]) == (429, "5")
    assert access.json() == {"errors": [{"msg": "Emulated failure (HTTP 429)", "name": "key"}]}
    assert (delete.status_code, delete.json()["success"]) == (429, False)
    assert len(ct.rows(world.airports)) == 3
    assert get(ct, "/datasets").status_code == 200


def test_clear_faults_drops_pending_failures(ct: CloudTablesEmulator) -> None:
    ct.fail_next(3, 503)
    ct.clear_faults()
    assert ct.pending_failures == 0
    assert get(ct, "/datasets").status_code == 200


def test_fail_next_spares_the_loader(ct: CloudTablesEmulator, world: World) -> None:
    ct.fail_next(1)
    assert requests.get(ct.loader_url(world.airports), timeout=5).status_code == 200
    assert get(ct, "/datasets").status_code == 500


def test_latency_delays_every_response(ct: CloudTablesEmulator) -> None:
    ct.latency = 0.2
    assert ct.latency == 0.2
    started = time.monotonic()
    assert get(ct, "/datasets").status_code == 200
    assert time.monotonic() - started >= 0.2
    ct.set_latency(0)
    assert ct.latency == 0
    with pytest.raises(ValueError, match="latency"):
        ct.set_latency(-1)


def test_requests_seen_records_recent_requests_bounded() -> None:
    with CloudTablesEmulator(request_log_size=3) as ct:
        requests.post(
            api(ct, "/access", io=True),
            params={"clientId": "u1"},
            data={"key": ct.api_key, "roles": ["a", "b"]},
            headers={"X-Test": "yes"},
            timeout=5,
        )
        seen = ct.requests_seen[-1]
        assert (seen.method, seen.path, seen.status) == ("POST", "/io/api/1/access", 200)
        assert seen.query == {"clientId": ["u1"]}
        assert seen.form == {"key": [ct.api_key], "roles": ["a", "b"]}
        assert seen.headers["X-Test"] == "yes"
        assert seen.json is None
        for _ in range(4):
            get(ct, "/datasets")
        assert [request.path for request in ct.requests_seen] == ["/api/1/datasets"] * 3
        ct.clear_requests_seen()
        assert ct.requests_seen == []


def test_reset_drops_state_but_keeps_the_key(ct: CloudTablesEmulator, world: World) -> None:
    key = ct.api_key
    requests.post(api(ct, "/access"), data={"key": key}, timeout=5)
    ct.fail_next(5)
    ct.latency = 0.01
    ct.reset()
    assert (ct.api_key, ct.tokens, ct.datasets(), ct.pending_failures, ct.latency) == (key, [], [], 0, 0)
    assert ct.requests_seen == []
    fresh = ct.add_dataset("Fresh", [("Name", "text")])
    assert ct.datapoint_id(fresh, "Name") == "dp-1"  # numbering starts again
    assert get(ct, "/datasets").json()["datasets"][0]["id"] == fresh


def test_reset_clears_rate_limit_history() -> None:
    with CloudTablesEmulator(rate_limit=1, rate_window=60) as ct:
        assert [get(ct, "/datasets").status_code for _ in range(2)] == [200, 429]
        ct.reset()
        assert get(ct, "/datasets").status_code == 200


# ----------------------------------------------------------------------------------- loader and routing


@pytest.mark.parametrize("style", LOADER_STYLES)
@pytest.mark.parametrize("io", [False, True], ids=["hosted", "self-hosted"])
def test_loader_serves_javascript(ct: CloudTablesEmulator, world: World, style: str, io: bool) -> None:
    response = requests.get(ct.loader_url(world.airports, style, self_hosted=io), timeout=5)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/javascript"
    assert json.dumps(world.airports) in response.text
    assert "data-token" in response.text


@pytest.mark.parametrize(("dataset", "style"), [("missing", "d"), (None, "bootstrap9")])
def test_loader_404s_unknown_dataset_or_style(
    ct: CloudTablesEmulator, world: World, dataset: str | None, style: str
) -> None:
    response = requests.get(ct.loader_url(dataset or world.airports, style), timeout=5)
    assert response.status_code == 404
    assert "error" in response.json()


def test_unknown_urls_and_methods(ct: CloudTablesEmulator, world: World) -> None:
    nowhere = requests.get(f"{ct.url}/api/2/datasets", timeout=5)
    assert (nowhere.status_code, "error" in nowhere.json()) == (404, True)
    unknown = get(ct, "/tables")
    assert unknown.status_code == 404
    wrong = requests.put(api(ct, "/datasets"), data={"key": ct.api_key}, timeout=5)
    assert (wrong.status_code, wrong.headers["Allow"]) == (405, "GET")
    patch = requests.patch(api(ct, f"/dataset/{world.airports}/1"), data={"key": ct.api_key}, timeout=5)
    assert (patch.status_code, patch.headers["Allow"]) == (405, "GET, PUT, DELETE")


def test_bad_bodies(ct: CloudTablesEmulator, world: World) -> None:
    url = api(ct, f"/dataset/{world.airports}")
    broken = requests.post(
        url, data="{", headers={"Content-Type": "application/json", "key": ct.api_key}, timeout=5
    )
    assert (broken.status_code, broken.json()) == (400, {"error": "The request body is not valid JSON"})
    listed = requests.post(url, json=[1], headers={"key": ct.api_key}, timeout=5)
    assert listed.status_code == 400
    other = requests.post(url, data=b"x", headers={"Content-Type": "text/csv", "key": ct.api_key}, timeout=5)
    assert other.status_code == 415


def test_chunked_form_body(ct: CloudTablesEmulator, world: World) -> None:
    def chunks() -> Iterator[bytes]:
        yield f"key={ct.api_key}&".encode()
        yield f"{world.name}=Chunked".encode()

    response = requests.post(
        api(ct, f"/dataset/{world.airports}"),
        data=chunks(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=5,
    )
    assert response.json()["data"]["dp-1"] == "Chunked"


def test_concurrent_inserts_get_unique_ids(ct: CloudTablesEmulator, world: World) -> None:
    results: list[int] = []
    lock = threading.Lock()

    def insert(worker: int) -> None:
        with requests.Session() as session:
            for n in range(10):
                data = {"key": ct.api_key, world.code: f"W{worker}-{n}"}
                row_id = session.post(api(ct, f"/dataset/{world.flights}"), data=data, timeout=10).json()[
                    "data"
                ]["id"]
                with lock:
                    results.append(row_id)

    threads = [threading.Thread(target=insert, args=(worker,)) for worker in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(results) == list(range(1, 61))
    assert counters(ct, world.flights)["insertCount"] == 60
