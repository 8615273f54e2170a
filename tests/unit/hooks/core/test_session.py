"""HTTP core: one keep-alive session per hook, headers, timeouts, TLS and proxies (fake transport)."""

from __future__ import annotations

import pytest

from airflow_provider_cloud import __version__
from airflow_provider_cloud.hooks.core import Timeouts
from tests.fake_transport import FakeTransport
from tests.unit.hooks.core.core_support import CONN_ID, HOST, TOKEN, ExampleHook, ok, set_connection

# -- session, headers, timeouts, TLS -------------------------------------------------------------


def test_one_session_per_hook_reused_across_calls(make_hook):
    hook, fake = make_hook(ok(), ok())
    session = hook.get_conn()
    hook.request_json("GET", "/a.json")
    hook.request_json("GET", "/b.json")
    assert hook.session is session
    assert hook.get_conn() is session
    assert len(fake.sent) == 2
    other, _ = make_hook()
    assert other.session is not session


def test_close_closes_the_session_and_a_new_one_is_built_after(make_hook):
    hook, fake = make_hook()
    session = hook.session
    hook.close()
    assert fake.closed
    assert hook.session is not session
    hook.close()
    hook.close()  # closing twice is harmless


def test_context_manager_closes_the_session(make_hook):
    hook, fake = make_hook(ok())
    with hook as entered:
        assert entered is hook
        hook.request_json("GET", "/x")
    assert fake.closed


def test_requests_carry_user_agent_auth_and_accept_headers(make_hook):
    hook, fake = make_hook(ok())
    assert hook.request_json("POST", "/db/t/-/insert", json_body={"rows": [{"id": 1}]}) == {"ok": True}
    sent = fake.sent[0]
    assert sent.headers["User-Agent"].startswith(f"airflow-provider-cloud/{__version__} ")
    assert sent.headers["Authorization"] == f"Bearer {TOKEN}"
    assert sent.headers["Accept"] == "application/json"
    assert sent.method == "POST"
    assert sent.url == f"{HOST}/db/t/-/insert"
    assert sent.json() == {"rows": [{"id": 1}]}


def test_paths_are_joined_to_the_base_url_and_absolute_urls_kept(make_hook, monkeypatch):
    set_connection(monkeypatch, host="https://api.example.test/base/")
    hook, fake = make_hook(ok(), ok())
    hook.request("GET", "db.json", params={"_size": 5})
    hook.request("GET", "https://other.example.test/next?_next=abc")
    assert fake.sent[0].url == "https://api.example.test/base/db.json?_size=5"
    assert fake.sent[1].url == "https://other.example.test/next?_next=abc"


@pytest.mark.parametrize(
    ("extra", "hook_timeout", "expected"),
    [
        pytest.param(None, None, (10.0, 60.0), id="defaults"),
        pytest.param({"timeout": 5}, None, (10.0, 5.0), id="extra-read"),
        pytest.param({"timeout": "7", "connect_timeout": "3"}, None, (3.0, 7.0), id="extra-strings"),
        pytest.param({"extra__http__timeout": 9}, None, (10.0, 9.0), id="legacy-extra-prefix"),
        pytest.param({"timeout": 5, "connect_timeout": 3}, 2.5, (3.0, 2.5), id="hook-read-wins"),
        pytest.param({"timeout": 5}, (1, 2), (1.0, 2.0), id="hook-pair-wins"),
    ],
)
def test_timeouts_reach_the_adapter(make_hook, monkeypatch, extra, hook_timeout, expected):
    set_connection(monkeypatch, extra=extra)
    hook, fake = make_hook(ok(), timeout=hook_timeout)
    hook.request("GET", "/x")
    assert fake.sent[0].timeout == expected
    assert hook.timeouts == Timeouts(*expected)


def test_a_per_request_timeout_wins(make_hook):
    hook, fake = make_hook(ok())
    hook.request("GET", "/x", timeout=Timeouts(connect=1, read=300))
    assert fake.sent[0].timeout == (1, 300)


