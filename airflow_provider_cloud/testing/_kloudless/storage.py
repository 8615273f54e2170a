"""
The storage tree of one account: folders, files and their metadata, with an event for every change.

[I] choices: the root folder's id is ``root``; names are unique per folder (case-sensitive), a clash is
409 ``naming_conflict`` with ``conflicting_resource_id``; ``ancestors`` lists the folders from the root
down to the parent; a recursive folder delete emits one ``delete`` per removed item, children first;
``delete`` events carry the last metadata of the removed item.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any, Literal

from airflow_provider_cloud.testing._kloudless.errors import api_error, invalid_parameters, not_found
from airflow_provider_cloud.testing._kloudless.records import FOLDER_MIME_TYPE, AccountRecord, Node, iso

ROOT_ID = "root"
#: Called for every change: event type, metadata of the item, user id of who made the change.
EmitEvent = Callable[[str, dict[str, Any], str], None]
Kind = Literal["file", "folder"]


class StorageTree:
    """Files and folders of one account, keyed by opaque id."""

    def __init__(self, account: AccountRecord, emit: EmitEvent) -> None:
        self.account = account
        self._emit = emit
        self._counter = 0
        root = Node(
            id=ROOT_ID,
            raw_id="root",
            kind="folder",
            name="",
            parent_id=None,
            created=account.created,
            modified=account.created,
            creator=account.user_id,
            last_modifier=account.user_id,
        )
        self._nodes: dict[str, Node] = {ROOT_ID: root}
        #: folder id → {child name → child id}: name clashes and listings without scanning the tree.
        self._index: dict[str, dict[str, str]] = {ROOT_ID: {}}

    # ---- reading -------------------------------------------------------------------------------

    def get(self, node_id: str, kind: Kind) -> Node:
        """Return the file or folder with this id, or answer 404."""
        node = self._nodes.get(node_id)
        if node is None or node.kind != kind:
            raise not_found(f"No {kind} with id {node_id!r} in account {self.account.id}.")
        return node

    def metadata(self, node: Node, *, raw: bool = False) -> dict[str, Any]:
        """Return the documented metadata object of a file or folder."""
        chain = list(self._ancestors(node))
        parent = chain[-1] if chain else None
        is_folder = node.kind == "folder"
        path = "/" + "/".join([n.name for n in chain if n.id != ROOT_ID] + [node.name]) if node.name else "/"
        body: dict[str, Any] = {
            "id": node.id,
            "raw_id": node.raw_id,
            "account": self.account.id,
            "name": node.name,
            "path": path,
            "parent": {"id": parent.id, "name": parent.name} if parent else None,
            "ancestors": [{"id": n.id, "name": n.name} for n in chain],
            "created": iso(node.created),
            "modified": iso(node.modified),
            "downloadable": not is_folder,
            "type": node.kind,
            "mime_type": node.mime_type,
            "size": None if is_folder else len(node.content),
            "api": "storage",
            "owner": {"id": self.account.user_id, "name": self.account.account},
            "creator": {"id": node.creator},
            "last_modifier": {"id": node.last_modifier},
            "can_create_folders": is_folder,
            "can_upload_files": is_folder,
        }
        if raw:
            body["raw"] = {"id": node.raw_id, "title": node.name, "service": self.account.service}
        return body

    def contents(self, folder_id: str, *, recursive: bool = False) -> list[Node]:
        """Return the children of a folder (all descendants when recursive), folders first, by name."""
        folder = self.get(folder_id, "folder")
        children = sorted(self._children(folder.id), key=lambda n: (n.kind != "folder", n.name))
        if not recursive:
            return children
        result: list[Node] = []
        for child in children:
            result.append(child)
            if child.kind == "folder":
                result.extend(self.contents(child.id, recursive=True))
        return result

    def content(self, file_id: str) -> bytes:
        """Return the bytes of a file."""
        return self.get(file_id, "file").content

    # ---- writing -------------------------------------------------------------------------------

    def create_folder(
        self, parent_id: str, name: str, *, now: datetime, user: str, conflict_if_exists: bool = False
    ) -> tuple[Node, bool]:
        """Create a folder; an existing same-named folder is returned (or 409 if conflict_if_exists)."""
        parent = self._parent(parent_id)
        _check_name(name)
        existing = self._child_named(parent.id, name)
        if existing is not None:
            if existing.kind == "folder" and not conflict_if_exists:
                return existing, False
            raise _conflict(existing)
        node = self._new_node("folder", name, parent.id, now, user)
        self._emit("add", self.metadata(node), user)
        return node, True

    def upload(
        self, parent_id: str, name: str, content: bytes, *, now: datetime, user: str, overwrite: bool = False
    ) -> tuple[Node, bool]:
        """Upload a file; a same-named file is replaced only with ``overwrite`` (else 409)."""
        parent = self._parent(parent_id)
        _check_name(name)
        existing = self._child_named(parent.id, name)
        if existing is not None:
            if existing.kind != "file" or not overwrite:
                raise _conflict(existing)
            return self.overwrite(existing.id, content, now=now, user=user), False
        node = self._new_node("file", name, parent.id, now, user)
        node.content = bytes(content)
        node.mime_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        self._emit("add", self.metadata(node), user)
        return node, True

    def overwrite(self, file_id: str, content: bytes, *, now: datetime, user: str) -> Node:
        """Replace the bytes of a file (an ``update`` event)."""
        node = self.get(file_id, "file")
        node.content = bytes(content)
        node.modified = now
        node.last_modifier = user
        self._emit("update", self.metadata(node), user)
        return node

    def update(
        self,
        node_id: str,
        kind: Kind,
        *,
        now: datetime,
        user: str,
        name: str | None = None,
        parent_id: str | None = None,
    ) -> Node:
        """Rename and/or move a file or folder (a ``rename`` or ``move`` event; ``move`` if both)."""
        node = self.get(node_id, kind)
        if node.id == ROOT_ID:
            raise api_error("permission_denied", "The root folder cannot be renamed or moved.")
        new_name = node.name if name is None else name
        _check_name(new_name)
        new_parent = self._parent(parent_id if parent_id is not None else (node.parent_id or ROOT_ID))
        if node.kind == "folder" and any(a.id == node.id for a in [*self._ancestors(new_parent), new_parent]):
            raise api_error("invalid_parent_folder", "A folder cannot be moved into itself.")
        moved = new_parent.id != node.parent_id
        if not moved and new_name == node.name:
            return node
        existing = self._child_named(new_parent.id, new_name)
        if existing is not None and existing.id != node.id:
            raise _conflict(existing)
        self._unlink(node)
        node.name, node.parent_id = new_name, new_parent.id
        self._link(node)
        node.modified, node.last_modifier = now, user
        self._emit("move" if moved else "rename", self.metadata(node), user)
        return node

    def delete(self, node_id: str, kind: Kind, *, user: str, recursive: bool = False) -> None:
        """Delete a file, or a folder (a non-empty one only with ``recursive``: else 403 folder_not_empty)."""
        node = self.get(node_id, kind)
        if node.id == ROOT_ID:
            raise api_error("permission_denied", "The root folder cannot be deleted.")
        if kind == "folder" and self._index[node.id] and not recursive:
            raise api_error(
                "folder_not_empty", f"The folder {node.id!r} is not empty; pass recursive=true to delete it."
            )
        for item in [*reversed(self.contents(node.id, recursive=True)), node] if kind == "folder" else [node]:
            metadata = self.metadata(item)
            self._unlink(item)
            del self._nodes[item.id]
            self._index.pop(item.id, None)
            self._emit("delete", metadata, user)

    # ---- helpers -------------------------------------------------------------------------------

    def _new_node(self, kind: Kind, name: str, parent_id: str, now: datetime, user: str) -> Node:
        self._counter += 1
        prefix = "F" if kind == "file" else "D"
        node = Node(
            id=f"{prefix}{self.account.id}x{self._counter:06d}",
            raw_id=f"{self.account.service}-{kind}-{self._counter}",
            kind=kind,
            name=name,
            parent_id=parent_id,
            created=now,
            modified=now,
            creator=user,
            last_modifier=user,
        )
        if kind == "folder":
            node.mime_type = FOLDER_MIME_TYPE
            self._index[node.id] = {}
        self._nodes[node.id] = node
        self._link(node)
        return node

    def _link(self, node: Node) -> None:
        if node.parent_id is not None:
            self._index[node.parent_id][node.name] = node.id

    def _unlink(self, node: Node) -> None:
        if node.parent_id is not None:
            self._index[node.parent_id].pop(node.name, None)

    def _parent(self, parent_id: str) -> Node:
        node = self._nodes.get(parent_id)
        if node is None or node.kind != "folder":
            raise api_error("invalid_parent_folder", f"The parent folder {parent_id!r} does not exist.")
        return node

    def _children(self, folder_id: str) -> Iterator[Node]:
        return (self._nodes[child_id] for child_id in self._index[folder_id].values())

    def _child_named(self, folder_id: str, name: str) -> Node | None:
        child_id = self._index[folder_id].get(name)
        return self._nodes[child_id] if child_id is not None else None

    def _ancestors(self, node: Node) -> Iterator[Node]:
        """Yield the folders above ``node``, root first."""
        chain: list[Node] = []
        parent_id = node.parent_id
        while parent_id is not None:
            parent = self._nodes[parent_id]
            chain.append(parent)
            parent_id = parent.parent_id
        return reversed(chain)


def _check_name(name: str) -> None:
    if not isinstance(name, str) or not name.strip() or "/" in name or name in (".", ".."):
        raise invalid_parameters(f"Invalid name {name!r}: a non-empty name without '/' is required.")


def _conflict(existing: Node) -> Exception:
    return api_error(
        "naming_conflict",
        f"A {existing.kind} named {existing.name!r} already exists in this folder.",
        conflicting_resource_id=existing.id,
    )
