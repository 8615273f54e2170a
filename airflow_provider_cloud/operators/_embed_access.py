"""
The embed token operator's XCom, stored so that whichever task reads it masks the token.

Airflow masks a secret only in the process that registered it: the task that mints a token masks it, but a
task that reads the token from XCom (to render a page, or to return the ``<script>`` tag) would log it and show
it in its rendered fields. So the value is stored as an :class:`EmbedAccess` (Airflow's serde calls its
``serialize``), and reading it back calls :meth:`EmbedAccess.deserialize`, which registers the token with the
masker of the reading process before anything renders or logs it, then hands out the plain dict.

Airflow deserializes only allowed classes: importing this module allows this one in the process (every task
of a DAG that uses the operator imports it when its DAG file is parsed). A task in another DAG file that pulls
this XCom imports ``airflow_provider_cloud.operators.cloudtables`` too, or the deployment adds
``airflow_provider_cloud.operators._embed_access.EmbedAccess`` to ``[core] allowed_deserialization_classes``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from airflow.sdk.log import mask_secret
from airflow.sdk.serde import allow_class


class EmbedAccess:
    """The embed token's XCom value: a dict once read back, its token masked in the reading process."""

    __version__: ClassVar[int] = 1

    def __init__(self, value: Mapping[str, Any]) -> None:
        self.value = dict(value)

    def __repr__(self) -> str:
        return f"EmbedAccess(dataset_id={self.value.get('dataset_id')!r}, token=***)"

    def serialize(self) -> dict[str, Any]:
        return self.value

    @staticmethod
    def deserialize(data: Mapping[str, Any], version: int) -> dict[str, Any]:
        """Mask the token in this process, then return the plain dict the operator built."""
        if version > EmbedAccess.__version__:
            raise TypeError(
                f"EmbedAccess version {version} is newer than this provider's ({EmbedAccess.__version__})"
            )
        token = data.get("token")
        if isinstance(token, str) and token:
            mask_secret(token)
        return dict(data)


allow_class(EmbedAccess)
