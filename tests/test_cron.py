"""Cron operations through real processes: quiet and verbose output, overlapping runs, a run
killed with SIGKILL, and ``newsagg doctor``."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from aggregator.cli import cli
from aggregator.config import load_sources
from aggregator.lock import lock_holder, run_lock
from aggregator.sitefarm import SiteFarm
from aggregator.store import Store
from tests.conftest import ROOT, run_newsagg

FAST = ["-s", "AUTOTHROTTLE_START_DELAY=0", "-s", "RETRY_TIMES=0"]


def _sources(tmp_path: Path, farm: SiteFarm, *entries: tuple[str, str, str]) -> Path:
    """A sources file with (name, kind, farm path) entries; html ones use the test selectors."""
    text = ""
    for name, kind, path in entries:
        text += f'[[source]]\nname = "{name}"\nkind = "{kind}"\nurls = ["{farm.url}{path}"]\n'
        if kind == "html":
            text += (
                '[source.selectors]\nitem = "ul.news li"\ntitle = "a"\n'
                'link = "a::attr(href)"\nsnippet = "p"\ndate = "span.time"\n'
            )
    path = tmp_path / "sources.toml"
    path.write_text(text, "utf-8")
    return path


def _start(*args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSAGG_")}
    return subprocess.Popen(
        [sys.executable, "-m", "aggregator", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )


def _wait_for_lock(db: Path, process: subprocess.Popen[str], timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        holder = lock_holder(db)
        if holder is not None:
            return holder
        assert process.poll() is None, process.communicate()
        time.sleep(0.05)
    raise AssertionError("the run never took the lock")


def test_quiet_prints_only_the_summary(tmp_path: Path, farm: SiteFarm) -> None:
    sources = _sources(tmp_path, farm, ("feed", "feed", "feed_rss/rss.xml"), ("gone", "html", "x/"))
    db = str(tmp_path / "news.db")
    quiet = run_newsagg("--db", db, "--sources", str(sources), "-q", "run", *FAST)
    assert quiet.returncode == 0, quiet.stderr
    feeds = tmp_path / "feeds"  # every feed, feeds.opml and index.html (not hidden state)
    files = sum(1 for p in feeds.rglob("*") if p.is_file() and not p.name.startswith("."))
    assert quiet.stdout.splitlines() == [
        f"2 sources, 5 new, 0 updated, 1 failed: gone (HTTP 404); {files} feeds in "
        f"{feeds}, {files} written, 0 unchanged"
    ]
    assert quiet.stderr == ""
    # without -q the failing source is reported on stderr too (named: it is backing off now)
    normal = run_newsagg("--db", db, "--sources", str(sources), "crawl", "--only", "gone", *FAST)
    assert "source gone failed: HTTP 404" in normal.stderr


def test_verbose_logs_without_colour_when_not_a_tty(tmp_path: Path, farm: SiteFarm) -> None:
    sources = _sources(tmp_path, farm, ("feed", "feed", "feed_rss/rss.xml"))
    db = str(tmp_path / "news.db")
    result = run_newsagg("--db", db, "--sources", str(sources), "-v", "crawl", *FAST)
    assert result.returncode == 0, result.stderr
    assert "[scrapy.core.engine] INFO: Spider opened" in result.stderr
    assert "\x1b[" not in result.stderr + result.stdout
    assert "\r" not in result.stderr  # no progress line off a terminal
    assert result.stdout.strip() == "1 source, 5 new, 0 updated, 0 failed"


def test_quiet_and_verbose_exclude_each_other() -> None:
    result = CliRunner().invoke(cli, ["-q", "-v", "doctor"])
    assert result.exit_code == 2
    assert "exclude each other" in result.output


def test_overlapping_runs_exactly_one_crawls(tmp_path: Path, farm: SiteFarm) -> None:
    sources = _sources(tmp_path, farm, ("slow3", "html", "_farm/slow/3/utf8_list/"))
    db = tmp_path / "news.db"
    first = _start("--db", str(db), "--sources", str(sources), "run", *FAST)
    holder = _wait_for_lock(db, first)
    assert holder == str(first.pid)
    second = run_newsagg("--db", str(db), "--sources", str(sources), "run", *FAST)
    assert first.poll() is None  # the second one did not wait for the first
    assert second.returncode == 75
    assert second.stdout == ""
    assert f"{db}.lock is held by pid {first.pid}: another run is in progress" in second.stderr
    out, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    assert out.startswith("1 source, 5 new")
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT count(*) FROM runs").fetchone()[0] == 1
    conn.close()


def test_a_run_killed_with_sigkill_leaves_no_stale_lock(tmp_path: Path, farm: SiteFarm) -> None:
    sources = _sources(
        tmp_path,
        farm,
        ("slow", "html", "_farm/slow/30/utf8_list/"),
        ("feed", "feed", "feed_rss/rss.xml"),
    )
    db = tmp_path / "news.db"
    killed = _start("--db", str(db), "--sources", str(sources), "run", *FAST)
    _wait_for_lock(db, killed)
    time.sleep(0.5)  # let it get into the crawl
    killed.send_signal(signal.SIGKILL)
    killed.communicate()
    assert killed.returncode == -signal.SIGKILL
    assert (tmp_path / "news.db.lock").read_text().strip() == str(killed.pid)  # the file stays
    assert lock_holder(db) is None  # but nobody holds it
    result = run_newsagg("--db", str(db), "--sources", str(sources), "run", "--only", "feed", *FAST)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("1 source, 5 new")


# -- doctor ------------------------------------------------------------------------------------


def _doctor(db: Path, sources: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--db", str(db), "--sources", str(sources), *args, "doctor"])
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def healthy(tmp_path: Path, sources_file: Path) -> tuple[Path, Path]:
    db = tmp_path / "data" / "news.db"
    with Store(db) as store:
        store.sync_sources([])
    (db.parent / "feeds").mkdir()
    return db, sources_file


def test_doctor_all_ok(healthy: tuple[Path, Path]) -> None:
    db, sources = healthy
    code, out, _err = _doctor(db, sources)
    assert code == 0, out
    lines = out.splitlines()
    assert [line.split()[:2] for line in lines[:-1]] == [
        ["ok", "config"],
        ["ok", "database"],
        ["ok", "writable"],
        ["ok", "feeds"],
        ["ok", "lock"],
        ["ok", "last"],
        ["ok", "url"],
    ]
    assert "quick_check ok" in out
    assert lines[-1] == "7 checks, all ok"
    assert not list(db.parent.glob(".newsagg-doctor.*"))
    assert not list((db.parent / "feeds").iterdir())


def test_doctor_reports_a_held_lock_without_failing(healthy: tuple[Path, Path]) -> None:
    db, sources = healthy
    with run_lock(db):
        code, out, _err = _doctor(db, sources)
    assert code == 0
    assert f"lock is held by pid {os.getpid()}: a run is in progress" in out


def test_doctor_fails_on_a_bad_configuration(healthy: tuple[Path, Path], tmp_path: Path) -> None:
    db, _sources = healthy
    bad = tmp_path / "bad.toml"
    bad.write_text('[[source]]\nname = "x"\nkind = "rss"\nurls = ["https://a.example/"]\n')
    code, out, _err = _doctor(db, bad)
    assert code == 1
    assert f"FAIL config      {bad}: source 'x': field 'kind'" in out
    assert out.splitlines()[-1] == "7 checks, 1 failed: config"


def test_doctor_fails_on_a_corrupt_database(healthy: tuple[Path, Path]) -> None:
    db, sources = healthy
    _corrupt(db)
    before = db.read_bytes()
    code, out, _err = _doctor(db, sources)
    assert code == 1
    assert "FAIL database" in out and str(db) in out
    assert db.read_bytes() == before  # looked at, never repaired or replaced


def test_doctor_fails_on_a_file_that_is_not_a_database(healthy: tuple[Path, Path]) -> None:
    db, sources = healthy
    db.write_bytes(b"this is not sqlite" * 100)
    code, out, _err = _doctor(db, sources, "-q")
    assert code == 1
    assert out.splitlines()[-1].startswith("7 checks, 3 failed: database, writable, last run")


def test_doctor_fails_when_the_feeds_folder_is_a_file(healthy: tuple[Path, Path]) -> None:
    db, sources = healthy
    feeds = db.parent / "feeds"
    feeds.rmdir()
    feeds.write_text("not a folder")
    code, out, _err = _doctor(db, sources)
    assert code == 1
    assert f"FAIL feeds       {feeds} is not a folder" in out


def test_doctor_warns_when_the_url_rules_changed(healthy: tuple[Path, Path]) -> None:
    db, sources = healthy
    code, out, _err = _doctor(db, sources)
    assert "ok   url rules   stored URLs follow the configured rules" in out
    changed = sources.with_name("aliased.toml")
    changed.write_text("[urls]\nstrip_www = true\n\n" + sources.read_text())
    code, out, _err = _doctor(db, changed)
    assert code == 0  # a warning, not a failure: the next crawl applies them
    assert "warn url rules   the configured URL rules differ" in out
    with Store(db) as store:
        store.apply_url_rules(load_sources(changed)[0].url_rules)
    code, out, _err = _doctor(db, changed)
    assert "ok   url rules   stored URLs follow the configured rules" in out


def test_doctor_on_the_last_run(healthy: tuple[Path, Path]) -> None:
    db, sources = healthy
    with Store(db) as store:
        run_id = store.start_run()
    code, out, _err = _doctor(db, sources)
    assert code == 0
    assert f"run {run_id} started" in out and "never finished (killed?)" in out
    with Store(db) as store:
        store.finish_run(run_id, "failed", {})
    code, out, _err = _doctor(db, sources)
    assert code == 1
    assert f"FAIL last run    run {run_id} failed" in out


def _corrupt(db: Path) -> None:
    """Fill the articles table over several pages, then overwrite a page in the middle."""
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode = DELETE")
    conn.execute("CREATE TABLE filler (id INTEGER PRIMARY KEY, body TEXT)")
    conn.executemany("INSERT INTO filler (body) VALUES (?)", [("x" * 500,) for _ in range(200)])
    conn.execute("CREATE INDEX filler_body ON filler (body)")
    conn.commit()
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.close()
    with db.open("r+b") as handle:
        handle.seek(page_size * (pages // 2))
        handle.write(os.urandom(page_size))


def _crawl_on_a_terminal(tmp_path: Path, farm: SiteFarm, *extra: str) -> tuple[int, str, str]:
    """Run a crawl whose stderr is a pseudo-terminal; return (exit code, stdout, terminal)."""
    import pty

    sources = _sources(tmp_path, farm, ("feed", "feed", "feed_rss/rss.xml"))
    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSAGG_")}
    base = ["--db", str(tmp_path / "news.db"), "--sources", str(sources), *extra]
    process = subprocess.Popen(
        [sys.executable, "-m", "aggregator", *base, "crawl", *FAST],
        stdout=subprocess.PIPE,
        stderr=slave,
        text=True,
        env=env,
        cwd=ROOT,
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # the terminal closed: the process is gone
            break
        if not chunk:
            break
        chunks.append(chunk)
    out, _ = process.communicate(timeout=120)
    os.close(master)
    return process.returncode, out, b"".join(chunks).decode("utf-8", "replace")


def test_a_progress_line_on_a_terminal_only(tmp_path: Path, farm: SiteFarm) -> None:
    code, out, terminal = _crawl_on_a_terminal(tmp_path, farm)
    assert code == 0
    assert "\r  " in terminal and "items" in terminal
    assert terminal.rstrip().endswith("queued")  # the last redraw, then a newline
    assert "\r" not in out  # stdout (the summary) is never decorated
    (tmp_path / "q").mkdir()
    quiet_code, _out, quiet_terminal = _crawl_on_a_terminal(tmp_path / "q", farm, "-q")
    assert quiet_code == 0
    assert quiet_terminal == ""
