"""
Several Kloudless files at once against the emulator: the same files, names and order as one at a time; the
first failure stops new transfers and leaves no half file; uploads of a list, a folder or a glob.

Latency with jitter (the network-conditions proxy) makes transfers finish out of order; nothing here is timed.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ProtocolError

from airflow_provider_cloud.exceptions import ApiConnectionError, ConflictError
from airflow_provider_cloud.hooks.kloudless import KloudlessHook
from airflow_provider_cloud.operators.kloudless import (
    KloudlessDownloadFileOperator,
    KloudlessUploadFileOperator,
)
from airflow_provider_cloud.sensors.kloudless import KloudlessEventsSensor

pytestmark = pytest.mark.integration

WINDOW = 8
WAIT = 20  # seconds a held request waits before the test fails instead of hanging


@pytest.fixture
def connect(kloudless_emulator, kloudless_token, network_proxy, monkeypatch) -> Callable[..., str]:
    """Return ``connect(window, **proxy)``: a connection with that window through a proxy of its own."""

    def make(window: int, **conditions: Any) -> str:
        url = (
            network_proxy(kloudless_emulator.url, **conditions).url if conditions else kloudless_emulator.url
        )
        conn_id = f"kl_window_{window}"
        extra = {"auth_scheme": "Bearer", "account_id": "me", "window": window, "retry_backoff_max": 0.05}
        connection = {"conn_type": "kloudless", "host": url, "password": kloudless_token, "extra": extra}
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(connection))
        return conn_id

    return make


def sensor_batch(conn_id: str) -> dict[str, Any]:
    sensor = KloudlessEventsSensor(
        task_id="wait", conn_id=conn_id, start_from="oldest", max_events=1000, deferrable=False
    )
    try:
        done = sensor.poke({})
    finally:
        sensor.hook.close()
    assert done.is_done
    return done.xcom_value


def folder_contents(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


def relative(results: list[dict[str, Any]], folder: Path) -> list[dict[str, Any]]:
    """The results with each path relative to the destination folder, to compare two runs."""
    prefix = folder.as_uri() + "/"
    return [{**r, "path": r["path"].removeprefix(prefix)} for r in results]


# -- downloads ----------------------------------------------------------------------------------------


def test_downloads_in_a_window_give_the_files_names_and_order_of_one_at_a_time(
    kloudless_emulator, kloudless_account_id, connect, tmp_path
):
    kl, account = kloudless_emulator, kloudless_account_id
    folders = [kl.add_folder(account, f"f{n}")["id"] for n in range(6)]
    made = []
    for n in range(36):  # sizes from 1 byte to 300 KB, so that they finish out of order
        name = "data.csv" if n % 6 == 0 else f"part-{n:02d}.csv"  # six files named data.csv
        content = bytes([n]) * (1 + (n * 7919) % 300_000)
        made.append(kl.add_file(account, name, content, folders[n // 6] if name == "data.csv" else "root"))
    kl.produce_event(account, "rename", {**made[5], "name": "renamed.csv"})
    one_at_a_time, in_a_window = connect(1), connect(WINDOW, latency=0.002, jitter=0.02, seed=7)
    batch = sensor_batch(one_at_a_time)
    gone = [made[3], made[12], made[30]]  # deleted after the batch: skipped, whenever their turn comes
    hook = KloudlessHook(one_at_a_time)
    for meta in gone:
        hook.delete_file(meta["id"])
    hook.close()

    def run(conn_id: str, folder: Path) -> list[dict[str, Any]]:
        operator = KloudlessDownloadFileOperator(
            task_id="download", conn_id=conn_id, events=batch, name_pattern="*.csv", destination=f"{folder}/"
        )
        return relative(operator.execute(context={}), folder)  # type: ignore[arg-type]

    first, second = run(one_at_a_time, tmp_path / "w1"), run(in_a_window, tmp_path / "w8")

    assert second == first
    assert len(first) == 36 - len(gone)
    in_order = [m["id"] for m in made if m not in gone and m is not made[5]] + [made[5]["id"]]  # latest event
    assert [r["file_id"] for r in first] == in_order
    assert [r["path"] for r in first if r["name"] == "data.csv"][:2] == [
        "data.csv",
        f"data.{made[6]['id']}.csv",
    ]
    assert first[-1]["path"] == "renamed.csv"
    assert folder_contents(tmp_path / "w8") == folder_contents(tmp_path / "w1")  # no temporary left either
    for r in second:
        assert (tmp_path / "w8" / r["path"]).read_bytes() == kl.file_content(account, r["file_id"])


def open_on_failure(hook: KloudlessHook, method: str, gate: threading.Event) -> None:
    """Make ``hook.<method>`` open ``gate`` as its failure leaves it (just before the window learns of it)."""
    original = getattr(hook, method)

    def failing_opens(*args: Any, **kwargs: Any) -> Any:
        try:
            return original(*args, **kwargs)
        except Exception:
            gate.set()
            raise

    setattr(hook, method, failing_opens)


class HoldingAdapter(HTTPAdapter):
    """
    Holds the transfers after the victim in the list until ``gate`` opens (the victim failed): so those that
    start do so while the victim is in flight. ``position(request)`` tells a transfer's place, else ``None``.
    """

    def __init__(
        self, position: Callable[[requests.PreparedRequest], int | None], victim: int, window: int
    ) -> None:
        super().__init__(pool_maxsize=window, pool_block=True)
        self._position = position
        self._victim = victim
        self.gate = threading.Event()
        self.requested: list[int] = []

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        position = self._position(request)
        if position is not None:
            self.requested.append(position)
            if position > self._victim:
                assert self.gate.wait(WAIT)
        response = super().send(request, *args, **kwargs)
        if position == self._victim:
            self.after_victim(response)
        return response

    def after_victim(self, response: requests.Response) -> None:
        """What the victim's answer goes through: nothing here."""


