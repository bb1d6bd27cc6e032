"""Stories: the articles that share a ``story_id``, and which of them stands for the story.

``articles.story_id`` is the interface: clustering (``aggregator.dedupe``) sets it, feeds and
queries group by it. This module holds the one rule every reader of stories follows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from aggregator.text import is_truncated


def representative_key(article: Mapping[str, Any]) -> tuple[bool, bool, str, int]:
    """Sort key: an uncut title first, then the earliest published, then the lowest id."""
    return rule_key(is_truncated(article["title"]), article.get("published_at"), article["id"])


def rule_key(cut: bool, published_at: str | None, article_id: int) -> tuple[bool, bool, str, int]:
    """:func:`representative_key` from its parts, for a reader that has the title's cut flag
    already (the digests read it from SQL, ``store._CUT_SQL``) rather than the title."""
    return (bool(cut), published_at is None, published_at or "", article_id)


def representative(members: Sequence[Mapping[str, Any]]) -> Mapping[str, Any]:
    """The member that represents a story (its title, link and date are the story's)."""
    if not members:
        raise ValueError("a story has at least one article")
    return min(members, key=representative_key)
