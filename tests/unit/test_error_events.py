"""Error events: a failure on the triggerer, carried as a secret-free payload, raised again on the worker."""

from __future__ import annotations

import json

import pytest
from airflow.sdk.exceptions import AirflowException

from airflow_provider_cloud.exceptions import (
    ApiTimeoutError,
    AuthenticationError,
    CloudApiError,
    CursorExpiredError,
    RateLimitError,
    UnexpectedResponseError,
    error_event,
    error_from_event,
)

SECRET = "s3cret-token-value"


def scrub(text: str) -> str:
    return text.replace(SECRET, "***")


@pytest.mark.parametrize(
    "error",
    [
        pytest.param(
            AuthenticationError(
                "GET /v1/accounts/me failed",
                service="Kloudless",
                status_code=401,
                errors=["invalid_token: bad"],
                request_id="r-1",
            ),
            id="auth",
        ),
        pytest.param(CursorExpiredError("old cursor", service="Kloudless", status_code=400), id="cursor"),
        pytest.param(RateLimitError("slow down", service="Kloudless", status_code=429), id="rate"),
        pytest.param(ApiTimeoutError("GET /v1/x: timed out", service="Kloudless"), id="timeout"),
        pytest.param(UnexpectedResponseError("GET events: no cursor", service="Kloudless"), id="unexpected"),
    ],
)
def test_the_same_error_comes_back(error: CloudApiError):
    event = json.loads(json.dumps(error_event(error)))  # it crosses as JSON
    rebuilt = error_from_event(event)
    assert type(rebuilt) is type(error)
    assert isinstance(rebuilt, CloudApiError)
    assert (rebuilt.service, rebuilt.status_code, rebuilt.errors, rebuilt.request_id) == (
        error.service,
        error.status_code,
        error.errors,
        error.request_id,
    )
    assert str(rebuilt) == event["message"] == str(error)


def test_the_event_shape():
    error = AuthenticationError(
        "GET /v1/accounts/me failed", service="Kloudless", status_code=401, errors=["e1"], request_id="r-1"
    )
    assert error_event(error) == {
        "status": "error",
        "message": str(error),
        "error_type": "AuthenticationError",
        "service": "Kloudless",
        "status_code": 401,
        "detail": "GET /v1/accounts/me failed",
        "errors": ["e1"],
        "request_id": "r-1",
    }
    assert error_event(ValueError("bad value")) == {
        "status": "error",
        "message": "bad value",
        "error_type": "ValueError",
    }
    assert error_event(ValueError())["message"] == "ValueError"


def test_secrets_are_scrubbed_from_every_text():
    error = AuthenticationError(f"token {SECRET} refused", service="Kloudless", errors=[f"bad {SECRET}"])
    event = error_event(error, scrub)
    assert SECRET not in json.dumps(event)
    assert event["detail"] == "token *** refused"
    assert event["errors"] == ["bad ***"]
    assert SECRET not in json.dumps(error_event(ValueError(f"no {SECRET}"), scrub))
    assert SECRET in json.dumps(error_event(ValueError(f"no {SECRET}")))  # nothing to scrub with


@pytest.mark.parametrize(
    "event",
    [
        pytest.param({"status": "error", "message": "boom", "error_type": "ValueError"}, id="not-ours"),
        pytest.param(
            {"status": "error", "message": "boom", "error_type": "AuthenticationError"}, id="no-detail"
        ),
        pytest.param({"status": "error", "message": "boom", "error_type": "AirflowException"}, id="not-api"),
        pytest.param({"status": "error", "message": "boom", "error_type": "error_event"}, id="not-a-class"),
    ],
)
def test_other_events_become_an_airflow_exception(event):
    rebuilt = error_from_event(event)
    assert type(rebuilt) is AirflowException
    assert str(rebuilt) == "boom"


def test_what_the_event_leaves_out_is_filled_in():
    assert str(error_from_event({"status": "error"}, message="the trigger broke")) == "the trigger broke"
    rebuilt = error_from_event(
        {"error_type": "ServerError", "detail": "failed", "status_code": "500", "errors": "x"}, service="kl"
    )
    assert isinstance(rebuilt, CloudApiError)
    assert (rebuilt.service, rebuilt.status_code, rebuilt.errors, rebuilt.request_id) == (
        "kl",
        None,
        [],
        None,
    )
