"""Topics: the energy taxonomy (``data/topics.toml``) and the pure matcher that applies it.

An article's topics are its source's topics together with every taxonomy topic one of whose
keywords appears in its title or snippet and none of whose exclusions does. Matching ignores case;
a keyword of ASCII letters and digits must stand as whole words ("PV" is not in "PVC"; "wind
farm" matches "wind-farm"), any other keyword (Chinese) matches anywhere. Keywords are plain
substring tests, no regex per article: tagging costs a few microseconds an article.
"""

from __future__ import annotations

import hashlib
import os
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aggregator.errors import ConfigError

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")
TOPIC_KEYS = {"slug", "name", "keywords", "exclude"}
DEFAULT_TOPICS = Path("data") / "topics.toml"
# The taxonomy shipped with the program, used when neither --topics, $NEWSAGG_TOPICS nor
# ./data/topics.toml names one (cron starts in $HOME).
BUNDLED_TOPICS = Path(__file__).resolve().parents[1] / "data" / "topics.toml"
_ASCII_WORDS = re.compile(r"[0-9a-z]+")
_NOT_WORD = re.compile(r"[^0-9a-z]+")
_HAS_WORD = re.compile(r"[0-9a-z]")


@dataclass(frozen=True)
class Needles:
    """A keyword list prepared for plain substring tests (C speed, no regex per article):
    keywords with an ASCII letter or digit are whole-word needles (" pv ") searched in the
    text's words joined by single spaces; the others (Chinese) are searched in the text as is."""

    words: tuple[str, ...] = ()
    plain: tuple[str, ...] = ()

    @classmethod
    def of(cls, keywords: Iterable[str]) -> Needles:
        words, plain = [], []
        for keyword in dict.fromkeys(k.casefold() for k in keywords):
            if keyword.isascii() and _HAS_WORD.search(keyword):
                words.append(" " + " ".join(_ASCII_WORDS.findall(keyword)) + " ")
            else:
                plain.append(keyword)
        return cls(tuple(words), tuple(plain))

    def found(self, text: Text) -> bool:
        return any(n in text.words for n in self.words) or any(n in text.folded for n in self.plain)


@dataclass(frozen=True)
class Text:
    """An article's title and snippet, case-folded, and as its ASCII words (" pv modules ")."""

    folded: str
    words: str

    @classmethod
    def of(cls, *parts: str) -> Text:
        folded = "\n".join(parts).casefold()
        return cls(folded, " " + _NOT_WORD.sub(" ", folded).strip() + " ")


@dataclass(frozen=True)
class Topic:
    slug: str
    name: str
    keywords: tuple[str, ...]
    exclude: tuple[str, ...] = ()
    _match: Needles = field(default_factory=Needles, compare=False, repr=False)
    _exclude: Needles = field(default_factory=Needles, compare=False, repr=False)

    @classmethod
    def build(
        cls, slug: str, name: str, keywords: Iterable[str], exclude: Iterable[str] = ()
    ) -> Topic:
        keywords, exclude = tuple(keywords), tuple(exclude)
        return cls(slug, name, keywords, exclude, Needles.of(keywords), Needles.of(exclude))

    def matches(self, text: str | Text) -> bool:
        """Whether the text is about this topic: a keyword, and no exclusion, in it."""
        text = text if isinstance(text, Text) else Text.of(text)
        return self._match.found(text) and not self._exclude.found(text)


@dataclass(frozen=True)
class Taxonomy:
    topics: tuple[Topic, ...] = ()

    @property
    def names(self) -> dict[str, str]:
        return {topic.slug: topic.name for topic in self.topics}

    @property
    def order(self) -> dict[str, int]:
        return {topic.slug: index for index, topic in enumerate(self.topics)}

    @property
    def fingerprint(self) -> str:
        """Changes whenever a rule does (retag and export use it)."""
        text = repr([(t.slug, t.name, t.keywords, t.exclude) for t in self.topics])
        return hashlib.sha1(text.encode()).hexdigest()[:16]

    def match(self, title: str, snippet: str = "") -> set[str]:
        """The slugs of the topics whose rules the text satisfies."""
        text = Text.of(title, snippet)
        return {topic.slug for topic in self.topics if topic.matches(text)}

    def tag(self, article: Mapping[str, Any], source_topics: Iterable[str] = ()) -> list[str]:
        """An article's topics: its source's topics ∪ the taxonomy's matches, sorted."""
        found = self.match(article.get("title") or "", article.get("snippet") or "")
        return sorted(found | set(source_topics))