class BreakingAdapter(HoldingAdapter):
    """Breaks the victim's download body after ``after`` bytes, every time it is asked for."""

    after = 64 * 1024

    def after_victim(self, response: requests.Response) -> None:
        response.raw = _BreaksOff(response.raw, self.after)


class _BreaksOff:
    """A body that yields ``after`` bytes and then breaks off, as a dropped connection does."""

    def __init__(self, raw: Any, after: int) -> None:
        self._raw = raw
        self._after = after

    def stream(self, amount: int, decode_content: bool = True) -> Any:
        yield self._raw.read(self._after)
        raise ProtocolError("Connection broken: IncompleteRead", ConnectionResetError(104, "reset"))

    def release_conn(self) -> None:
        self._raw.release_conn()

    def close(self) -> None:
        self._raw.close()


@pytest.mark.parametrize("window", [1, 4])
def test_a_download_failing_mid_way_leaves_no_half_file_and_stops_new_downloads(
    kloudless_emulator, kloudless_account_id, connect, tmp_path, window: int
):
    kl, account = kloudless_emulator, kloudless_account_id
    contents = [bytes([n]) * 200_000 for n in range(30)]
    ids = [kl.add_file(account, f"f{n:02d}.bin", content)["id"] for n, content in enumerate(contents)]
    victim = 6

    def position(request: requests.PreparedRequest) -> int | None:
        parts = unquote(urlsplit(request.url).path).split("/")
        return ids.index(parts[-2]) if parts[-1] == "contents" else None

    hook = KloudlessHook(connect(window), retry_limit=1)
    hook.ready()
    adapter = BreakingAdapter(position, victim, window)
    hook.session.mount("http://", adapter)
    open_on_failure(hook, "download_file", adapter.gate)
    try:
        with pytest.raises(ApiConnectionError, match="the download broke off after 65536 bytes"):
            hook.download_files([(file_id, tmp_path / f"f{n:02d}.bin") for n, file_id in enumerate(ids)])
    finally:
        hook.close()

    assert adapter.requested.count(victim) == 2  # broken, restarted once (retry_limit=1), broken again
    assert max(adapter.requested) <= victim + window - 1  # those in flight with it, none after
    left = sorted(path.name for path in tmp_path.iterdir())
    assert f"f{victim:02d}.bin" not in left
    assert all(not name.startswith(".") for name in left)  # no temporary sibling either
    for name in left:  # the others finished whole
        assert (tmp_path / name).read_bytes() == contents[int(name[1:3])]
    assert {f"f{n:02d}.bin" for n in range(victim)} <= set(left)


