"""Free TCP ports on 127.0.0.1 for the servers an end-to-end test starts."""

from __future__ import annotations

import contextlib
import random
import socket
from pathlib import Path


class NoFreePortError(RuntimeError):
    """No TCP port on 127.0.0.1 could be bound."""


def free_port() -> int:
    """
    Return a TCP port on 127.0.0.1 that is free now, chosen below the kernel's ephemeral port range.

    The API server binds its port only after 20 to 40 s of start-up; a port from the ephemeral range (what
    ``bind(("127.0.0.1", 0))`` hands out) could meanwhile become the local end of some other test's outgoing
    connection or server, and the bind would fail. Falls back to an ephemeral port if none below is free.
    """
    low = 32768
    with contextlib.suppress(OSError, ValueError):
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    candidates = random.sample(range(10000, low), k=min(50, max(0, low - 10000)))
    for port in [*candidates, 0]:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise NoFreePortError("no free TCP port on 127.0.0.1")
