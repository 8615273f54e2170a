"""The production stack's servers and backend: PostgreSQL and Redis of their own, and what the stack is given."""

from __future__ import annotations

import contextlib
from pathlib import Path

import psycopg2
import pytest
import redis

from tests.e2e.secret_scan import scan_postgres
from tests.e2e.services import (
    MissingServiceError,
    PostgresServer,
    RedisServer,
    postgres_bindir,
    redis_server_binary,
)
from tests.e2e.stack_backends import HOSTNAME_VAR, PostgresCelery

pytestmark = pytest.mark.timeout(120, method="signal")


def listening_addresses(port: int) -> set[str]:
    """Return the local addresses (hex, as in ``/proc/net/tcp*``) with a socket listening on ``port``."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                local, state = line.split()[1], line.split()[3]
                address, hex_port = local.rsplit(":", 1)
                if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                    found.add(address)
    return found


def listens_only_on_loopback(port: int) -> bool:
    return listening_addresses(port) == {"0100007F"}  # 127.0.0.1, little-endian


def test_postgres_server_serves_its_database_with_a_password_and_leaves_nothing_behind() -> None:
    server = PostgresServer()
    with server:
        with contextlib.closing(psycopg2.connect(server.dsn(), connect_timeout=5)) as connection:
            with connection.cursor() as cursor:
                cursor.execute("select current_user, current_database(), current_setting('fsync')")
                assert cursor.fetchone() == ("airflow", "airflow", "off")
        wrong = server.dsn().replace(server.password, "wrong")
        with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
            psycopg2.connect(wrong, connect_timeout=5)
        assert listens_only_on_loopback(server.port)
        assert server.url.startswith(
            f"postgresql+psycopg2://airflow:{server.password}@127.0.0.1:{server.port}/"
        )
        assert not (server.folder / "pwfile").exists()
        folder, process = server.folder, server.process
    assert process is not None
    assert process.returncode() is not None
    assert not folder.exists()


def test_redis_server_wants_its_password_keeps_nothing_and_leaves_nothing_behind() -> None:
    server = RedisServer()
    with server:
        client = redis.Redis(host="127.0.0.1", port=server.port, password=server.password, socket_timeout=5)
        assert client.config_get("save") == {"save": ""}
        assert client.config_get("appendonly") == {"appendonly": "no"}
        client.close()
        anonymous = redis.Redis(host="127.0.0.1", port=server.port, socket_timeout=5)
        with pytest.raises(redis.AuthenticationError):
            anonymous.ping()
        anonymous.close()
        assert listens_only_on_loopback(server.port)
        assert server.password not in Path(f"/proc/{server.process.pid}/cmdline").read_text()  # type: ignore[union-attr]
        folder = server.folder
    assert not folder.exists()


def test_missing_binaries_say_what_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr("tests.e2e.services.DEBIAN_POSTGRES", tmp_path / "none")
    with pytest.raises(MissingServiceError, match="install the Debian packages postgresql and redis-server"):
        postgres_bindir()
    with pytest.raises(MissingServiceError, match="redis-server was not found: install the Debian packages"):
        redis_server_binary()
    server = PostgresServer()
    with pytest.raises(MissingServiceError):
        server.start()
    assert not server.folder.exists()  # a failed start removes its folder too


def test_production_backend_gives_postgres_celery_redis_and_two_named_workers(tmp_path: Path) -> None:
    backend = PostgresCelery(workers=2, concurrency=2, queue="default")
    backend.home = tmp_path
    backend.postgres.port, backend.redis.port = 5555, 6666
    env = backend.env()

    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == backend.postgres.url
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__CELERY__BROKER_URL"] == f"redis://:{backend.redis.password}@127.0.0.1:6666/0"
    assert env["AIRFLOW__CELERY__RESULT_BACKEND"] == (
        f"db+postgresql://airflow:{backend.postgres.password}@127.0.0.1:5555/airflow"
    )
    assert env["AIRFLOW__CORE__PARALLELISM"] == "4"
    assert env["AIRFLOW__CORE__HOSTNAME_CALLABLE"] == "apc_e2e_hostname.hostname"
    commands = backend.process_commands()
    assert list(commands) == ["celery-worker-1", "celery-worker-2"]
    for name, (args, extra_env) in commands.items():
        assert args[:2] == ["celery", "worker"]
        assert f"--celery-hostname={name}@%h" in args
        assert {
            "--concurrency=2",
            "--queues=default",
            "--skip-serve-logs",
            f"--pid={tmp_path / f'{name}.pid'}",
        } <= set(args)
        assert extra_env == {HOSTNAME_VAR: name}
    assert not any(
        backend.redis.password in arg or backend.postgres.password in arg
        for a, _ in commands.values()
        for arg in a
    )


def test_no_server_of_a_stopped_backend_is_left_running() -> None:
    backend = PostgresCelery()
    backend.start(Path("/nonexistent-home"))
    try:
        servers = [backend.postgres, backend.redis]
        pids = [server.process.pid for server in servers]  # type: ignore[union-attr]
        folders = [server.folder for server in servers]
        assert all(Path(f"/proc/{pid}").exists() for pid in pids)
        assert all(folder.is_dir() for folder in folders)
    finally:
        backend.stop()
    assert [pid for pid in pids if Path(f"/proc/{pid}").exists()] == []
    assert [folder for folder in folders if folder.exists()] == []


def test_the_postgres_scan_finds_a_secret_in_text_json_and_bytes_and_says_where_without_showing_it() -> None:
    secret = "s3cr3t-" + "x" * 20
    with PostgresServer() as server:
        with contextlib.closing(psycopg2.connect(server.dsn(), connect_timeout=5)) as connection:
            with connection, connection.cursor() as cursor:
                cursor.execute("create table notes (id int, body text, doc jsonb, raw bytea, n int)")
                cursor.execute(
                    "insert into notes values (1, %s, %s, %s, 7), (2, 'clean', '{}', null, 8)",
                    (f"token={secret};", f'{{"password": "{secret}"}}', f"<{secret}>".encode()),
                )
        findings = scan_postgres(server.dsn(), {"the token": secret})
        clean = scan_postgres(server.dsn(), {"another": "not-there-at-all"})
    assert sorted(f.where for f in findings) == ["notes.body", "notes.doc", "notes.raw"]
    assert all(secret not in str(f) and "<the token>" in str(f) for f in findings)
    assert clean == []