# -- uploads ------------------------------------------------------------------------------------------


def sources(folder: Path, count: int, prefix: str = "part") -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for n in range(count):
        path = folder / f"{prefix}-{n:02d}.csv"
        path.write_bytes(b"id\n" + b"%d\n" % n * (1 + (n * 7919) % 20_000))
        paths.append(path)
    return paths


def upload(conn_id: str, source: Any, context: dict[str, Any] | None = None, **kwargs: Any) -> Any:
    operator = KloudlessUploadFileOperator(task_id="upload", conn_id=conn_id, source=source, **kwargs)
    return operator.execute(context or {})  # type: ignore[arg-type]


def test_a_list_uploads_in_a_window_and_returns_a_list_in_its_order(
    kloudless_emulator, kloudless_account_id, connect, tmp_path
):
    kl, account = kloudless_emulator, kloudless_account_id
    paths = sources(tmp_path, 30)
    parent = kl.add_folder(account, "in")["id"]

    result = upload(
        connect(WINDOW, latency=0.002, jitter=0.02, seed=3), [str(p) for p in paths], parent_id=parent
    )

    assert [r["name"] for r in result] == [p.name for p in paths]
    assert [r["path"] for r in result] == [f"/in/{p.name}" for p in paths]
    assert [r["size"] for r in result] == [p.stat().st_size for p in paths]
    assert [kl.file_content(account, r["file_id"]) for r in result] == [p.read_bytes() for p in paths]
    added = [(e["type"], e["metadata"]["id"]) for e in kl.events(account) if e["metadata"]["type"] == "file"]
    assert sorted(added) == sorted(("add", r["file_id"]) for r in result)  # once each, in the order stored


def test_a_folder_or_a_glob_uploads_its_files_sorted_without_hidden_ones(
    kloudless_emulator, kloudless_account_id, connect, tmp_path
):
    paths = sources(tmp_path / "out", 5)
    (tmp_path / "out" / ".part-99.csv.0123456789abcdef.tmp").write_bytes(b"half")  # a writer at work
    (tmp_path / "out" / "sub").mkdir()
    (tmp_path / "out" / "sub" / "deep.csv").write_bytes(b"id\n")
    conn_id = connect(WINDOW)
    kl, account = kloudless_emulator, kloudless_account_id

    def into(name: str) -> str:
        return kl.add_folder(account, name)["id"]

    by_folder = upload(conn_id, f"{tmp_path}/out/", parent_id=into("a"))
    by_glob = upload(conn_id, f"{tmp_path}/out/part-0[1-3].csv", parent_id=into("b"))
    by_deep_glob = upload(conn_id, f"{tmp_path}/out/**/*.csv", parent_id=into("c"))
    by_text = upload(conn_id, json.dumps([str(paths[4]), str(paths[0])]), parent_id=into("d"))

    assert [r["name"] for r in by_folder] == [p.name for p in paths]
    assert [r["name"] for r in by_glob] == ["part-01.csv", "part-02.csv", "part-03.csv"]
    assert [r["name"] for r in by_deep_glob] == [*(p.name for p in paths), "deep.csv"]
    assert [r["name"] for r in by_text] == ["part-04.csv", "part-00.csv"]
    assert upload(conn_id, f"{tmp_path}/out/*.json") == []
    assert upload(conn_id, []) == []
    single = upload(conn_id, str(paths[2]), parent_id=into("e"), name="two.csv")
    assert single["name"] == "two.csv"  # one file: one dict, as before
    with pytest.raises(ValueError, match="name= names one file"):
        upload(conn_id, f"{tmp_path}/out/", name="x.csv")
    with pytest.raises(FileNotFoundError, match="no such folder"):
        upload(conn_id, f"{tmp_path}/nowhere/*.csv")


