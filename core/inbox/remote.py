"""An inbox item as its plugin sees it: the one conversion from the stored row to the contract."""

from __future__ import annotations

from core.channels.contract import RemoteItem
from core.db.models import InboxItem


def remote_item(item: InboxItem, parent_remote_id: str | None = None) -> RemoteItem:
    """The item as the plugin first saw it (what ``reply``, ``hide_item``, ``delete_item`` act on)."""
    return RemoteItem(
        remote_id=item.remote_id,
        kind=item.kind,
        text=item.text,
        author_id=item.author_remote_id,
        author_handle=item.author_handle,
        author_name=item.author_name,
        created_at=item.received_at,
        thread_id=item.thread_remote_id,
        parent_id=parent_remote_id or item.parent_remote_id,
        url=item.url,
    )
