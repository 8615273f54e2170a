"""
Kloudless file operators through the network-conditions proxy: several files at once against one at a time.

Uploads ``--files`` files of ``--size`` bytes with one ``KloudlessUploadFileOperator`` (a list of sources) and
downloads them again with one ``KloudlessDownloadFileOperator`` (by file id: a metadata request and a download
per file), against the Kloudless emulator, through ``NetworkConditionsProxy`` at 0, 20, 50 and 100 ms per
request: window 1 beside the hook's default window (or each window of ``--sweep``), in one run. Each line runs
its contenders ``--rounds`` times, rotating which goes first; rates are medians, and a speed-up is the median
over rounds of window 1's time ÷ that window's time.

The emulator and the proxy run in a child process (the service is remote: it must not take the client's
interpreter lock); the machine's cores are shared by both.
Usage: ``python benchmarks/kloudless_files.py [--files 100] [--size 102400] [--rounds 3] [--sweep 2,4,8,16]``.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import statistics
import sys
import tempfile
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "ERROR")  # a line per file would drown the figures

from _common import ChildService, header, paired_ratio, timed

LATENCIES = "0,20,50,100"


def serve(pipe: Connection) -> None:
    """The child: an emulator behind a proxy, answering ``(command, argument)`` messages until ``stop``."""
    from airflow_provider_cloud.testing.kloudless import KloudlessEmulator
    from airflow_provider_cloud.testing.proxy import NetworkConditionsProxy

    with KloudlessEmulator() as kl, NetworkConditionsProxy(kl.url) as proxy:
        account = kl.create_account(account="bench@example.com")
        pipe.send({"url": proxy.url, "token": kl.create_token(account)})
        while True:
            command, argument = pipe.recv()
            if command == "stop":
                return
            if command == "latency":
                proxy.latency = argument
                pipe.send(None)
            elif command == "folder":
                pipe.send(kl.add_folder(account, argument)["id"])


class Service(ChildService):
    """The child process, and a connection per window size through its proxy."""

    def __init__(self) -> None:
        super().__init__(serve)
        self.url, self.token = self.first["url"], self.first["token"]

    def conn_id(self, window: int) -> str:
        conn_id = f"kl_bench_w{window}"
        extra = {"auth_scheme": "Bearer", "account_id": "me", "window": window}
        connection = {"conn_type": "kloudless", "host": self.url, "password": self.token, "extra": extra}
        os.environ[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps(connection)
        return conn_id


class Bench:
    """The source files, and the two operators at a window size."""

    def __init__(self, service: Service, folder: Path, files: int, size: int) -> None:
        self.service = service
        self.folder = folder
        self.sources = []
        for n in range(files):
            path = folder / "in" / f"part-{n:03d}.bin"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(secrets.token_bytes(size))
            self.sources.append(str(path))
        self.file_ids: list[str] = []

    def upload(self, window: int) -> Callable[[int], object]:
        from airflow_provider_cloud.operators.kloudless import KloudlessUploadFileOperator

        conn_id = self.service.conn_id(window)

        def run(round_: int) -> object:
            parent = self.service.ask("folder", f"up-w{window}-r{round_}-{secrets.token_hex(3)}")
            operator = KloudlessUploadFileOperator(
                task_id="upload", conn_id=conn_id, source=self.sources, parent_id=parent
            )
            result = operator.execute(context={})  # type: ignore[arg-type]
            assert isinstance(result, list)
            assert len(result) == len(self.sources)
            self.file_ids = [r["file_id"] for r in result]
            return result

        return run

    def download(self, window: int) -> Callable[[int], object]:
        from airflow_provider_cloud.operators.kloudless import KloudlessDownloadFileOperator

        conn_id = self.service.conn_id(window)

        def run(round_: int) -> object:
            target = self.folder / f"out-w{window}-r{round_}"
            operator = KloudlessDownloadFileOperator(
                task_id="download", conn_id=conn_id, file_id=self.file_ids, destination=f"{target}/"
            )
            result = operator.execute(context={})  # type: ignore[arg-type]
            assert len(result) == len(self.file_ids)
            shutil.rmtree(target)
            return result

        return run


def side_by_side(label: str, rounds: int, files: int, contenders: list[Callable[[int], object]]) -> None:
    """Time each contender ``rounds`` times, rotating who goes first; print files/s and window 1's time ÷ each."""
    times: list[list[float]] = [[] for _ in contenders]
    for i in range(rounds):
        order = list(range(len(contenders)))
        for k in order[i % len(order) :] + order[: i % len(order)]:
            times[k].append(timed(lambda k=k, i=i: contenders[k](i)))
    rates = [files / statistics.median(t) for t in times]
    ratios = [paired_ratio(times[0], other) for other in times[1:]]
    print(f"{label:<44}" + "".join(f"{r:>16,.1f}" for r in rates) + "".join(f"{x:>15.2f}x" for x in ratios))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--files", type=int, default=100)
    parser.add_argument("--size", type=int, default=100 * 1024)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--latencies", default=LATENCIES, help="milliseconds per request, e.g. 0,20,50,100")
    parser.add_argument("--sweep", default="", help="windows to time beside window 1, e.g. 2,4,8,16")
    args = parser.parse_args()

    from airflow_provider_cloud.hooks.kloudless import KloudlessHook

    default = KloudlessHook.default_window
    windows = [int(w) for w in args.sweep.split(",") if w.strip()] or [default]
    folder = Path(tempfile.mkdtemp(prefix="kl-bench-"))
    service = Service()
    try:
        bench = Bench(service, folder, args.files, args.size)
        print(
            f"{args.files} files of {args.size:,} bytes; default window {default}; medians of {args.rounds}"
        )
        header("files/s", "window 1", *[f"window {w}" for w in windows], *[f"w{w} speed-up" for w in windows])
        for ms in (float(x) for x in args.latencies.split(",")):
            service.ask("latency", ms / 1000)
            for what in ("upload", "download"):
                make = bench.upload if what == "upload" else bench.download
                bench.upload(default)(0)  # files to download, and a warm server
                contenders = [make(1), *(make(w) for w in windows)]
                side_by_side(f"{what}, {ms:.0f} ms per request", args.rounds, args.files, contenders)
    finally:
        service.stop()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
