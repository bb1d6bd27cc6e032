"""The search syntax: words, "phrases", ``-exclusion`` and ``OR``. Pure: text in, a tree out.

``光伏 "battery storage" 储能 OR 氢能 -煤电`` means: 光伏 AND the phrase "battery storage" AND
(储能 OR 氢能) AND NOT 煤电. Words side by side must all match; ``OR`` (upper case) joins the
words on either side of it into one group; a leading ``-`` excludes a word or a phrase. An
unclosed quote runs to the end of the text. A query needs at least one term that is not excluded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from aggregator.errors import ConfigError


class QuerySyntaxError(ConfigError):
    """The search text cannot be turned into a query (exit code 2)."""


@dataclass(frozen=True)
class Term:
    """A word or a phrase, as typed (``phrase`` when it was quoted)."""

    text: str
    phrase: bool = False


@dataclass(frozen=True)
class Query:
    """All of ``groups`` (each: any of its terms) and none of ``excluded``."""

    groups: tuple[tuple[Term, ...], ...] = ()
    excluded: tuple[Term, ...] = field(default=())

    @property
    def terms(self) -> tuple[Term, ...]:
        """Every positive term (what a match highlights)."""
        return tuple(term for group in self.groups for term in group)


_TOKEN = re.compile(r'\s*(?:(-?)"([^"]*)"?|(\S+))')


def parse_query(text: str) -> Query:
    """Parse search text; raises :class:`QuerySyntaxError` for a query that cannot match."""
    groups: list[list[Term]] = []
    excluded: list[Term] = []
    pending_or = False
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:  # only trailing whitespace is left
            break
        position = match.end()
        negated, quoted, bare = match.group(1), match.group(2), match.group(3)
        if bare is not None:
            if bare == "OR":
                if not groups or pending_or:
                    raise QuerySyntaxError(f"'OR' needs a word on each side: {text!r}")
                pending_or = True
                continue
            negated = "-" if bare.startswith("-") and len(bare) > 1 else ""
            term = Term(bare[1:] if negated else bare, phrase=False)
        else:
            term = Term(" ".join(quoted.split()), phrase=True)
        if not _has_searchable(term.text):
            if pending_or:
                raise QuerySyntaxError(f"'OR' needs a word on each side: {text!r}")
            continue
        if negated:
            if pending_or:
                raise QuerySyntaxError(f"'OR' cannot join an excluded word: {text!r}")
            excluded.append(term)
        elif pending_or:
            groups[-1].append(term)
            pending_or = False
        else:
            groups.append([term])
    if pending_or:
        raise QuerySyntaxError(f"'OR' needs a word on each side: {text!r}")
    if not groups:
        raise QuerySyntaxError(
            f"nothing to search for in {text!r}: give at least one word that is not excluded"
        )
    return Query(tuple(tuple(group) for group in groups), tuple(excluded))


def _has_searchable(text: str) -> bool:
    return any(ch.isalnum() for ch in text)
