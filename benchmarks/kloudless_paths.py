"""
``kloudless://`` reads beside the hook's streamed download, through the network-conditions proxy.

One file of ``--size`` bytes in a folder three levels down. Each line reads it whole with
``KloudlessHook.download_file`` (one streamed request, into a local file) and through a fresh
``kloudless://`` filesystem (path resolved by listing its folders, then one ranged request per block) at
block sizes 1 MiB, 5 MiB (the default) and the whole file, at 0 and 50 ms per request. Contenders run
``--rounds`` times, rotating who goes first; rates are MB/s medians, ratios the median over rounds of that
reader's time ÷ the download's time (above 1: slower than the download).

The emulator and the proxy run in a child process (the service is remote: it must not take the client's
interpreter lock). Usage: ``python benchmarks/kloudless_paths.py [--size 33554432] [--rounds 3]``.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import tempfile
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "ERROR")

from _common import ChildService, compare, header

CONN_ID = "kl_bench_paths"
MIB = 1024 * 1024


def serve(pipe: Connection, size: int) -> None:
    """The child: an emulator behind a proxy, with the file; answers ``latency`` until ``stop``."""
    from airflow_provider_cloud.testing.kloudless import KloudlessEmulator
    from airflow_provider_cloud.testing.proxy import NetworkConditionsProxy

    with KloudlessEmulator() as kl, NetworkConditionsProxy(kl.url) as proxy:
        account = kl.create_account(account="bench@example.com")
        parent = "root"
        for name in ("a", "b", "c"):
            parent = kl.add_folder(account, name, parent)["id"]
        made = kl.add_file(account, "big.bin", secrets.token_bytes(size), parent)
        pipe.send({"url": proxy.url, "token": kl.create_token(account), "file_id": made["id"]})
        while True:
            command, argument = pipe.recv()
            if command == "stop":
                return
            proxy.latency = argument
            pipe.send(None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=32 * MIB)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    from airflow_provider_cloud.fs.kloudless import KloudlessFileSystem
    from airflow_provider_cloud.hooks.kloudless import KloudlessHook

    service = ChildService(serve, args.size)
    found = service.first
    connection = {"conn_type": "kloudless", "host": found["url"], "password": found["token"]}
    os.environ[f"AIRFLOW_CONN_{CONN_ID.upper()}"] = json.dumps(connection)
    megabytes = args.size / 1e6
    try:
        with tempfile.TemporaryDirectory(prefix="kl-paths-bench-") as folder:
            target = Path(folder) / "big.bin"

            def download(_: int) -> None:
                KloudlessHook(CONN_ID).download_file(found["file_id"], target)
                assert target.stat().st_size == args.size

            def reader(block: int) -> Any:
                def read(_: int) -> None:
                    fs = KloudlessFileSystem(CONN_ID, block_size=block)
                    with fs.open("me/a/b/c/big.bin", "rb") as handle:
                        total = 0
                        while chunk := handle.read(MIB):
                            total += len(chunk)
                    assert total == args.size

                return read

            blocks = [MIB, 5 * MIB, args.size]
            names = ["download", *(f"path {b // MIB} MiB" for b in blocks)]
            header("MB/s, then path time / download time", *names, *(f"{n} x" for n in names[1:]))
            for latency in (0, 50):
                service.ask("latency", latency / 1000)
                compare(
                    f"{megabytes:.0f} MB at {latency} ms",
                    args.rounds,
                    int(megabytes),
                    [download, *(reader(b) for b in blocks)],
                )
    finally:
        service.stop()


if __name__ == "__main__":
    main()
