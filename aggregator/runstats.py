"""What a crawl did, per source: the run record stored in ``runs.stats`` and printed by the CLI."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from aggregator.text import count

# Exit codes of `newsagg crawl` / `newsagg run`, for cron and monitoring.
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_STALE = 3  # the run went, but a source has been failing for longer than its stale_after
EXIT_LOCKED = 75


@dataclass
class SourceStats:
    pages_ok: int = 0
    pages_failed: int = 0
    articles_fetched: int = 0
    articles_failed: int = 0
    items: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    dropped: int = 0
    not_modified: int = 0  # feed URLs that answered 304 to a conditional GET
    retry_after: float | None = None  # seconds a 429/503 asked us to wait
    errors: list[str] = field(default_factory=list)
    # a list page was read but gave no items (a redesign, a captcha page): selector drift
    empty: bool = False
    # list pages (page 2..N, one URL of several) read without items while others gave some
    empty_pages: list[str] = field(default_factory=list)
    # entries read but not stored, by reason ('empty feed entry': nothing at all to show)
    left_out: dict[str, int] = field(default_factory=dict)

    def leave_out(self, reason: str, count: int = 1) -> None:
        if count:
            self.left_out[reason] = self.left_out.get(reason, 0) + count

    @property
    def failed(self) -> bool:
        """A source fails when none of its pages could be read."""
        return self.pages_ok == 0 and self.pages_failed > 0

    @property
    def error(self) -> str | None:
        return self.errors[0] if self.errors else None


@dataclass
class RunStats:
    sources: dict[str, SourceStats] = field(default_factory=dict)
    run_id: int | None = None
    started_at: str | None = None
    finished_at: str | None = None
    db: str | None = None
    # sources not fetched because they are backing off: name -> when they are due (UTC)
    skipped: dict[str, str] = field(default_factory=dict)
    # sources failing for longer than their stale_after: name -> 'failing since ... (error)'
    stale: dict[str, str] = field(default_factory=dict)
    # source name -> why a limit (its deadline, the run's --max-time) cut requests short
    cut: dict[str, str] = field(default_factory=dict)
    # the error that stopped the run (the database could not be written), if any
    fatal: str | None = None
    # What story clustering did (aggregator.dedupe.ClusterStats.to_dict()).
    dedupe: dict[str, Any] = field(default_factory=dict)
    # What applying changed URL rules did before the crawl (aggregator.store.UrlRulesResult).
    url_rules: dict[str, Any] = field(default_factory=dict)

    def source(self, name: str) -> SourceStats:
        return self.sources.setdefault(name, SourceStats())

    @property
    def failed(self) -> list[str]:
        return [name for name, stats in self.sources.items() if stats.failed]

    @property
    def empty(self) -> list[str]:
        """Sources whose list pages were read but gave no items."""
        return [name for name, stats in self.sources.items() if stats.empty]

    @property
    def drifting(self) -> list[str]:
        """Sources with items, some of whose list pages gave none (a page's layout changed)."""
        return [name for name, s in self.sources.items() if s.empty_pages and not s.empty]

    @property
    def status(self) -> str:
        if self.sources and len(self.failed) == len(self.sources):
            return "failed"
        return "partial" if self.failed else "ok"

    @property
    def exit_code(self) -> int:
        if self.status == "failed":
            return EXIT_FAILED
        return EXIT_STALE if self.stale else EXIT_OK

    def total(self, key: str) -> int:
        return sum(getattr(stats, key) for stats in self.sources.values())

    def summary_line(self) -> str:
        """'3 sources, 58 new, 4 updated, 1 failed: example_gbk (HTTP 503)'."""
        line = (
            f"{count(len(self.sources), 'source')}, {self.total('new')} new, "
            f"{self.total('updated')} updated, {len(self.failed)} failed"
        )
        if self.failed:
            line += ": " + ", ".join(f"{name} ({self.sources[name].error})" for name in self.failed)
        if self.empty:
            line += f"; {len(self.empty)} gave no items (selector drift?): " + ", ".join(self.empty)
        if self.drifting:
            line += f"; {len(self.drifting)} with pages giving no items: " + ", ".join(
                f"{name} ({', '.join(self.sources[name].empty_pages)})" for name in self.drifting
            )
        left_out = {name: stats.left_out for name, stats in self.sources.items() if stats.left_out}
        if left_out:
            line += "; entries left out: " + ", ".join(
                f"{name} ({', '.join(f'{n} {why}' for why, n in reasons.items())})"
                for name, reasons in left_out.items()
            )
        if self.skipped:
            line += f"; {len(self.skipped)} skipped (backing off): " + ", ".join(
                f"{name} (due {due})" for name, due in self.skipped.items()
            )
        if self.stale:
            line += f"; {len(self.stale)} STALE: " + ", ".join(
                f"{name} {reason}" for name, reason in self.stale.items()
            )
        if self.cut:
            line += f"; {len(self.cut)} cut short: {', '.join(self.cut)}"
        return line

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "status": self.status,
            "db": self.db,
            "cut": dict(self.cut),
            "fatal": self.fatal,
            "totals": {
                key: self.total(key)
                for key in ("items", "new", "updated", "unchanged", "articles_fetched")
            }
            | {
                "sources": len(self.sources),
                "failed": len(self.failed),
                "empty": len(self.empty),
                "not_modified": self.total("not_modified"),
            },
            "skipped": dict(self.skipped),
            "stale": dict(self.stale),
            "sources": {
                name: asdict(stats) | {"failed": stats.failed}
                for name, stats in self.sources.items()
            },
            "dedupe": self.dedupe,
            "url_rules": self.url_rules,
        }
