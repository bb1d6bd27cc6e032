"""Crash safety with real processes: SIGKILL at random moments of `newsagg run` and `newsagg
export`, a full disk, a read-only folder, a corrupt database.

After every kill: every row that was committed before it is still there, `PRAGMA
integrity_check` is ok, every feed on disk is a complete document, and the next run completes.
"""

from __future__ import annotations

import errno
import os
import random
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from lxml import etree

from aggregator.cli import cli
from aggregator.sitefarm import SiteFarm
from aggregator.store import Store
from tests.conftest import ROOT, run_newsagg

FAST = ["-s", "AUTOTHROTTLE_START_DELAY=0", "-s", "RETRY_TIMES=0"]
LIST_SOURCES = 4


class Site:
    """A feed of ~1,200 items (more than one 500-row batch, so a crawl commits more than once)
    and a few list pages; :meth:`advance` shifts the items so every run has new ones."""

    def __init__(self, root: Path, farm: SiteFarm) -> None:
        self.root = root
        self.farm = farm
        self.round = 0
        (root / "robots.txt").write_text("User-agent: *\nAllow: /\n", "utf-8")
        self.advance()

    def advance(self) -> None:
        first = self.round * 150
        self.round += 1
        items = "".join(
            f"<item><title>Grid storage item {n}: batteries &amp; lines</title>"
            f"<link>{self.farm.url}a/{n}.html</link><guid>{self.farm.url}a/{n}.html</guid>"
            f"<description>Item {n} of the bulk feed, with a long enough summary to take some "
            f"room in the database.</description>"
            f"<pubDate>Tue, 24 Feb 2026 {n % 24:02d}:{n % 60:02d}:00 +0000</pubDate></item>"
            for n in range(first, first + 1200)
        )
        (self.root / "bulk.xml").write_text(
            f'<?xml version="1.0"?><rss version="2.0"><channel><title>bulk</title>'
            f"<link>{self.farm.url}</link><description>d</description>{items}</channel></rss>",
            "utf-8",
        )
        for s in range(LIST_SOURCES):
            lis = "".join(
                f'<li><a href="/l{s}/{n}.html">第{s}号列表的第{n}条能源新闻</a>'
                f'<span class="time">2026-02-24 15:{n % 60:02d}</span></li>'
                for n in range(first, first + 40)
            )
            folder = self.root / f"l{s}"
            folder.mkdir(exist_ok=True)
            (folder / "index.html").write_text(f'<ul class="news">{lis}</ul>', "utf-8")

    def sources(self, path: Path) -> Path:
        text = f'[[source]]\nname = "bulk"\nkind = "feed"\nurls = ["{self.farm.url}bulk.xml"]\n'
        text += 'topics = ["grid", "storage"]\n'
        for s in range(LIST_SOURCES):
            text += (
                f'[[source]]\nname = "list{s}"\nkind = "html"\nurls = ["{self.farm.url}l{s}/"]\n'
                f'topics = ["solar"]\n[source.selectors]\nitem = "ul.news li"\ntitle = "a"\n'
                f'link = "a::attr(href)"\ndate = "span.time"\n'
            )
        path.write_text(text, "utf-8")
        return path


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    root = tmp_path / "site"
    root.mkdir()
    with SiteFarm(root) as farm:
        yield Site(root, farm)


