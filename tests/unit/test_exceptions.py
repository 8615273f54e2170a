"""Unit tests of the error tree: classes, status mapping, messages, pickling."""

from __future__ import annotations

import pickle

import pytest
from airflow.sdk.exceptions import AirflowException

from airflow_provider_cloud.exceptions import (
    ApiConnectionError,
    ApiResponseError,
    ApiTimeoutError,
    AuthenticationError,
    BadRequestError,
    CloudApiError,
    ConflictError,
    CursorExpiredError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    RateLimitError,
    RowDataError,
    ServerError,
    TokenExpiredError,
    UnexpectedResponseError,
    UnsupportedConnectionError,
    error_class_for_status,
)


@pytest.mark.parametrize(
    ("child", "parent"),
    [
        (CloudApiError, AirflowException),
        (ApiConnectionError, CloudApiError),
        (ApiTimeoutError, ApiConnectionError),
        (ApiResponseError, CloudApiError),
        (BadRequestError, ApiResponseError),
        (CursorExpiredError, BadRequestError),
        (AuthenticationError, ApiResponseError),
        (TokenExpiredError, AuthenticationError),
        (PermissionDeniedError, ApiResponseError),
        (NotFoundError, ApiResponseError),
        (ConflictError, ApiResponseError),
        (PayloadTooLargeError, ApiResponseError),
        (RateLimitError, ApiResponseError),
        (ServerError, ApiResponseError),
        (UnexpectedResponseError, CloudApiError),
        (RowDataError, AirflowException),
        (RowDataError, ValueError),
        (UnsupportedConnectionError, AirflowException),
    ],
)
def test_the_tree(child, parent):
    assert issubclass(child, parent)