def resolve_topics_path(path: str | Path | None) -> Path | None:
    """``--topics``, else ``$NEWSAGG_TOPICS``, else ``./data/topics.toml``, else the bundled one
    (None when even that is missing: no taxonomy, only the sources' topics)."""
    if path:
        candidate = Path(path)
        if not candidate.is_file():
            raise ConfigError(f"{candidate}: topics file not found")
        return candidate
    env = os.environ.get("NEWSAGG_TOPICS")
    if env:
        if not Path(env).is_file():
            raise ConfigError(f"{env}: topics file from $NEWSAGG_TOPICS not found")
        return Path(env)
    for candidate in (DEFAULT_TOPICS, BUNDLED_TOPICS):
        if candidate.is_file():
            return candidate
    return None


def load_taxonomy(path: str | Path | None) -> Taxonomy:
    """Read and validate a topics file (None: the empty taxonomy)."""
    if path is None:
        return Taxonomy()
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: topics file not found") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return parse_taxonomy(data, str(path))


def parse_taxonomy(data: dict[str, Any], where: str = "<topics>") -> Taxonomy:
    """Validate a parsed topics document (``{"topic": [...]}``)."""
    unknown = set(data) - {"topic"}
    if unknown:
        raise ConfigError(
            f"{where}: unknown top-level key(s) {sorted(unknown)}; expected [[topic]]"
        )
    tables = data.get("topic", [])
    if not isinstance(tables, list):
        raise ConfigError(f"{where}: 'topic' must be an array of tables ([[topic]])")
    topics: list[Topic] = []
    for index, table in enumerate(tables, 1):
        label = f"topic #{index}"
        if not isinstance(table, dict):
            raise ConfigError(f"{where}: {label}: must be a table")
        if isinstance(table.get("slug"), str):
            label = f"topic {table['slug']!r}"

        def fail(key: str, problem: str, label: str = label) -> ConfigError:
            return ConfigError(f"{where}: {label}: field {key!r}: {problem}")

        extra = set(table) - TOPIC_KEYS
        if extra:
            raise fail(
                sorted(extra)[0], f"unknown key (known keys: {', '.join(sorted(TOPIC_KEYS))})"
            )
        slug = table.get("slug")
        if not isinstance(slug, str) or not SLUG_RE.match(slug):
            raise fail("slug", "required; an ASCII slug (a-z, 0-9, '-')")
        if slug in {t.slug for t in topics}:
            raise fail("slug", "duplicate slug")
        name = table.get("name", slug)
        if not isinstance(name, str) or not name.strip():
            raise fail("name", "must be a non-empty string")
        lists = {}
        for key in ("keywords", "exclude"):
            value = table.get(key, [])
            if not isinstance(value, list) or not all(
                isinstance(v, str) and v.strip() for v in value
            ):
                raise fail(key, "must be a list of non-empty strings")
            lists[key] = [v.strip() for v in value]
        if not lists["keywords"]:
            raise fail("keywords", "required: at least one keyword")
        topics.append(Topic.build(slug, name.strip(), lists["keywords"], lists["exclude"]))
    return Taxonomy(tuple(topics))


def source_tagger(
    taxonomy: Taxonomy, source_topics: Mapping[str, Sequence[str]]
) -> Callable[[Mapping[str, Any]], list[str]]:
    """An article's topics, as stored: its source's topics ∪ the taxonomy's matches (the store's
    ``Tagger``, for ingest and ``newsagg retag`` alike)."""

    def tag(row: Mapping[str, Any]) -> list[str]:
        return taxonomy.tag(row, source_topics.get(row["source"], ()))

    return tag
