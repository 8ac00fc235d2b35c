"""What every plugin's ``reconcile`` needs: an exact comparison of texts and a safe choice among matches.

Reconcile answers one question after an interrupted publish: did the network take the post?
Both wrong answers are public incidents — a false "found" records another post's id and the
delivery's own post is never sent; a false "not found" sends it a second time — so a plugin
compares the network's own rendering of the text with what it sent, exactly, and refuses to
choose between two posts that both match.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

from core.channels.contract import Ambiguous, PublishResult


def same_text(published: str | None, sent: str) -> bool:
    """Whether the text a network shows for a post is the text that was sent.

    Exact, but for what every network does to a text it stores: Unicode NFC normalisation and
    trimming of leading and trailing whitespace. Inner whitespace, newlines, entities, emoji and
    links must all be the same; undo the network's own rewriting (t.co links, HTML) before
    calling this, on the network's side only.
    """
    if published is None:
        return False
    return _canonical(published) == _canonical(sent)


def _canonical(text: str) -> str:
    return unicodedata.normalize("NFC", text).strip()


def single_match(matches: Iterable[PublishResult], *, channel: str) -> PublishResult | None:
    """The one post that matched, ``None`` when none did; :class:`Ambiguous` when several distinct
    posts did (the same text published twice inside the window: nobody can tell which is ours)."""
    found: dict[str, PublishResult] = {}
    for match in matches:
        found.setdefault(match.remote_id, match)
    if len(found) > 1:
        ids = tuple(sorted(found))
        raise Ambiguous(
            f"{channel}: {len(ids)} posts match the draft inside the reconcile window: {', '.join(ids)}",
            network_message="Several identical posts were found on the network; check which one is this delivery's.",
            candidates=ids,
        )
    return next(iter(found.values()), None)
