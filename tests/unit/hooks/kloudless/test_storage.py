"""Kloudless storage helpers without a network: item paths, streamed bodies, restarts, upload checks."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from airflow_provider_cloud.exceptions import ApiConnectionError, ApiTimeoutError, UnexpectedResponseError
from airflow_provider_cloud.hooks.core import RetryPolicy
from airflow_provider_cloud.hooks.kloudless import storage
from airflow_provider_cloud.rows.paths import as_storage_path

SECRET = "tok-123456"


def scrub(text: str) -> str:
    return text.replace(SECRET, "***")


class Body:
    """A streamed response: ``chunks`` and then, if given, an error instead of the rest."""

    def __init__(self, *chunks: bytes, error: Exception | None = None) -> None:
        self.chunks = chunks
        self.error = error
        self.closed = False

    def iter_content(self, size: int) -> Iterator[bytes]:
        yield from self.chunks
        if self.error is not None:
            raise self.error

    def close(self) -> None:
        self.closed = True


def test_item_paths_are_quoted_and_required():
    assert storage.item_path("file", "a/b c") == "storage/files/a%2Fb%20c"
    with pytest.raises(ValueError, match="a folder id is required"):
        storage.item_path("folder", " ")


class Whole(Body):
    """A 200 answer to a ranged request: the server ignored ``Range`` and sends the whole body."""

    status_code = 200


@pytest.mark.parametrize(("start", "end"), [(0, 10), (2, 5), (3, 9), (6, 7), (8, 20), (12, 14)])
def test_a_range_ignored_by_the_server_is_cut_from_the_whole_body(start, end):
    whole = b"abcdefghij"
    body = Whole(b"abc", b"def", b"ghij")

    assert storage.ranged_body(body, start, end) == whole[start:end]  # type: ignore[arg-type]


def test_a_partial_answer_is_taken_as_it_is():
    response = requests.Response()
    response.status_code = 206
    response._content = b"def"

    assert storage.ranged_body(response, 3, 6) == b"def"


@pytest.mark.parametrize("name", ["", " ", ".", "..", "a/b"])
def test_a_name_that_is_no_name_is_refused(name):
    with pytest.raises(ValueError, match="is not a file or folder name"):
        storage.check_name(name)


def test_a_rewindable_body_starts_over_on_every_iteration():
    body = storage.RewindableBody(io.BytesIO(b"abcdefg"), chunk_size=3)
    assert len(body) == 7
    assert list(body) == [b"abc", b"def", b"g"]
    assert b"".join(body) == b"abcdefg"


@pytest.mark.parametrize(
    ("error", "cls", "message"),
    [
        pytest.param(
            requests.ReadTimeout(f"read {SECRET}"), ApiTimeoutError, "the download stalled", id="stall"
        ),
        pytest.param(
            requests.ConnectionError(f"reset {SECRET}"),
            ApiConnectionError,
            "broke off after 3 bytes",
            id="reset",
        ),
        pytest.param(
            requests.exceptions.ChunkedEncodingError("short"),
            ApiConnectionError,
            "broke off after 3",
            id="short",
        ),
    ],
)
def test_a_broken_body_is_a_retryable_error_and_leaves_no_file(tmp_path, error, cls, message):
    target = as_storage_path(tmp_path / "out.bin")
    with pytest.raises(cls, match=message) as info:
        storage.write_body(Body(b"abc", error=error), target, where="storage/files/F/contents", scrub=scrub)  # type: ignore[arg-type]
    assert type(info.value) is cls
    assert info.value.retryable is True
    assert SECRET not in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_download_restarts_up_to_the_retry_limit(tmp_path):
    bodies = [Body(b"x", error=requests.ConnectionError("cut")) for _ in range(2)] + [Body(b"all", b"ok")]
    opened: list[Body] = []
    waits: list[float] = []
    warnings: list[tuple[Any, ...]] = []

    def open_body() -> Any:
        opened.append(bodies[len(opened)])
        return opened[-1]

    target = as_storage_path(tmp_path / "f.bin")
    policy = RetryPolicy(limit=2)
    size = storage.download(
        open_body,
        target,
        where="p",
        policy=policy,
        sleep=waits.append,
        warn=lambda *args: warnings.append(args),
        scrub=scrub,
    )
    assert size == 5
    assert (tmp_path / "f.bin").read_bytes() == b"allok"
    assert all(body.closed for body in opened)
    assert len(waits) == len(warnings) == 2
    bodies[:] = [Body(error=requests.ConnectionError("cut")) for _ in range(3)]
    opened.clear()
    with pytest.raises(ApiConnectionError):
        storage.download(
            open_body, target, where="p", policy=policy, sleep=waits.append, warn=lambda *a: None, scrub=scrub
        )
    assert len(opened) == 3
    assert (tmp_path / "f.bin").read_bytes() == b"allok"  # the earlier download is untouched


def test_upload_names_checks_and_answers(tmp_path):
    source = tmp_path / "data.csv.gz"
    source.write_bytes(b"\x1f\x8bxyz")
    sent: list[dict[str, Any]] = []

    def send(*, data: storage.RewindableBody, headers: dict[str, str]) -> Any:
        sent.append({"body": b"".join(data), "headers": headers})
        return {"id": "F1"}

    done = storage.upload(send, str(source), parent_id="root", name=None)
    assert (done.metadata, done.size, done.source.name) == ({"id": "F1"}, 5, "data.csv.gz")
    assert sent[0]["body"] == b"\x1f\x8bxyz"  # sent as it is
    assert sent[0]["headers"]["X-Kloudless-Metadata"] == '{"parent_id": "root", "name": "data.csv.gz"}'
    with pytest.raises(IsADirectoryError):
        storage.upload(send, str(tmp_path), parent_id="root", name="x")
    with pytest.raises(UnexpectedResponseError, match="not file metadata"):
        storage.upload(lambda **kwargs: {"name": "no id"}, str(source), parent_id="root", name=None)