@dataclass
class News:
    """A database and the site's sources file, and `newsagg` commands on them in a child
    process (crawls need a fresh reactor)."""

    db: Path
    sources: Path

    @classmethod
    def beside(cls, site: Site, folder: Path, db: Path | None = None) -> News:
        """``folder/sources.toml`` for the site and ``db`` (default ``folder/news.db``)."""
        return cls(db or folder / "news.db", site.sources(folder / "sources.toml"))

    def args(self, command: str, *rest: str) -> list[str]:
        """``--db DB --sources FILE COMMAND REST``, with the FAST settings for a crawl or run."""
        fast = FAST if command in ("crawl", "run") else []
        return ["--db", str(self.db), "--sources", str(self.sources), command, *rest, *fast]

    def ok(self, command: str, *rest: str) -> subprocess.CompletedProcess[str]:
        """Run a command that must succeed."""
        result = run_newsagg(*self.args(command, *rest))
        assert result.returncode == 0, result.stdout + result.stderr
        return result

    def start(self, command: str) -> subprocess.Popen[bytes]:
        """Start a command to kill or to read beside (its stderr kept for a failure)."""
        return subprocess.Popen(
            [sys.executable, "-m", "aggregator", *self.args(command)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=child_env(),
            cwd=ROOT,
        )


@pytest.fixture
def news(site: Site, tmp_path: Path) -> News:
    return News.beside(site, tmp_path)


def child_env(**extra: str) -> dict[str, str]:
    """Ours without NEWSAGG_* (a test passes what it means), plus ``extra``."""
    return {k: v for k, v in os.environ.items() if not k.startswith("NEWSAGG_")} | extra


def run_child(
    *argv: str,
    prefix: Sequence[str] = (),
    env: dict[str, str] | None = None,
    preexec_fn: Callable[[], None] | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """``[PREFIX] python ARGV`` from the repository root, its output captured as text."""
    return subprocess.run(
        [*prefix, sys.executable, *argv],
        preexec_fn=preexec_fn,
        capture_output=True,
        text=True,
        env=env or child_env(),
        cwd=ROOT,
        timeout=timeout,
        check=False,
    )


def committed(db: Path) -> dict[int, str]:
    """What a reader sees as committed right now: id -> canonical_url."""
    if not db.exists():
        return {}
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        return dict(conn.execute("SELECT id, canonical_url FROM articles"))
    except sqlite3.OperationalError:  # the schema is not there yet
        return {}
    finally:
        conn.close()


def integrity(db: Path) -> str:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        return str(exc)
    finally:
        conn.close()


def check_feeds(feeds: Path) -> int:
    """Every feed file is a whole RSS document; returns how many there are."""
    count = 0
    for path in feeds.rglob("*.xml"):
        root = etree.fromstring(path.read_bytes())  # raises on a truncated file
        assert root.tag == "rss", path
        assert root.find("channel") is not None, path
        count += 1
    return count


def kill_at_random_moments(site: Site, tmp: Path, kills: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    news = News.beside(site, tmp)
    db = news.db
    # One whole run and one export first: how long each takes, and feeds to be replaced.
    durations = {}
    for command in ("run", "export"):
        started = time.monotonic()
        news.ok(command)
        durations[command] = time.monotonic() - started
    report: dict[str, Any] = {"kills": 0, "finished": 0, "lost": 0, "feeds": 0}
    attempt = 0
    while report["kills"] < kills:
        assert attempt < 2 * kills, f"only {report['kills']} of {attempt} runs could be killed"
        site.advance()
        command = "export" if attempt % 4 == 3 else "run"  # one in four during an export alone
        attempt += 1
        process = news.start(command)
        time.sleep(rng.uniform(0.1, durations[command]))
        before = committed(db)
        process.send_signal(signal.SIGKILL)
        _, err = process.communicate(timeout=60)
        if process.returncode == -signal.SIGKILL:
            report["kills"] += 1
        else:  # it finished before the signal: fine, but it must have succeeded
            assert process.returncode == 0, err.decode()
            report["finished"] += 1
        after = committed(db)
        lost = {i: url for i, url in before.items() if after.get(i) != url}
        report["lost"] += len(lost)
        assert not lost, f"attempt {attempt}: committed rows lost: {list(lost.items())[:5]}"
        assert integrity(db) == "ok", f"attempt {attempt}"
        report["feeds"] = check_feeds(tmp / "feeds")
    # and the next run completes
    site.advance()
    news.ok("run")
    assert integrity(db) == "ok"
    assert check_feeds(tmp / "feeds") >= 4
    # the temporary files of killed exports went with the last run's export
    assert not list((tmp / "feeds").rglob(".*.tmp"))
    report["articles"] = len(committed(db))
    print(f"kill -9 report: {report}")  # shown with pytest -s
    return report


def test_sigkill_during_run_and_export_many(site: Site, tmp_path: Path) -> None:
    report = kill_at_random_moments(site, tmp_path, kills=24, seed=2026)
    assert report["kills"] == 24
    assert report["lost"] == 0


# -- full disk, read-only folder, corrupt file ------------------------------------------------


def _limit_file_size(limit: int) -> Any:
    def preexec() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return preexec


def test_a_full_disk_is_a_clear_error_and_the_database_stays_intact(news: News) -> None:
    db = news.db
    news.ok("crawl", "--only", "list0")
    before = committed(db)
    assert len(before) == 40
    full = run_child(
        "-m",
        "aggregator",
        *news.args("crawl"),  # ~1,300 new rows: far more than fits under the limit
        preexec_fn=_limit_file_size(max(db.stat().st_size, 64 * 1024)),
    )
    assert full.returncode == 1, full.stdout + full.stderr
    assert f"Error: {db}: cannot write to the database: " in full.stderr
    assert "Traceback" not in full.stderr
    assert full.stdout == ""  # no summary claiming articles were stored
    assert integrity(db) == "ok"
    after = committed(db)
    assert all(after.get(i) == url for i, url in before.items())
    # room again: the next crawl completes and stores everything
    news.ok("crawl")
    assert len(committed(db)) == 40 * LIST_SOURCES + 1200


def test_a_full_disk_while_exporting_is_a_clear_error(
    site: Site, news: News, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = news.db
    news.ok("run")
    feeds = tmp_path / "feeds"
    before = {p: p.read_bytes() for p in feeds.rglob("*") if p.is_file()}
    assert len(before) >= 4
    site.advance()
    news.ok("crawl")  # every feed has new items now

    def no_space(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", no_space)  # export cannot crawl: CliRunner is fine
    result = CliRunner().invoke(cli, news.args("export"))
    assert result.exit_code == 1
    assert result.stderr.strip() == "Error: No space left on device"
    assert result.exception is None or isinstance(result.exception, SystemExit)
    after = {p: p.read_bytes() for p in feeds.rglob("*") if p.is_file()}
    assert after == before  # the old, complete feeds; no temporary file left behind
    assert integrity(db) == "ok"


NOBODY = ["--reuid=65534", "--regid=65534", "--clear-groups"]


def unprivileged_prefix() -> list[str] | None:
    """A command prefix that runs a program without root's power over file permissions: none
    needed when not root; as root, ``setpriv`` to nobody (uid/gid 65534); None when that is not
    possible here."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return None
    probe = run_child("-c", "import os, aggregator; print(os.geteuid())", prefix=[setpriv, *NOBODY])
    return [setpriv, *NOBODY] if probe.stdout.strip() == "65534" else None


@pytest.mark.parametrize("what", ["folder", "database"])
def test_a_read_only_data_folder_is_a_clear_error(site: Site, what: str) -> None:
    """The whole data folder read-only (the run lock cannot even be taken), or only the
    database files (the first write fails): a clear error naming the file, the database intact,
    and the next run, with rights again, completes."""
    prefix = unprivileged_prefix()
    if prefix is None:
        pytest.skip("running as root and cannot drop privileges (no usable setpriv)")
    # pytest's tmp_path is private to its user (0700): use a folder nobody can reach
    top = Path(tempfile.mkdtemp(prefix="newsagg-readonly-"))
    top.chmod(0o755)
    data = top / "data"
    db = data / "news.db"
    try:
        news = News.beside(site, top, db)
        news.ok("crawl", "--only", "list0")
        before = committed(db)
        assert len(before) == 40
        for path in data.glob("news.db*"):
            if what == "folder" or path.name != "news.db.lock":
                path.chmod(0o444)
        if what == "folder":
            data.chmod(0o555)
        else:
            (data / "news.db.lock").chmod(0o666)
        result = run_child(
            "-m", "aggregator", *news.args("crawl"), prefix=prefix, env=child_env(HOME=str(top))
        )
        assert result.returncode == 1, result.stdout + result.stderr
        expected = f"{db}.lock: Permission denied" if what == "folder" else f"{db}: "
        assert result.stderr.startswith(f"Error: {expected}"), result.stderr
        assert "Traceback" not in result.stderr, result.stderr
        assert result.stdout == ""  # no summary claiming articles were stored
    finally:
        data.chmod(0o755)
        for path in data.glob("news.db*"):
            path.chmod(0o644)
    try:
        assert committed(db) == before
        assert integrity(db) == "ok"
        # writable again: the next crawl completes and stores the rest
        news.ok("crawl")
        assert len(committed(db)) == 40 * LIST_SOURCES + 1200
    finally:
        shutil.rmtree(top)


def test_a_corrupt_database_is_named_and_never_replaced(
    site: Site, news: News, tmp_path: Path
) -> None:
    db = news.db
    news.ok("crawl")
    with Store(db) as store:
        store.checkpoint()
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'articles'").fetchone()[0]
    conn.close()
    with db.open("r+b") as handle:  # garbage over the articles table's root page
        handle.seek(page_size * (root - 1))
        handle.write(b"\xff" * page_size)
    inode = db.stat().st_ino
    site.advance()
    for command in ("run", "crawl", "export"):
        result = run_newsagg(*news.args(command))
        assert result.returncode == 1, (command, result.stdout, result.stderr)
        assert f"Error: {db}: " in result.stderr, (command, result.stderr)
        assert "Traceback" not in result.stderr, (command, result.stderr)
        # never replaced by a fresh, empty database
        assert db.stat().st_ino == inode, command
        assert {p.name for p in tmp_path.glob("news.db*")} <= {
            "news.db",
            "news.db-shm",
            "news.db-wal",
            "news.db.lock",
        }
    assert integrity(db) != "ok"  # still the corrupt file: nothing pretended to repair it


# -- readers and the crawl ---------------------------------------------------------------------


def test_a_reader_holding_a_transaction_never_fails_a_crawl(site: Site, news: News) -> None:
    db = news.db
    news.ok("crawl", "--only", "list0")
    reader = sqlite3.connect(db, isolation_level=None)
    reader.execute("BEGIN")
    seen = reader.execute("SELECT count(*) FROM articles").fetchone()[0]
    try:
        site.advance()
        news.ok("run")  # writes, checkpoints and exports meanwhile
        assert reader.execute("SELECT count(*) FROM articles").fetchone()[0] == seen
    finally:
        reader.execute("COMMIT")
        reader.close()
    assert len(committed(db)) > seen
    assert integrity(db) == "ok"


def test_queries_work_while_a_crawl_writes(site: Site, news: News) -> None:
    db = news.db
    news.ok("crawl", "--only", "list0")
    site.advance()
    crawl = news.start("crawl")
    codes = []
    while crawl.poll() is None or not codes:
        result = CliRunner().invoke(cli, ["--db", str(db), "query", "Grid", "--format", "json"])
        codes.append(result.exit_code)
        assert result.exit_code in (0, 1), result.output  # 1: nothing matches yet
    _, err = crawl.communicate(timeout=120)
    assert crawl.returncode == 0, err.decode()
    assert len(codes) >= 2
    final = CliRunner().invoke(cli, ["--db", str(db), "query", "Grid", "--format", "json"])
    assert final.exit_code == 0, final.output


# -- temporary files a killed export leaves ----------------------------------------------------

_KILLED_EXPORT = """
import os, signal, sys
from aggregator.cli import main
calls = 0
real_replace = os.replace
def replace(src, dst):
    global calls
    calls += 1
    if calls == 3:  # two feeds replaced, the others still in their temporary files
        os.kill(os.getpid(), signal.SIGKILL)
    real_replace(src, dst)
os.replace = replace
sys.argv = ["newsagg", *sys.argv[1:]]
main()
"""


def test_a_killed_export_leaves_temporary_files_that_the_next_export_removes(
    site: Site, news: News, tmp_path: Path
) -> None:
    news.ok("run")
    feeds = tmp_path / "feeds"
    site.advance()
    news.ok("crawl")  # every feed changes
    killed = run_child("-c", _KILLED_EXPORT, *news.args("export"))
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    left = sorted(feeds.rglob(".*.tmp"))
    assert left, "no temporary file left: the kill came too late"
    assert check_feeds(feeds) >= 4  # the old or the new complete files, never a partial one
    # not ours to remove: another pattern, and one newer than the next process
    others = [feeds / ".notes.tmp", feeds / "keep.tmp", feeds / ".all.xml.tmp"]
    for path in others:
        path.write_text("mine", "utf-8")
    fresh = feeds / ".all.xml.abcd1234.tmp"
    fresh.write_text("being written", "utf-8")
    os.utime(fresh, (time.time() + 3600, time.time() + 3600))
    checked = run_child("-m", "aggregator", *news.args("doctor", "--out", str(feeds)), timeout=60)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    warning = next(line for line in checked.stdout.splitlines() if "feeds" in line.split()[:2])
    assert warning.startswith("warn ") and "temporary files left by a killed export" in warning
    assert f"; {len(left)} temporary files" in warning
    assert left[0].name in warning
    assert all(path.exists() for path in left)  # doctor changes nothing
    news.ok("export")
    assert not any(path.exists() for path in left)
    assert all(path.exists() for path in [*others, fresh])
    assert sorted(feeds.rglob(".*.tmp")) == sorted([feeds / ".notes.tmp", fresh, others[2]])
    assert check_feeds(feeds) >= 4


def test_datasette_answers_while_a_crawl_writes(site: Site, news: News) -> None:
    """Datasette (its own test client, the shipped configuration) on the database a CLI crawl
    in another process is writing: every request answers 200, counts never go back."""
    import asyncio

    import yaml
    from datasette.app import Datasette

    db = news.db
    news.ok("crawl", "--only", "list0")
    site.advance()
    config = yaml.safe_load((ROOT / "datasette.yaml").read_text("utf-8"))
    metadata = yaml.safe_load((ROOT / "metadata.yaml").read_text("utf-8"))
    sql = "/news/-/query.json?sql=select+count(*)+as+n+from+articles&_shape=array"

    async def read_during(crawl: subprocess.Popen[bytes]) -> list[int]:
        datasette = Datasette([str(db)], config=config, metadata=metadata)
        await datasette.invoke_startup()
        counts: list[int] = []
        while crawl.poll() is None or not counts:
            for url in (
                "/news/articles.json?_shape=objects&_size=5",
                "/news/todays_stories.json?_shape=objects",
                "/news/search.json?q=storage&_shape=objects",
            ):
                response = await datasette.client.get(url)
                assert response.status_code == 200, (url, response.text[:500])
            response = await datasette.client.get(sql)
            assert response.status_code == 200, response.text[:500]
            counts.append(response.json()[0]["n"])
            await asyncio.sleep(0.05)
        response = await datasette.client.get(sql)  # and once the crawl is over
        counts.append(response.json()[0]["n"])
        return counts

    crawl = news.start("crawl")
    try:
        counts = asyncio.run(read_during(crawl))
    finally:
        _, err = crawl.communicate(timeout=120)
    assert crawl.returncode == 0, err.decode()
    assert len(counts) >= 2
    assert counts == sorted(counts), counts  # committed rows only ever appear
    assert counts[0] >= 40
    assert counts[-1] == len(committed(db)) == 40 + 40 * LIST_SOURCES + 1200
