"""
CloudTables: 2,000 rows through the network-conditions proxy under a rate limit, beside what the limit allows.

Each run writes the rows (``CloudTablesHook.write_rows``, upsert by key, into a fresh data set of the
emulator) through the proxy at a given latency, with the window open (the hook's default) and with one row
in flight, and prints its time beside the **pacing bound**: the earliest the run's last request can be
answered under the limit alone. A sliding window of ``limit`` requests per ``rate_window`` seconds lets the
requests of a run (the rows, plus the schema and the read before the first write: 2,002 for 2,000 rows) go
in bursts of ``limit``, one a window, so the last burst starts ``(ceil(requests / limit) - 1) × window``
seconds in, and its answer comes one round trip later. The target (issue 14): within 5 % of it.

The scale: the service allows 500 requests per 900 s, so a faithful run lasts an hour. Here the rate window is
shortened (``--rate-window``, default 9 s: 100 times faster) and the limit kept, so a run has the same
requests per window and the same number of windows. What does not shrink is the time a request takes, so
every cost that is not pacing (round trips, a burst of 500 requests going out a window at a time) weighs
100 times more against the window than it would at 900 s: the scaled run at 50 ms per request is as hard as
the real one at 5 s. It is the stricter test; the real limit at 50 ms is nearer to the scaled run at 0 ms.

The emulator and the proxy run in a child process (``--serve``), so the hook's threads do not share their
interpreter lock. Usage::

    python benchmarks/cloudtables_pacing.py [--rows 2000] [--limit 500] [--rate-window 9]
        [--latencies 0,20,50,100] [--windows open,1]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: F401  (the environment: AIRFLOW_HOME, the repository on sys.path)

os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")  # no progress or pacing lines

COLUMNS = [("code", "text"), ("station", "text"), ("value", "number"), ("ok", "boolean")]
CONN_ID = "cloudtables_pacing"
REAL_WINDOW = 900.0


# -- the child: emulator and proxy ------------------------------------------------------------------


def serve(limit: int, window: float) -> None:
    """Run the emulator and the proxy; answer one JSON command a line on stdin with one JSON line."""
    from airflow_provider_cloud.testing.cloudtables import CloudTablesEmulator
    from airflow_provider_cloud.testing.proxy import NetworkConditionsProxy

    with (
        CloudTablesEmulator(rate_limit=limit, rate_window=window, request_log_size=20_000) as ct,
        NetworkConditionsProxy(ct.url) as proxy,
    ):
        print(json.dumps({"url": proxy.url, "key": ct.api_key}), flush=True)
        datasets = 0
        for line in sys.stdin:
            command = json.loads(line)
            if command["do"] == "fresh":  # a new data set, an empty rate window, counters at zero
                ct.reset()
                proxy.latency = command["latency"]
                proxy.reset_counts()
                datasets += 1
                answer: dict[str, Any] = {"dataset": ct.add_dataset(f"Readings {datasets}", COLUMNS)}
            elif command["do"] == "stats":
                code = ct.datapoint_id(command["dataset"], "code")
                rows = ct.rows(command["dataset"])
                statuses = [entry.status for entry in ct.requests_seen]
                answer = {
                    "seen": proxy.counts.seen,
                    "rows": len(rows),
                    "keys": len({row[code] for row in rows}),
                    "refused": statuses.count(429),
                }
            else:
                break
            print(json.dumps(answer), flush=True)


class Server:
    """The child process, spoken to a line at a time."""

    def __init__(self, limit: int, window: float) -> None:
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(limit), str(window)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.info = self._read()

    def _read(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("the emulator's process ended")
        return dict(json.loads(line))

    def ask(self, **command: Any) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        return self._read()

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait(timeout=30)


# -- the runs -------------------------------------------------------------------------------------------


def source_rows(count: int) -> list[dict[str, Any]]:
    return [
        {"code": f"R{n:05d}", "station": f"Station {n % 7}", "value": n * 1.5, "ok": n % 3 != 0}
        for n in range(count)
    ]


def pacing_bound(requests: int, limit: int, window: float, latency: float) -> float:
    """The earliest the last of ``requests`` can be answered under ``limit`` per ``window`` seconds."""
    return (math.ceil(requests / limit) - 1) * window + latency


def run(server: Server, args: argparse.Namespace, latency: float, window: int | None) -> dict[str, Any]:
    from airflow_provider_cloud.hooks.cloudtables import CloudTablesHook

    dataset = server.ask(do="fresh", latency=latency)["dataset"]
    extra = {"rate_limit": args.limit, "rate_window": args.rate_window, "clientId": "bench"}
    connection = {"conn_type": "cloudtables", "host": server.info["url"], "password": server.info["key"]}
    os.environ[f"AIRFLOW_CONN_{CONN_ID.upper()}"] = json.dumps({**connection, "extra": extra})
    rows = source_rows(args.rows)
    with CloudTablesHook(CONN_ID, window=window, progress_every=3600) as hook:
        hook.get_conn()  # the connection looked up and the session made before the clock starts
        started = time.perf_counter()
        result = hook.write_rows(dataset, rows, key="code")
        seconds = time.perf_counter() - started
        in_flight = hook.window
        retries = hook.counts.retries
    stats = server.ask(do="stats", dataset=dataset)
    if result.inserted != args.rows or stats["rows"] != args.rows or stats["keys"] != args.rows:
        raise RuntimeError(f"the run did not end with {args.rows} rows: {result.as_dict()}, {stats}")
    bound = pacing_bound(stats["seen"], args.limit, args.rate_window, latency)
    return {"seconds": seconds, "bound": bound, "window": in_flight, "retries": retries, **stats}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=2_000)
    parser.add_argument("--limit", type=int, default=500)
    parser.add_argument("--rate-window", type=float, default=9.0)
    parser.add_argument("--latencies", default="0,20,50,100", help="ms per request, comma-separated")
    parser.add_argument("--windows", default="open,1", help="'open' (the hook's default) or sizes")
    parser.add_argument("--serve", nargs=2, metavar=("LIMIT", "WINDOW"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(int(args.serve[0]), float(args.serve[1]))
        return
    latencies = [float(ms) / 1000 for ms in args.latencies.split(",")]
    windows = [None if w == "open" else int(w) for w in args.windows.split(",")]
    print(
        f"CloudTables: {args.rows:,} rows, upsert by key, rate limit {args.limit} per {args.rate_window:g} s "
        f"(the service: {args.limit} per {REAL_WINDOW:g} s), through the proxy"
    )
    print(
        f"{'latency':>8} {'window':>7} {'requests':>9} {'time s':>8} {'bound s':>8} {'ratio':>7} "
        f"{'429s':>5} {'retries':>8}"
    )
    server = Server(args.limit, args.rate_window)
    try:
        for latency in latencies:
            for window in windows:
                figures = run(server, args, latency, window)
                ratio = figures["seconds"] / figures["bound"]
                print(
                    f"{latency * 1000:>6.0f}ms {figures['window']:>7} {figures['seen']:>9,} "
                    f"{figures['seconds']:>8.2f} {figures['bound']:>8.2f} {ratio:>7.3f} "
                    f"{figures['refused']:>5} {figures['retries']:>8}",
                    flush=True,
                )
    finally:
        server.close()


if __name__ == "__main__":
    main()
