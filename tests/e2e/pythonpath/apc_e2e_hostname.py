"""
``[core] hostname_callable`` of the production-stack e2e: each Celery worker's name, so a task instance's
``hostname`` tells which worker ran it (two workers on one machine would otherwise both report its name).
"""

from __future__ import annotations

import os
import socket


def hostname() -> str:
    """Return ``APC_E2E_WORKER_HOSTNAME`` (set for each worker by ``tests/e2e/stack_backends.py``), else the FQDN."""
    return os.environ.get("APC_E2E_WORKER_HOSTNAME") or socket.getfqdn()
