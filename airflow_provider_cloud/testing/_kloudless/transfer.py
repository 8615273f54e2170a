"""
Moving a file or folder to another account (``PATCH .../files/{id}`` with ``{"account": <id>, ...}``).

[I] choices, the reference being silent: the item is copied into the other account (under ``parent_id`` there,
the root by default, with ``name`` if given) with new ids, then deleted here. Each account sees what it would
of its own storage: this one a ``delete`` per item (children first, as a recursive delete), the other an
``add`` per item (parents first). The answer is the item's metadata in the other account. Everything is
checked before anything changes: the other parent must exist there (400 ``invalid_parent_folder``) and the
name be free (409 ``naming_conflict``); the root cannot move (403).
"""

from __future__ import annotations

from datetime import datetime

from airflow_provider_cloud.testing._kloudless.errors import api_error
from airflow_provider_cloud.testing._kloudless.records import Node
from airflow_provider_cloud.testing._kloudless.storage import ROOT_ID, Kind, StorageTree


def move_to_account(
    source: StorageTree,
    target: StorageTree,
    item_id: str,
    kind: Kind,
    *,
    name: str | None,
    parent_id: str | None,
    now: datetime,
    user: str,
    target_user: str,
) -> Node:
    """Move an item of ``source`` into ``target`` and return its new node there."""
    node = source.get(item_id, kind)
    if node.id == ROOT_ID:
        raise api_error("permission_denied", "The root folder cannot be moved.")
    copied = _copy(node, target, parent_id or ROOT_ID, name or node.name, now=now, user=target_user)
    if node.kind == "folder":
        made = {node.id: copied.id}
        for item in source.contents(node.id, recursive=True):  # parents come before their children
            child = _copy(item, target, made[item.parent_id or ""], item.name, now=now, user=target_user)
            made[item.id] = child.id
    source.delete(node.id, kind, user=user, recursive=True)
    return copied


def _copy(node: Node, target: StorageTree, parent_id: str, name: str, *, now: datetime, user: str) -> Node:
    if node.kind == "folder":
        made, _ = target.create_folder(parent_id, name, now=now, user=user, conflict_if_exists=True)
    else:
        made, _ = target.upload(parent_id, name, node.content, now=now, user=user)
    return made
