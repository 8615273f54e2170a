"""
Minting ``dstok_`` tokens with ``datasette create-token``, signed with the server's secret.

The secret reaches Datasette through the ``DATASETTE_SECRET`` environment variable, never the command line,
so it does not show in process listings or in error messages.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence

from airflow_provider_cloud.testing._datasette.process import DatasetteServerError

TOKEN_TIMEOUT = 60.0


def spawn_create_token(
    command: list[str],
    actor: str,
    *,
    env: Mapping[str, str],
    expires_after: int | None = None,
    restrictions: Sequence[tuple[str, ...]] = (),
) -> subprocess.Popen[bytes]:
    """Start ``datasette create-token`` for ``actor`` (it runs beside a starting server); collect it later."""
    arguments = [*command, "create-token", actor]
    if expires_after is not None:
        arguments += ["--expires-after", str(expires_after)]
    arguments += restriction_arguments(restrictions)
    return subprocess.Popen(
        arguments, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(env)
    )


def collect_token(job: subprocess.Popen[bytes]) -> str:
    """Wait for a ``create-token`` job and return its token, or raise naming what went wrong."""
    try:
        out, err = job.communicate(timeout=TOKEN_TIMEOUT)
    except subprocess.TimeoutExpired:
        job.kill()
        job.communicate()
        raise DatasetteServerError(f"datasette create-token did not finish in {TOKEN_TIMEOUT} s") from None
    errors = err.decode("utf-8", errors="replace").strip()
    if job.returncode != 0:
        raise DatasetteServerError(
            "datasette create-token failed", log_tail=errors, returncode=job.returncode
        )
    if "Unknown permission" in errors:
        raise ValueError(f"datasette create-token: {errors}")
    lines = [line.strip() for line in out.decode("utf-8", errors="replace").splitlines()]
    tokens = [line for line in lines if line.startswith("dstok_")]
    if not tokens:
        raise DatasetteServerError("datasette create-token printed no dstok_ token", log_tail=errors)
    return tokens[-1]


def restriction_arguments(restrictions: Sequence[tuple[str, ...]]) -> list[str]:
    """Return ``--all``/``--database``/``--resource`` options for ``(action,)``, ``(db, action)``, ``(db, table, action)``."""
    options = {1: "--all", 2: "--database", 3: "--resource"}
    arguments: list[str] = []
    for restriction in restrictions:
        if isinstance(restriction, str) or len(restriction) not in options:
            raise ValueError(
                f"A restriction is (action,), (database, action) or (database, table, action), not {restriction!r}"
            )
        arguments += [options[len(restriction)], *restriction]
    return arguments
