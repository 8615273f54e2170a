"""Embedding: minted access tokens and the ``<script>`` tags of embedded tables (mixed into the hook)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from airflow_provider_cloud.hooks.cloudtables import wire
from airflow_provider_cloud.hooks.cloudtables.schema import DatasetSchema, conditions_for


class _Host(Protocol):
    """What the methods below use of ``CloudTablesHook``."""

    @property
    def endpoint(self) -> wire.CloudTablesEndpoint: ...
    @property
    def extras(self) -> dict[str, Any]: ...
    @property
    def default_roles(self) -> list[str]: ...
    def get_schema(self, dataset: str, *, refresh: bool = False) -> DatasetSchema: ...
    def resolve_dataset(self, dataset: str) -> str: ...
    def register_secret(self, value: str | None) -> None: ...

    @property
    def _api(self) -> Callable[..., Any]: ...  # the hook's request to the API (method, path parts, form...)


class Embedding:
    """Access tokens and loader tags, on the hook's requests and data set names."""

    def create_access_token(
        self: _Host,
        dataset: str | None = None,
        *,
        roles: Sequence[str] | str | None = None,
        conditions: Any = None,
        duration: int | None = None,
        client_id: str | None = None,
        client_name: str | None = None,
        client_meta: Any = None,
    ) -> str:
        """
        Mint an access token for embedding and return it (masked in logs at once).

        :param dataset: the data set the token is for; when given, conditions naming data points are sent
            with their ``dp-N`` ids. The token itself is not bound to a data set by the API.
        :param roles: role names; default: the connection's ``roles`` extra.
        :param conditions: see :func:`~.wire.normalize_conditions`.
        :param duration: seconds until first use / idle timeout (the service's default is 20 minutes).
        :param client_id: the end user the token is for (default: the connection's ``clientId``).
        :param client_name: that user's display name (default: the connection's ``clientName``).
        """
        schema = self.get_schema(dataset) if dataset is not None else None
        form = wire.access_form(
            roles=wire.role_list(roles) if roles is not None else self.default_roles,
            duration=duration,
            client_id=client_id or self.extras.get("clientId"),
            client_name=client_name or self.extras.get("clientName"),
            client_meta=client_meta,
        )
        conds = conditions_for(conditions, schema)
        payload = self._api("POST", "access", form=form, conditions=conds, client_in_query=False)
        token: str = wire.answer_part(payload, "token", str, "POST access: no token in the answer")
        self.register_secret(token)
        return token

    def loader_url(self: _Host, dataset: str, style: str = "d") -> str:
        """Return the URL of a data set's embedded-table loader script."""
        wire.check_style(style)
        return self.endpoint.loader_url(self.resolve_dataset(dataset), style)

    def script_tag(self: _Host, dataset: str, token: str, style: str = "d") -> str:
        """
        Return ``<script src=".../loader/{id}/table/{style}" data-token="..."></script>`` for a page.

        ``style``: ``d`` (default), ``auto``, ``bs``, ``bs4``, ``dt``, ``zf``, ``ju``, ``se`` or ``no``.
        """
        wire.check_style(style)
        return wire.script_tag(self.endpoint, self.resolve_dataset(dataset), token, style)
