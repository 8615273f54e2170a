"""
``ConnectedHook``: what a hook reads from its Airflow connection, the base of ``CloudApiHook``.

The connection (looked up the blocking way, or the async-safe way inside a trigger: :meth:`async_create`),
its extras, the secrets it holds, and the settings read from them: timeouts, retry policy, TLS
verification, base URL and window. Arguments given to the hook win over extras.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar, Self

from airflow.sdk import BaseHook

from airflow_provider_cloud.exceptions import UnsupportedConnectionError
from airflow_provider_cloud.hooks.core.extras import (
    base_url_from_connection,
    normalize_extras,
    read_retry_policy,
    read_timeouts,
    read_verify,
)
from airflow_provider_cloud.hooks.core.policy import RetryPolicy, Timeouts
from airflow_provider_cloud.hooks.core.secrets import Secrets
from airflow_provider_cloud.hooks.core.window import check_window

if TYPE_CHECKING:
    from airflow.sdk import Connection


class ConnectedHook(BaseHook):
    """The connection of a hook and the settings read from it (see ``CloudApiHook`` for the parameters)."""

    default_scheme: ClassVar[str] = "https"
    #: Requests in flight when neither the hook nor the connection says (1: one after another).
    default_window: ClassVar[int] = 1

    def __init__(
        self,
        conn_id: str,
        *,
        timeout: float | tuple[float, float] | None = None,
        retry_limit: int | None = None,
        retry_policy: RetryPolicy | None = None,
        window: int | None = None,
    ) -> None:
        super().__init__()
        self.conn_id = conn_id
        self._window_arg = window
        self._timeout_arg = timeout
        self._retry_limit_arg = retry_limit
        self._retry_policy_arg = retry_policy
        self.secrets = Secrets()

    # -- connection ---------------------------------------------------------------------------

    @cached_property
    def connection(self) -> Connection:
        conn = self.get_connection(self.conn_id)
        self.secrets.add(conn.password)
        self._check_type(conn)
        return conn

    def _check_type(self, conn: Connection) -> None:
        """Refuse a connection of another service's type: its token would only earn a misleading 401 or 500."""
        expected = getattr(type(self), "conn_type", None)
        if expected and conn.conn_type and conn.conn_type != expected:
            raise UnsupportedConnectionError(
                f"Connection {conn.conn_id!r} has type {conn.conn_type!r}; {type(self).__name__} needs a "
                f"connection of type {expected!r}"
            )

    @classmethod
    async def async_create(cls, conn_id: str, **kwargs: Any) -> Self:
        """
        Build a hook inside a trigger, resolving the connection the async-safe way.

        The connection, its extras and the secret masking are all done with Airflow's async APIs, so
        nothing blocks the triggerer's event loop; then send with :meth:`arequest` (and close with :meth:`aclose`).
        """
        conn = await cls.aget_connection(conn_id)
        extra = await conn.aextra_dejson()
        hook = cls(conn_id, **kwargs)
        hook._check_type(conn)
        hook.__dict__["connection"] = conn
        hook.__dict__["extras"] = normalize_extras(extra, conn.conn_type)
        await hook.secrets.aadd(conn.password)
        return hook

    @cached_property
    def extras(self) -> dict[str, Any]:
        """Connection extras, accepting the legacy ``extra__<conn_type>__<field>`` spelling too."""
        return normalize_extras(self.connection.extra_dejson, self.connection.conn_type)

    def register_secret(self, value: str | None) -> None:
        """Mask a secret in Airflow's logs and keep it out of this hook's error messages."""
        self.secrets.add(value)

    def scrub(self, text: str) -> str:
        """Replace every secret this hook knows with ``***``."""
        return self.secrets.scrub(text)

    @cached_property
    def timeouts(self) -> Timeouts:
        return read_timeouts(self.extras, self._timeout_arg, conn_id=self.conn_id)

    @cached_property
    def retry_policy(self) -> RetryPolicy:
        return read_retry_policy(
            self.extras, self._retry_policy_arg, self._retry_limit_arg, conn_id=self.conn_id
        )

    @cached_property
    def verify(self) -> bool | str:
        return read_verify(self.extras, conn_id=self.conn_id)

    @cached_property
    def base_url(self) -> str:
        return base_url_from_connection(self.connection, default_scheme=self.default_scheme)

    @cached_property
    def window(self) -> int:
        """Requests in flight at most: the hook argument, the ``window`` extra, else the service's default."""
        if self._window_arg is not None:
            return check_window(self._window_arg, "window")
        found = self.extras.get("window")
        if found in (None, ""):
            return self.default_window
        return check_window(found, f"Connection {self.conn_id!r}: extra 'window'")
