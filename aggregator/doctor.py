"""``newsagg doctor``: is everything a cron run needs in order? Each check says what it found.

Nothing is changed: the database is opened read-only (plus a write lock taken and released at
once), the feeds folder gets one temporary file that is removed, the run lock is only tested.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from aggregator.config import Source, load_sources
from aggregator.errors import AggregatorError
from aggregator.lock import lock_holder
from aggregator.store import SCHEMA_VERSION, DatabaseError, Store
from aggregator.urls import NO_URL_RULES


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    warn: bool = False  # ok, but worth a look (shown as "warn")

    def line(self) -> str:
        status = "FAIL" if not self.ok else "warn" if self.warn else "ok"
        return f"{status:<5}{self.name:<12}{self.detail}"


@dataclass
class DoctorReport:
    checks: list[Check]

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    def summary_line(self) -> str:
        failed = [check.name for check in self.checks if not check.ok]
        if not failed:
            return f"{len(self.checks)} checks, all ok"
        return f"{len(self.checks)} checks, {len(failed)} failed: {', '.join(failed)}"


def doctor(
    db_path: Path, sources_path: Callable[[], Path], feeds_dir: Path | None = None
) -> DoctorReport:
    """Run every check; ``sources_path`` is called inside the configuration check (finding the
    file can itself be what is wrong)."""
    feeds = feeds_dir or db_path.parent / "feeds"
    configuration = load_configuration(sources_path)
    return DoctorReport(
        [
            check_configuration(configuration),
            check_database(db_path),
            check_database_writable(db_path),
            check_feeds_folder(feeds),
            check_lock(db_path),
            check_last_run(db_path),
            check_url_rules(db_path, configuration),
        ]
    )


Configuration = tuple[Path, list[Source]] | AggregatorError


def load_configuration(sources_path: Callable[[], Path]) -> Configuration:
    """The sources file and its sources, or why they do not load: read once, for every check."""
    try:
        path = sources_path()
        return path, load_sources(path)
    except AggregatorError as exc:
        return exc


def check_configuration(configuration: Configuration) -> Check:
    if isinstance(configuration, AggregatorError):
        return Check("config", False, str(configuration))
    path, sources = configuration
    enabled = sum(source.enabled for source in sources)
    return Check("config", True, f"{path}: {len(sources)} sources, {enabled} enabled")


def check_database(db_path: Path) -> Check:
    if not db_path.exists():
        return Check("database", True, f"{db_path} does not exist yet; the first crawl creates it")
    try:
        with Store(db_path, readonly=True) as store:
            version = store.schema_version
            problems = store.quick_check()
            articles = store.count_articles() if not problems and version else 0
    except (AggregatorError, OSError, DatabaseError) as exc:
        return Check("database", False, str(exc))
    if problems:
        shown = "; ".join(problems[:3]) + (" ..." if len(problems) > 3 else "")
        return Check("database", False, f"{db_path}: quick_check failed: {shown}")
    if version > SCHEMA_VERSION:
        return Check(
            "database",
            False,
            f"{db_path}: schema version {version} is newer than this program ({SCHEMA_VERSION})",
        )
    detail = f"{db_path}: quick_check ok, schema {version}, {articles} articles"
    if version < SCHEMA_VERSION:
        detail += f" (the next run upgrades it to schema {SCHEMA_VERSION})"
    return Check("database", True, detail)


def check_database_writable(db_path: Path) -> Check:
    if not db_path.exists():
        folder = check_folder_writable("writable", db_path.parent)
        return Check("writable", folder.ok, folder.detail)
    problem = Store.probe_write(db_path)
    if problem is None:
        return Check("writable", True, f"{db_path} takes writes")
    if "locked" in problem:
        return Check("writable", True, f"{db_path} is being written by a run right now")
    return Check("writable", False, f"{db_path}: cannot write: {problem}")


def check_folder_writable(name: str, folder: Path) -> Check:
    """``folder`` (or the nearest existing parent, when it is yet to be created) takes a file."""
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return Check(name, False, f"{existing} is not a folder")
    try:
        fd, tmp = tempfile.mkstemp(prefix=".newsagg-doctor.", dir=existing)
        os.close(fd)
        os.unlink(tmp)
    except OSError as exc:
        return Check(name, False, f"{existing}: cannot write: {exc.strerror or exc}")
    where = f"{folder} is writable" if existing == folder else f"{folder} can be created"
    return Check(name, True, where)


def check_feeds_folder(feeds: Path) -> Check:
    """:func:`check_folder_writable`, plus a warning for temporary files a killed export left
    (the next export removes them; doctor changes nothing)."""
    from aggregator.export import stale_temp_files

    check = check_folder_writable("feeds", feeds)
    stale = stale_temp_files(feeds) if check.ok else []
    if not stale:
        return check
    shown = ", ".join(str(p.relative_to(feeds)) for p in stale[:3])
    more = " ..." if len(stale) > 3 else ""
    detail = (
        f"{check.detail}; {len(stale)} temporary files left by a killed export ({shown}{more}): "
        "the next export removes them"
    )
    return Check("feeds", True, detail, warn=True)


def check_lock(db_path: Path) -> Check:
    holder = lock_holder(db_path)
    if holder is None:
        return Check("lock", True, f"{db_path}.lock is free")
    return Check("lock", True, f"{db_path}.lock is held by pid {holder}: a run is in progress")


def check_last_run(db_path: Path) -> Check:
    """The latest run: failed (every source failed) is wrong; one that never finished while
    nobody holds the lock was killed, which the next run recovers from by itself."""
    if not db_path.exists():
        return Check("last run", True, "none yet")
    try:
        with Store(db_path, readonly=True) as store:
            run = store.last_run()
    except (AggregatorError, OSError, DatabaseError) as exc:
        return Check("last run", False, f"cannot read the runs: {exc}")
    if run is None:
        return Check("last run", True, "none yet")
    when = run["finished_at"] or run["started_at"]
    if run["finished_at"] is None:
        if lock_holder(db_path) is not None:
            return Check("last run", True, f"run {run['id']} is in progress (since {when})")
        return Check(
            "last run",
            True,
            f"run {run['id']} started {when} and never finished (killed?); "
            "the next run starts afresh",
        )
    return Check("last run", run["status"] != "failed", f"run {run['id']} {run['status']} {when}")


def check_url_rules(db_path: Path, configuration: Configuration) -> Check:
    """Do the stored canonical URLs follow the configured URL rules (``[urls]``,
    ``host_aliases``)? When not, the next crawl (or ``newsagg recanon``) recomputes them and
    merges the rows that then collide: worth knowing before it happens, so a warning."""
    name = "url rules"
    if isinstance(configuration, AggregatorError):
        return Check(name, True, "not compared (the configuration does not load)")
    sources = configuration[1]
    configured = sources[0].url_rules if sources else NO_URL_RULES
    if not db_path.exists():
        return Check(name, True, "no database yet")
    try:
        with Store(db_path, readonly=True) as store:
            recorded = store.recorded_url_rules()
    except (AggregatorError, OSError, DatabaseError) as exc:
        return Check(name, True, f"not compared (cannot read the database: {exc})")
    if recorded == configured.to_json():
        return Check(name, True, "stored URLs follow the configured rules")
    return Check(
        name,
        True,
        "the configured URL rules differ from those the stored URLs follow: the next crawl "
        "(or `newsagg recanon`) recomputes every canonical URL and merges rows that collide",
        warn=True,
    )