def test_two_sources_of_one_name_fail_before_anything_is_sent(kloudless_emulator, connect, tmp_path):
    first = sources(tmp_path / "a", 3)
    (tmp_path / "b").mkdir()
    other = tmp_path / "b" / "PART-01.csv"
    other.write_bytes(b"id\n")
    conn_id = connect(WINDOW)
    before = len(kloudless_emulator.requests_seen)

    with pytest.raises(ValueError, match=r"part-01.csv and .*PART-01.csv would be uploaded as 'PART-01.csv'"):
        upload(conn_id, [str(p) for p in first] + [str(other)])
    with pytest.raises(ValueError, match="is given twice"):
        upload(conn_id, [str(first[0]), str(first[0])])

    assert len(kloudless_emulator.requests_seen) == before


class TaskInstance:
    def __init__(self, try_number: int) -> None:
        self.try_number = try_number


class DagRun:
    def __init__(self, start_date: datetime) -> None:
        self.start_date = start_date


def test_a_retry_takes_the_files_its_earlier_try_uploaded_and_uploads_the_rest(
    kloudless_emulator, kloudless_account_id, connect, tmp_path
):
    kl, account = kloudless_emulator, kloudless_account_id
    paths = sources(tmp_path, 20)
    earlier = {n: kl.add_file(account, paths[n].name, paths[n].read_bytes()) for n in (0, 7, 8, 19)}
    context = {"ti": TaskInstance(2), "dag_run": DagRun(datetime.now(UTC) - timedelta(minutes=5))}

    result = upload(connect(WINDOW, latency=0.002, jitter=0.02, seed=5), [str(p) for p in paths], context)

    assert [r["name"] for r in result] == [p.name for p in paths]
    for n, meta in earlier.items():
        assert result[n]["file_id"] == meta["id"]
    assert [kl.file_content(account, r["file_id"]) for r in result] == [p.read_bytes() for p in paths]
    added = [e["metadata"]["name"] for e in kl.events(account) if e["type"] == "add"]
    assert sorted(added) == sorted(p.name for p in paths)  # nothing sent twice

    with pytest.raises(ConflictError):  # a first try never takes an existing file for its own
        upload(
            connect(WINDOW),
            [str(p) for p in paths[:3]],
            {"ti": TaskInstance(1), "dag_run": context["dag_run"]},
        )


@pytest.mark.parametrize("window", [1, 4])
def test_an_upload_failing_mid_way_stops_new_uploads(
    kloudless_emulator, kloudless_account_id, connect, tmp_path, window: int
):
    kl, account = kloudless_emulator, kloudless_account_id
    paths = sources(tmp_path, 30)
    victim = 5
    kl.add_file(account, paths[victim].name, b"somebody else's\n")  # there before: a 409
    names = [p.name for p in paths]

    def position(request: requests.PreparedRequest) -> int | None:
        metadata = request.headers.get("X-Kloudless-Metadata")
        return names.index(json.loads(metadata)["name"]) if request.method == "POST" and metadata else None

    hook = KloudlessHook(connect(window))
    hook.ready()
    adapter = HoldingAdapter(position, victim, window)
    hook.session.mount("http://", adapter)
    open_on_failure(hook, "upload_file", adapter.gate)
    try:
        with pytest.raises(ConflictError):
            hook.upload_files(paths)
    finally:
        hook.close()

    assert max(adapter.requested) <= victim + window - 1  # those in flight with it, none after
    stored = {e["metadata"]["name"] for e in kl.events(account) if e["type"] == "add"}
    assert {p.name for p in paths[:victim]} <= stored
    assert len(stored) <= victim + window
