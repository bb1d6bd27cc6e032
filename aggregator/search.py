"""Search terms for Chinese and English text: what the index holds and what a query asks it.

SQLite's ``unicode61`` tokenizer takes a run of Chinese as one token and ``trigram`` matches
nothing under three characters, so the store indexes terms made here instead (pure functions;
:mod:`aggregator.store` writes them to the ``articles_fts`` FTS5 table):

- English and other alphabetic text: words (letters and digits), case-folded;
- Chinese (and Japanese, Korean): every character (the ``*_cjk1`` columns) and every pair of
  neighbouring characters in a run (the ``*_cjk2`` columns, in order, so positions let a phrase
  of bigrams match a longer word exactly). A run of one character stands as itself in ``*_cjk2``;
  runs are separated by a marker token so that a phrase never matches across punctuation.

A query word of one Chinese character looks up ``*_cjk1``; a longer one is the phrase of its
bigrams (储能站 = "储能 能站"); an English word is a word. Title and snippet are separate columns
so that ``bm25`` can weigh the title more.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Iterator

from aggregator.querysyntax import Query, Term
from aggregator.text import clean_text

FTS_COLUMNS = (
    "title_words",
    "title_cjk2",
    "title_cjk1",
    "snippet_words",
    "snippet_cjk2",
    "snippet_cjk1",
)
# bm25 weights, in FTS_COLUMNS order: a match in the title counts three times one in the snippet.
BM25_WEIGHTS = (3.0, 3.0, 3.0, 1.0, 1.0, 1.0)
# Between two runs of Chinese in a *_cjk2 column (a private-use character: a token that no
# query term contains, so "光伏" + "组件" from "光伏。组件" never make the phrase "光伏组件").
RUN_BREAK = "\ue000"

_CJK = (
    "\u3040-\u30ff"  # Hiragana, Katakana
    "\u3400-\u4dbf"  # CJK Extension A
    "\u4e00-\u9fff"  # CJK Unified Ideographs
    "\uac00-\ud7af"  # Hangul syllables
    "\uf900-\ufaff"  # CJK Compatibility Ideographs
    "\U00020000-\U0003134f"  # Extensions B-H
)
_SEGMENT = re.compile(rf"([{_CJK}]+)|([^\W_{_CJK}]+)")


def segments(text: str) -> Iterator[tuple[bool, str]]:
    """``(is_cjk, segment)`` for each run of Chinese characters or word (case-folded)."""
    for match in _SEGMENT.finditer(text):
        if match.group(1):
            yield True, match.group(1)
        else:
            yield False, match.group(2).casefold()


def _bigrams(run: str) -> list[str]:
    if len(run) == 1:
        return [run]
    return list(map(operator.add, run, run[1:]))


def field_terms(text: str) -> tuple[str, str, str]:
    """The three indexed columns for one field: (words, cjk2, cjk1), space-separated terms."""
    words: list[str] = []
    pairs: list[str] = []
    chars: dict[str, None] = {}
    for run, word in _SEGMENT.findall(text):  # the hot path of indexing: no generator
        if word:
            words.append(word)
            continue
        if pairs:
            pairs.append(RUN_BREAK)
        pairs += _bigrams(run)
        chars.update(dict.fromkeys(run))
    return " ".join(words).casefold(), " ".join(pairs), " ".join(chars)


def index_terms(title: str, snippet: str) -> tuple[str, ...]:
    """Values for the ``articles_fts`` columns (:data:`FTS_COLUMNS`) of one article."""
    return field_terms(title) + field_terms(snippet or "")


def _columns(kind: str) -> str:
    return "{title_" + kind + " snippet_" + kind + "}"


def _phrase(tokens: list[str]) -> str:
    return '"' + " ".join(tokens) + '"'


def term_expression(term: Term) -> str:
    """The FTS5 expression matching one word or phrase in title or snippet."""
    parts: list[str] = []
    words: list[str] = []
    runs: list[str] = []

    def flush_words() -> None:
        if words:
            parts.append(f"{_columns('words')} : {_phrase(words)}")
            words.clear()

    def flush_runs() -> None:
        if len(runs) == 1 and len(runs[0]) == 1:
            parts.append(f"{_columns('cjk1')} : {_phrase(runs)}")
        elif runs:
            tokens: list[str] = []
            for run in runs:
                if tokens:
                    tokens.append(RUN_BREAK)
                tokens += _bigrams(run)
            parts.append(f"{_columns('cjk2')} : {_phrase(tokens)}")
        runs.clear()

    for is_cjk, segment in segments(clean_text(term.text)):
        if is_cjk:
            flush_words()
            if runs and not term.phrase:
                flush_runs()
            runs.append(segment)
        else:
            flush_runs()
            if words and not term.phrase:
                flush_words()
            words.append(segment)
    flush_words()
    flush_runs()
    return parts[0] if len(parts) == 1 else "(" + " AND ".join(parts) + ")"


def fts_query(query: Query) -> str:
    """The FTS5 MATCH expression for a parsed query."""
    groups = [
        "(" + " OR ".join(term_expression(term) for term in group) + ")" for group in query.groups
    ]
    expression = " AND ".join(groups)
    if query.excluded:
        excluded = " OR ".join(term_expression(term) for term in query.excluded)
        expression = f"({expression}) NOT ({excluded})"
    return expression


def highlight_spans(text: str, query: Query) -> list[tuple[int, int]]:
    """Where the query's terms occur in ``text``: sorted, merged ``(start, end)`` offsets."""
    patterns: list[str] = []
    for term in query.terms:
        for is_cjk, segment in segments(clean_text(term.text)):
            if is_cjk:
                patterns.append(re.escape(segment))
            else:
                patterns.append(rf"(?<![^\W_{_CJK}]){re.escape(segment)}(?![^\W_{_CJK}])")
    found = sorted(
        match.span()
        for pattern in patterns
        for match in re.finditer(pattern, text, re.IGNORECASE)
        if match.end() > match.start()
    )
    spans: list[tuple[int, int]] = []
    for start, end in found:
        if spans and start <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(end, spans[-1][1]))
        else:
            spans.append((start, end))
    return spans