@pytest.mark.parametrize(
    ("status", "error_class"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (402, ApiResponseError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (409, ConflictError),
        (413, PayloadTooLargeError),
        (418, ApiResponseError),
        (422, BadRequestError),
        (429, RateLimitError),
        (500, ServerError),
        (502, ServerError),
        (503, ServerError),
        (504, ServerError),
        (599, ServerError),
    ],
)
def test_error_class_for_status(status, error_class):
    assert error_class_for_status(status) is error_class


@pytest.mark.parametrize(
    ("error_class", "retryable"),
    [
        (ApiConnectionError, True),
        (ApiTimeoutError, True),
        (RateLimitError, True),
        (BadRequestError, False),
        (ServerError, False),
        (UnexpectedResponseError, False),
        (CloudApiError, False),
    ],
)
def test_retryable_defaults_and_override(error_class, retryable):
    assert error_class("boom", service="s").retryable is retryable
    assert error_class("boom", service="s", retryable=not retryable).retryable is (not retryable)


def test_attributes_are_kept():
    error = NotFoundError(
        "GET /db/t.json failed: Table not found",
        service="datasette",
        status_code=404,
        errors=("Table not found",),
        request_id="r-9",
    )
    assert error.message == "GET /db/t.json failed: Table not found"
    assert error.service == "datasette"
    assert error.status_code == 404
    assert error.errors == ["Table not found"]
    assert error.request_id == "r-9"
    assert error.retry_after is None
    assert error.retryable is False


@pytest.mark.parametrize(
    ("kwargs", "text"),
    [
        pytest.param({}, "svc: upload failed", id="message-only"),
        pytest.param({"status_code": 500}, "svc: upload failed (HTTP 500)", id="status"),
        pytest.param(
            {"status_code": 400, "errors": ["a", "b"]}, "svc: upload failed (HTTP 400): a; b", id="errors"
        ),
        pytest.param({"errors": ["", "x"]}, "svc: upload failed: x", id="blank-error-skipped"),
        pytest.param({"errors": ["upload failed"]}, "svc: upload failed", id="error-equal-to-message"),
        pytest.param({"request_id": "abc"}, "svc: upload failed [request id abc]", id="request-id"),
    ],
)
def test_str_is_readable(kwargs, text):
    assert str(CloudApiError("upload failed", service="svc", **kwargs)) == text


def test_str_does_not_repeat_the_error_the_message_ends_with():
    error = BadRequestError(
        "POST /db/t/-/insert failed: Too many rows",
        service="datasette",
        status_code=400,
        errors=["Too many rows", "maximum allowed is 100"],
    )
    assert str(error) == (
        "datasette: POST /db/t/-/insert failed: Too many rows (HTTP 400): maximum allowed is 100"
    )


def test_str_keeps_a_short_error_that_happens_to_occur_in_the_path():
    error = BadRequestError(
        "GET /db/t.json failed: a", service="datasette", status_code=400, errors=["a", "b"]
    )
    assert str(error) == "datasette: GET /db/t.json failed: a (HTTP 400): b"


@pytest.mark.parametrize(
    "error",
    [
        pytest.param(
            CloudApiError("x", service="s", status_code=None, errors=["e"], request_id="r", retryable=True),
            id="base",
        ),
        pytest.param(ApiConnectionError("refused", service="s", errors=["[Errno 111]"]), id="connection"),
        pytest.param(ApiTimeoutError("slow", service="s", retryable=False), id="timeout"),
        pytest.param(
            BadRequestError("bad", service="s", status_code=422, errors=["a", "b"]), id="bad-request"
        ),
        pytest.param(CursorExpiredError("old cursor", service="kloudless", status_code=400), id="cursor"),
        pytest.param(TokenExpiredError("expired", service="s", status_code=401), id="token-expired"),
        pytest.param(
            RateLimitError("slow down", service="s", status_code=429, retry_after=7.5, request_id="q"),
            id="rate-limit",
        ),
        pytest.param(
            ServerError("down", service="s", status_code=503, retry_after=2.0, retryable=True), id="5xx"
        ),
        pytest.param(UnexpectedResponseError("not JSON", service="s", status_code=200), id="unexpected"),
    ],
)
def test_pickle_round_trip_keeps_type_and_attributes(error):
    clone = pickle.loads(pickle.dumps(error))
    assert type(clone) is type(error)
    assert str(clone) == str(error)
    assert vars(clone) == vars(error)
    assert clone.args == error.args


def test_pickle_keeps_retry_after():
    clone = pickle.loads(pickle.dumps(RateLimitError("slow", service="s", status_code=429, retry_after=7.0)))
    assert clone.retry_after == 7.0
    assert clone.retryable is True


@pytest.mark.parametrize(
    ("kwargs", "text"),
    [
        pytest.param({}, "missing key", id="reason-only"),
        pytest.param({"source": "rows.csv"}, "rows.csv: missing key", id="source"),
        pytest.param({"source": "rows.csv", "line": 12}, "rows.csv, line 12: missing key", id="source-line"),
        pytest.param(
            {"source": "s3://bucket/rows.csv", "line": 12, "column": "id"},
            "s3://bucket/rows.csv, line 12, column 'id': missing key",
            id="source-line-column",
        ),
        pytest.param(
            {"source": "rows", "column": "id"}, "rows, column 'id': missing key", id="source-column"
        ),
        pytest.param({"line": 3, "column": "age"}, "line 3, column 'age': missing key", id="line-column"),
        pytest.param({"line": 0}, "line 0: missing key", id="line-zero"),
        pytest.param({"column": "a b"}, "column 'a b': missing key", id="column-only"),
    ],
)
def test_row_data_error_message(kwargs, text):
    error = RowDataError("missing key", **kwargs)
    assert str(error) == text
    assert error.reason == "missing key"


def test_row_data_error_pickle_round_trip():
    error = RowDataError("not an integer: 'x'", source="in.jsonl", line=7, column="age")
    clone = pickle.loads(pickle.dumps(error))
    assert type(clone) is RowDataError
    assert (clone.reason, clone.source, clone.line, clone.column) == (
        "not an integer: 'x'",
        "in.jsonl",
        7,
        "age",
    )
    assert str(clone) == "in.jsonl, line 7, column 'age': not an integer: 'x'"


def test_row_data_error_is_caught_as_value_error():
    with pytest.raises(ValueError, match="line 2"):
        raise RowDataError("bad", source="f.csv", line=2)