def test_a_non_numeric_timeout_extra_is_a_clear_error(make_hook, monkeypatch):
    set_connection(monkeypatch, extra={"timeout": "soon"})
    hook, _ = make_hook()
    with pytest.raises(ValueError, match="extra 'timeout' must be a number, got 'soon'"):
        _ = hook.timeouts


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        pytest.param(None, True, id="default-on"),
        pytest.param({"verify": False}, False, id="json-bool-false"),
        pytest.param({"verify": "false"}, False, id="uri-string-false"),
        pytest.param({"verify": "False"}, False, id="uri-string-False"),
        pytest.param({"verify": "true"}, True, id="uri-string-true"),
        pytest.param({"verify_ssl": False}, False, id="verify_ssl-alias"),
        pytest.param({"verify": "/etc/ssl/corp-ca.pem"}, "/etc/ssl/corp-ca.pem", id="ca-bundle-path"),
        pytest.param({"verify": None}, True, id="form-null"),
        pytest.param({"verify": True, "ca_bundle": None}, True, id="untouched-form"),
        pytest.param(
            {"verify": True, "ca_bundle": "/etc/ssl/corp-ca.pem"}, "/etc/ssl/corp-ca.pem", id="ca_bundle"
        ),
        pytest.param({"ca_bundle": " /etc/ssl/corp-ca.pem "}, "/etc/ssl/corp-ca.pem", id="ca_bundle-alone"),
        pytest.param(
            {"verify": "/etc/ssl/corp-ca.pem", "ca_bundle": ""}, "/etc/ssl/corp-ca.pem", id="old-path"
        ),
        pytest.param(
            {"verify": "/etc/ssl/corp-ca.pem", "ca_bundle": "/etc/ssl/corp-ca.pem"},
            "/etc/ssl/corp-ca.pem",
            id="path-in-both",
        ),
    ],
)
def test_tls_verification_reaches_the_adapter(make_hook, monkeypatch, extra, expected):
    set_connection(monkeypatch, extra=extra)
    hook, fake = make_hook(ok())
    hook.request("GET", "/x")
    assert fake.sent[0].verify == expected


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        pytest.param({"verify": False}, False, id="off"),
        pytest.param({"verify": "/etc/ssl/corp-ca.pem"}, "/etc/ssl/corp-ca.pem", id="ca-path"),
    ],
)
def test_connection_tls_setting_wins_over_requests_ca_bundle_env(make_hook, monkeypatch, extra, expected):
    # requests replaces a *session's* verify with REQUESTS_CA_BUNDLE unless verify is given per request.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/env-bundle.pem")
    set_connection(monkeypatch, extra=extra)
    hook, fake = make_hook(ok())
    hook.request("GET", "/x")
    assert fake.sent[0].verify == expected


def test_default_verification_still_uses_the_requests_ca_bundle_env(make_hook, monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/env-bundle.pem")
    hook, fake = make_hook(ok())
    hook.request("GET", "/x")
    assert fake.sent[0].verify == "/etc/ssl/env-bundle.pem"


def test_proxies_from_the_environment_are_used(make_hook, monkeypatch):
    for name in ("NO_PROXY", "no_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.corp.test:3128")
    hook, fake = make_hook(ok())
    hook.request("GET", "/x")
    assert fake.sent[0].proxies.get("https") == "http://proxy.corp.test:3128"


def test_no_proxy_hosts_bypass_the_proxy(make_hook, monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.corp.test:3128")
    monkeypatch.setenv("NO_PROXY", "api.example.test")
    hook, fake = make_hook(ok())
    hook.request("GET", "/x")
    assert "https" not in fake.sent[0].proxies


def test_the_environment_is_read_once_per_host_not_per_request(make_hook, monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/first.pem")
    hook, fake = make_hook(ok(), ok(), ok())
    hook.request("GET", "/x")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/second.pem")
    hook.request("GET", "/y")
    hook.request("GET", "https://other.example.test/z")
    assert [sent.verify for sent in fake.sent] == [
        "/etc/ssl/first.pem",
        "/etc/ssl/first.pem",
        "/etc/ssl/second.pem",
    ]
    assert hook.session.trust_env is False  # requests itself would scan os.environ on every request


def test_tls_verification_from_a_uri_connection(make_hook, monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_TEST_API", f"http://:{TOKEN}@api.example.test:8443/https?verify=false&timeout=7"
    )
    hook, fake = make_hook(ok())
    hook.request("GET", "/x")
    assert fake.sent[0].url == "https://api.example.test:8443/x"
    assert fake.sent[0].verify is False
    assert fake.sent[0].timeout == (10.0, 7.0)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        pytest.param(
            {"verify": False, "ca_bundle": "/etc/ssl/corp-ca.pem"},
            "'ca_bundle' is set but 'verify' is off",
            id="off",
        ),
        pytest.param({"verify": "/a.pem", "ca_bundle": "/b.pem"}, "name two CA bundles", id="two-bundles"),
        pytest.param({"ca_bundle": True}, "'ca_bundle' must be a file path", id="not-a-path"),
    ],
)
def test_a_ca_bundle_that_contradicts_verify_is_a_clear_error(make_hook, monkeypatch, extra, message):
    set_connection(monkeypatch, extra=extra)
    with pytest.raises(ValueError, match=f"Connection 'test_api': .*{message}"):
        make_hook(ok())[0].request("GET", "/x")


def test_an_unreadable_verify_extra_is_a_clear_error(make_hook, monkeypatch):
    set_connection(monkeypatch, extra={"verify": 2})
    with pytest.raises(ValueError, match="extra 'verify' must be true, false or a path"):
        make_hook()


@pytest.mark.asyncio
async def test_async_create_resolves_the_connection_for_triggers(monkeypatch):
    set_connection(monkeypatch, extra={"timeout": 3})
    hook = await ExampleHook.async_create(CONN_ID, retry_limit=1)
    fake = FakeTransport(ok()).mount(hook.session)
    assert hook.request_json("GET", "/x") == {"ok": True}
    assert fake.sent[0].timeout == (10.0, 3.0)
    assert fake.sent[0].headers["Authorization"] == f"Bearer {TOKEN}"
    assert hook.retry_policy.limit == 1
    assert hook.scrub(TOKEN) == "***"
    hook.close()
