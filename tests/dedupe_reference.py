"""The clustering's per-headline paths, kept in the tests as the reference the store's array
paths are checked against: a fingerprint's keys and probes one at a time, the shortlist of one
headline from buckets held in a dict, and a batch clustered with those shortlists, its own
buckets filled (and capped) as it goes. Production computes all of this in arrays
(``batch_keys``, ``shortlist_batch``, ``local_shortlist_batch``, ``file_batch``). Also the
one-at-a-time readers of a key's slot and of a schema 18 bucket row, which production reads
in arrays (``time_slots``, ``Buckets``). And the punctuation and spacing rules of
``match_texts`` as the regular expressions they were, which production runs in arrays
(``_words_spaced``). And the stored times parsed by numpy's own parser, which production does
by the civil calendar's formula (``timestamps``)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from aggregator.dedupe import (
    _CJK,
    _NARROW,
    _PROBE_ALONE,
    _STAMP_LINES_RE,
    _T2S,
    _WIDE,
    SLOT_SHIFT,
    ClusterStats,
    DedupeOptions,
    Fingerprint,
    Member,
    _bucket_width,
    cluster_batch,
    timestamp,
)

# Punctuation and spaces, except a decimal point ("10.8" stays one number): the runs of
# (?:[^\w.]|_|(?<!\d)\.|\.(?!\d))+ but for newlines. (Its first character is read from a class,
# then checked behind.)
NOT_WORD_LINES_RE = re.compile(
    r"[\W_](?:(?<=[^\w.\n])|(?<=_)|(?<=\.)(?<!\d\.)|(?<=\.)(?!\d))"
    r"(?:[^\w.\n]|_|(?<!\d)\.|\.(?!\d))*"
)
# No space next to a CJK character (one between Latin words).
CJK_SPACE_LINES_RE = re.compile(f" (?:(?<=[{_CJK}] )|(?=[{_CJK}]))")
LINE_EDGE_SPACE_RE = re.compile(" \n ?|\n ")  # a space beside a newline
T2S_CHARS = {chr(traditional): chr(simple) for traditional, simple in _T2S.items()}
T2S_RE = re.compile(f"[{''.join(T2S_CHARS)}]")


def words_spaced(joined: str) -> str:
    """What ``_words_spaced`` must give: Traditional → Simplified, case folding, then
    punctuation and spaces, by regular expressions on the joined text."""
    joined = T2S_RE.sub(lambda m: T2S_CHARS[m.group()], joined).casefold()
    joined = NOT_WORD_LINES_RE.sub(" ", joined)
    return CJK_SPACE_LINES_RE.sub("", LINE_EDGE_SPACE_RE.sub("\n", joined).strip(" "))


def slot_of_key(key: int) -> int:
    """The time slot of an index key (its bits from ``SLOT_SHIFT`` up)."""
    return key >> SLOT_SHIFT


def bucket_ids(n: int, value: int | bytes) -> list[int]:
    """A schema 18 bucket's ids from its ``n`` and ``article_ids`` (none from a damaged row:
    ``_bucket_width``), one row at a time: what ``Buckets(rows)`` reads in arrays."""
    if isinstance(value, int):
        return [value]
    width = _bucket_width(n, value)
    return np.frombuffer(value, _NARROW if width == 4 else _WIDE).tolist() if width > 0 else []


def keys_of(fp: Fingerprint) -> list[int]:
    """The index keys a headline files under (none for one ``fingerprints()`` did not make)."""
    batch, row = fp._batch, fp._at
    return [] if batch is None else batch.keys[row][batch.key_mask[row]].tolist()


def probes_of(fp: Fingerprint) -> list[tuple[int, bool]]:
    """The index keys a headline looks up, each with whether a match on it alone makes a
    candidate."""
    batch, row = fp._batch, fp._at
    if batch is None:
        return []
    mask = batch.probe_mask[row]
    keys, alone = batch.probes[row][mask].tolist(), _PROBE_ALONE[mask].tolist()
    return list(zip(keys, alone, strict=True))


def shortlist(
    fp: Fingerprint, buckets: Mapping[int, Sequence[int]], options: DedupeOptions
) -> list[int]:
    """The articles worth verifying for ``fp``, from what the index holds under its probes: those
    sharing its prefix or suffix, or at least ``min_shared_keys`` band keys; at most
    ``max_candidates`` of them, those sharing the most keys (then the most recent)."""
    shared: dict[int, int] = {}
    enough = options.min_shared_keys
    for key, alone in probes_of(fp):
        held = buckets.get(key)
        if not held:
            continue
        weight = enough if alone else 1
        for other in held:
            shared[other] = shared.get(other, 0) + weight
    found = [other for other, count in shared.items() if count >= enough]
    if len(found) > options.max_candidates:
        found.sort(key=lambda other: (shared[other], other), reverse=True)
        del found[options.max_candidates :]
    return found


@dataclass
class ReferenceResult:
    stories: dict[int, int]  # article id -> story id, for articles that joined a story
    added: dict[int, list[int]]  # key -> the batch's articles filed under it (newest bucket_cap)
    stats: ClusterStats
    buckets: Mapping[int, Sequence[int]]
    bucket_cap: int

    @property
    def filed(self) -> dict[int, list[int]]:
        """Key -> the articles the index holds under it from now on (a full bucket keeps its
        newest ``bucket_cap``)."""
        return {
            key: [*map(int, self.buckets.get(key, ())), *added][-self.bucket_cap :]
            for key, added in self.added.items()
        }


def cluster_reference(
    new: Sequence[Member],
    buckets: Mapping[int, Sequence[int]],
    known: Mapping[int, Member],
    options: DedupeOptions,
) -> ReferenceResult:
    """``cluster_batch`` of ``new`` with each article's :func:`shortlist` against ``buckets``
    and against the batch's earlier articles (filed in id order, the newest ``bucket_cap`` a
    key), and what the batch files: the path the store's arrays must equal."""
    cap = options.bucket_cap
    shortlists: dict[int, list[int]] = {}
    local_shortlists: dict[int, list[int]] = {}
    local: dict[int, list[int]] = {}
    capped = 0
    for member in sorted(new, key=lambda m: m.id):
        fp = member.fingerprint
        shortlists[member.id] = shortlist(fp, buckets, options)
        local_shortlists[member.id] = shortlist(fp, local, options)
        for key in keys_of(fp):
            added = local.setdefault(key, [])
            added.append(member.id)
            if len(added) > cap:
                del added[0]
                capped += 1
    for key, added in local.items():  # a full bucket keeps its newest articles
        capped += max(0, len(buckets.get(key, ())) + len(added) - cap)
    result = cluster_batch(new, known, options, shortlists, local_shortlists)
    result.stats.capped += capped
    return ReferenceResult(result.stories, local, result.stats, buckets, cap)


def timestamps_parsed(isos: Sequence[str | None]) -> list[float | None]:
    """``timestamps`` as it was: times all in the store's form parsed by numpy's parser (which
    refuses what ``timestamp`` refuses, and reads year 0), else one by one."""
    stamps = [iso or "" for iso in isos]
    if isos and all(stamps) and _STAMP_LINES_RE.fullmatch("\n".join(stamps) + "\n"):
        try:
            seconds = np.array([stamp[:19] for stamp in stamps], dtype="datetime64[s]")
        except ValueError:
            pass
        else:
            return seconds.astype(np.int64).astype(np.float64).tolist()
    return [timestamp(iso) for iso in isos]
