"""
CloudTables operators: mint a short-lived embed token and hand it, with its ``<script>`` tag, to XCom.

Only the minted access token travels through XCom (it is scoped by roles and conditions, and expires); the
API key stays in the connection and never reaches XCom or a log.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_provider_cloud.hooks.cloudtables import CloudTablesHook, check_style, role_list
from airflow_provider_cloud.operators._embed_access import EmbedAccess

if TYPE_CHECKING:
    from airflow.sdk import Context

#: The service's token lifetime when no ``duration`` is given: 20 minutes.
DEFAULT_TOKEN_DURATION = 20 * 60


class CloudTablesAccessTokenOperator(BaseOperator):
    """
    Mint a CloudTables access token for embedding a data set, and return it with the matching script tag.

    The token is masked in logs the moment it is minted, and again in every task that reads it from XCom
    (:mod:`~airflow_provider_cloud.operators._embed_access`). XCom gets::

        {"token", "script_tag", "loader_url", "dataset_id", "dataset", "style", "roles", "conditions",
         "expires_in", "client_id", "client_name"}

    where ``expires_in`` is the token's ``duration`` in seconds (until first use, then its idle timeout).
    A downstream task can put ``script_tag`` into a page.

    :param dataset: the data set's id or name. (templated)
    :param conn_id: a ``cloudtables`` connection. (templated)
    :param roles: role names, or a comma-separated string; default: the connection's ``roles``. (templated)
    :param conditions: access conditions: ``{"Point name": value}``, one condition object or a list of them
        (``{"name"|"id", "value", "op"?, "set"?, "setValue"?}``), or their JSON. (templated)
    :param duration: seconds (default: the service's 20 minutes). (templated)
    :param client_id: who the token is for, for the audit trail (default: the connection's). (templated)
    :param client_name: that user's name (default: the connection's). (templated)
    :param style: table style of the script tag: ``d``, ``auto``, ``bs``, ``bs4``, ``dt``, ``zf``, ``ju``,
        ``se`` or ``no``. (templated)
    """

    template_fields: Sequence[str] = (
        "dataset",
        "conn_id",
        "roles",
        "conditions",
        "duration",
        "client_id",
        "client_name",
        "style",
    )
    template_fields_renderers = {"conditions": "json"}
    ui_color = "#e4e0f6"

    def __init__(
        self,
        *,
        dataset: str,
        conn_id: str = CloudTablesHook.default_conn_name,
        roles: Sequence[str] | str | None = None,
        conditions: Any = None,
        duration: int | str | None = None,
        client_id: str | None = None,
        client_name: str | None = None,
        style: str = "d",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if "{{" not in str(style):
            check_style(style)
        self.dataset = dataset
        self.conn_id = conn_id
        self.roles = roles
        self.conditions = conditions
        self.duration = duration
        self.client_id = client_id
        self.client_name = client_name
        self.style = style

    def execute(self, context: Context) -> EmbedAccess:
        check_style(self.style)
        duration = _seconds(self.duration)
        hook = CloudTablesHook(self.conn_id)
        dataset_id = hook.resolve_dataset(self.dataset)
        conditions = _conditions(self.conditions)
        roles = hook.default_roles if self.roles in (None, "") else role_list(self.roles)
        token = hook.create_access_token(
            dataset_id,
            roles=roles,
            conditions=conditions,
            duration=duration,
            client_id=self.client_id,
            client_name=self.client_name,
        )
        self.log.info(
            "Minted a CloudTables access token for data set %s (roles %s, %d seconds)",
            dataset_id,
            roles or "none",
            DEFAULT_TOKEN_DURATION if duration is None else duration,
        )
        return EmbedAccess(
            {
                "token": token,
                "script_tag": hook.script_tag(dataset_id, token, self.style),
                "loader_url": hook.loader_url(dataset_id, self.style),
                "dataset_id": dataset_id,
                "dataset": self.dataset,
                "style": self.style,
                "roles": list(roles),
                "conditions": conditions,
                "expires_in": DEFAULT_TOKEN_DURATION if duration is None else duration,
                "client_id": self.client_id or hook.extras.get("clientId"),
                "client_name": self.client_name or hook.extras.get("clientName"),
            }
        )


def _seconds(duration: int | str | None) -> int | None:
    if duration is None or duration == "" or duration == "None":
        return None
    try:
        seconds = int(duration)
    except (TypeError, ValueError):
        raise ValueError(f"duration must be a whole number of seconds, not {duration!r}") from None
    if seconds < 0:
        raise ValueError(f"duration must be 0 or more seconds, not {duration!r}")
    return seconds


def _conditions(conditions: Any) -> Any:
    """Return templated conditions as objects (a rendered template is JSON text)."""
    if isinstance(conditions, str):
        text = conditions.strip()
        return json.loads(text) if text and text != "None" else None
    if isinstance(conditions, Mapping):
        return dict(conditions)
    return conditions
