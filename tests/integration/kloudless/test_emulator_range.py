"""The Kloudless emulator's downloads honour one ``Range`` of bytes (206, ``Content-Range``), as HTTP defines it."""

from __future__ import annotations

import pytest
import requests

pytestmark = pytest.mark.integration

BODY = bytes(range(256)) * 4  # 1024 bytes


@pytest.fixture
def contents_url(kloudless_emulator, kloudless_account_id):
    made = kloudless_emulator.add_file(kloudless_account_id, "bytes.bin", BODY)
    return f"{kloudless_emulator.api_base}/accounts/me/storage/files/{made['id']}/contents"


def get(url: str, token: str, byte_range: str | None) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"}
    if byte_range is not None:
        headers["Range"] = byte_range
    return requests.get(url, headers=headers, timeout=10)


@pytest.mark.parametrize(
    ("byte_range", "first", "last"),
    [
        ("bytes=0-9", 0, 9),
        ("bytes=1000-", 1000, 1023),
        ("bytes=-24", 1000, 1023),
        ("bytes=1020-5000", 1020, 1023),
    ],
)
def test_one_range_is_answered_206_with_its_bytes(contents_url, kloudless_token, byte_range, first, last):
    response = get(contents_url, kloudless_token, byte_range)

    assert response.status_code == 206
    assert response.content == BODY[first : last + 1]
    assert response.headers["Content-Range"] == f"bytes {first}-{last}/{len(BODY)}"
    assert response.headers["Accept-Ranges"] == "bytes"


@pytest.mark.parametrize("byte_range", [None, "bytes=5-2", "bytes=0-1,5-6", "items=0-4", "bytes=x-"])
def test_no_range_or_one_it_does_not_serve_gets_the_whole_file(contents_url, kloudless_token, byte_range):
    response = get(contents_url, kloudless_token, byte_range)

    assert response.status_code == 200
    assert response.content == BODY
    assert "Content-Range" not in response.headers


def test_a_range_past_the_end_is_416_with_the_size(contents_url, kloudless_token):
    response = get(contents_url, kloudless_token, "bytes=1024-")

    assert response.status_code == 416
    assert response.headers["Content-Range"] == f"bytes */{len(BODY)}"
    assert response.json()["error_code"] == "requested_range_not_satisfiable"
