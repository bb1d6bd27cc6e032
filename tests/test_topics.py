"""Topics: the taxonomy file, the matcher, tagging at ingest, article_topics, retag."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
import sqlite_utils
from click.testing import CliRunner

from aggregator.cli import cli
from aggregator.errors import ConfigError
from aggregator.items import Article
from aggregator.normalize import normalize
from aggregator.store import MIGRATIONS, SCHEMA_VERSION, Store
from aggregator.topics import (
    BUNDLED_TOPICS,
    Topic,
    load_taxonomy,
    parse_taxonomy,
    resolve_topics_path,
)
from tests.conftest import NOW, ROOT

TAXONOMY = load_taxonomy(ROOT / "data" / "topics.toml")


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("国家能源局：一季度光伏新增装机创新高", {"solar", "policy"}),
        ("Offshore wind auction draws record bids", {"wind", "tender"}),
        ("PV module prices fall again", {"solar"}),
        ("PVC pipe maker expands", set()),  # "PV" is a whole word, not part of PVC
        ("Battery storage tender opens in Texas", {"storage", "tender"}),
        ("钙钛矿太阳能电池效率突破", {"solar"}),  # solar cells are not storage
        ("储能电池出货量翻倍", {"storage"}),
        ("绿氢项目开工，电解槽订单大增", {"hydrogen"}),
        ("华龙一号核电机组并网", {"nuclear"}),
        ("特高压输电工程获批", {"grid"}),
        ("LNG imports rise as natural gas prices drop", {"oil-gas"}),
        ("Greenhouse gas emissions fell in 2025", set()),  # exclusion: not oil & gas
        ("电煤价格回落", {"coal"}),
        ("Charcoal grills are popular", set()),
        ("SOLAR FARM approved", {"solar"}),  # case does not matter
        ("2026年电网设备集采中标候选人公示", {"grid", "tender"}),
    ],
)
def test_bundled_taxonomy_matches(title: str, expected: set[str]) -> None:
    assert TAXONOMY.match(title) == expected


def test_every_bundled_topic_has_a_chinese_and_an_english_keyword() -> None:
    slugs = [topic.slug for topic in TAXONOMY.topics]
    assert slugs[:3] == ["solar", "wind", "storage"]
    assert {"hydrogen", "nuclear", "grid", "oil-gas", "coal", "policy", "tender"} <= set(slugs)
    for topic in TAXONOMY.topics:
        assert any(not k.isascii() for k in topic.keywords), topic.slug
        assert any(k.isascii() for k in topic.keywords), topic.slug
        assert topic.slug.isascii()


def test_snippet_counts_and_exclusion_wins() -> None:
    topic = Topic.build("solar", "Solar", ["光伏"], ["光伏电池"])
    assert topic.matches("行业动态\n光伏装机")
    assert not topic.matches("光伏电池产能过剩")
    tax = parse_taxonomy({"topic": [{"slug": "solar", "keywords": ["光伏"]}]})
    assert tax.match("行业动态", "今年光伏装机") == {"solar"}
    assert tax.tag({"title": "风电", "snippet": ""}, ["wind"]) == ["wind"]
    assert tax.tag({"title": "光伏", "snippet": ""}, ["wind"]) == ["solar", "wind"]


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({"topic": [{"slug": "Solar", "keywords": ["x"]}]}, "field 'slug'"),
        ({"topic": [{"slug": "光伏", "keywords": ["x"]}]}, "ASCII slug"),
        ({"topic": [{"slug": "solar"}]}, "field 'keywords': required"),
        ({"topic": [{"slug": "solar", "keywords": "光伏"}]}, "list of non-empty strings"),
        ({"topic": [{"slug": "solar", "keywords": ["x"], "colour": 1}]}, "unknown key"),
        ({"topic": [{"slug": "a", "keywords": ["x"]}, {"slug": "a", "keywords": ["y"]}]}, "dup"),
        ({"topics": []}, "unknown top-level key"),
    ],
)
def test_bad_taxonomy_is_a_clear_error(data: dict, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem) as info:
        parse_taxonomy(data, "t.toml")
    assert str(info.value).startswith("t.toml: ")


def test_topics_file_resolution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NEWSAGG_TOPICS", raising=False)
    monkeypatch.chdir(tmp_path)
    assert resolve_topics_path(None) == BUNDLED_TOPICS  # cron's $HOME has no data/
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "topics.toml").write_text("")
    assert resolve_topics_path(None) == Path("data") / "topics.toml"
    monkeypatch.setenv("NEWSAGG_TOPICS", str(tmp_path / "missing.toml"))
    with pytest.raises(ConfigError, match="NEWSAGG_TOPICS"):
        resolve_topics_path(None)
    with pytest.raises(ConfigError, match="not found"):
        resolve_topics_path(tmp_path / "nope.toml")
    (tmp_path / "bad.toml").write_text("[[topic]\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_taxonomy(tmp_path / "bad.toml")


def row(title: str, source: str = "bjx", i: int = 0, topics: list[str] | None = None) -> dict:
    article = Article(
        url=f"https://e.com/{source}/{i}",
        source=source,
        title=title,
        published_at=NOW,
        published_precision="minute",
        published_from="list",
        topics=topics or [],
    )
    result = normalize(article, None, NOW)
    assert result is not None
    return result


def stored_topics(store: Store) -> dict[int, tuple[list[str], list[str]]]:
    """article id -> (articles.topics, article_topics rows)."""
    table: dict[int, list[str]] = {}
    for article_id, topic in store.conn.execute(
        "SELECT article_id, topic FROM article_topics ORDER BY 1, 2"
    ):
        table.setdefault(article_id, []).append(topic)
    return {
        article_id: (json.loads(topics), table.get(article_id, []))
        for article_id, topics in store.conn.execute("SELECT id, topics FROM articles")
    }


def test_tagging_at_ingest_fills_both_places(db: Store) -> None:
    def tagger(r: dict) -> list[str]:
        return TAXONOMY.tag(r, ["solar"] if r["source"] == "bjx" else [])

    result = db.upsert_articles(
        [row("风电项目招标", "bjx", 1), row("Grid upgrade plan", "pvm", 2)], NOW, tagger=tagger
    )
    a, b = result.new_ids
    assert stored_topics(db) == {
        a: (["solar", "tender", "wind"], ["solar", "tender", "wind"]),
        b: (["grid"], ["grid"]),
    }
    # a changed title is tagged again; the mirror follows
    db.upsert_articles([row("Grid upgrade plan for hydrogen hubs", "pvm", 2)], NOW, tagger=tagger)
    assert stored_topics(db)[b] == (["grid", "hydrogen"], ["grid", "hydrogen"])
    assert db.article_topics() == ["grid", "hydrogen", "solar", "tender", "wind"]
    assert [r["id"] for r in db.articles(topic="hydrogen")] == [b]


def test_without_a_tagger_rows_keep_their_topics(db: Store) -> None:
    [a] = db.upsert_articles([row("x", topics=["solar"])], NOW).new_ids
    assert stored_topics(db) == {a: (["solar"], ["solar"])}


def test_retag_recomputes_after_a_rule_change(db: Store) -> None:
    db.upsert_articles([row("光伏电站", i=1), row("风电场", i=2), row("油价", i=3)], NOW)
    old = parse_taxonomy({"topic": [{"slug": "solar", "keywords": ["光伏"]}]})
    assert db.retag(lambda r: old.tag(r)) == 1
    new = parse_taxonomy(
        {
            "topic": [
                {"slug": "solar", "keywords": ["光伏"], "exclude": ["电站"]},
                {"slug": "wind", "keywords": ["风电"]},
            ]
        }
    )
    assert db.retag(lambda r: new.tag(r), batch=2) == 2  # solar removed, wind added
    assert sorted(v for v, _ in stored_topics(db).values()) == [[], [], ["wind"]]
    assert db.retag(lambda r: new.tag(r)) == 0  # a re-run changes nothing


def test_retag_command(tmp_path: Path) -> None:
    db_path = tmp_path / "news.db"
    with Store(db_path) as store:
        store.upsert_articles([row("光伏组件降价", "bjx", 1), row("核电机组并网", "ne", 2)], NOW)
    sources = tmp_path / "sources.toml"
    sources.write_text(
        '[[source]]\nname = "bjx"\nkind = "feed"\nurls = ["https://b.org/f"]\ntopics = ["solar"]\n'
        '[[source]]\nname = "ne"\nkind = "feed"\nurls = ["https://n.org/f"]\n',
        "utf-8",
    )
    topics = tmp_path / "topics.toml"
    topics.write_text('[[topic]]\nslug = "nuclear"\nkeywords = ["核电"]\n', "utf-8")
    args = ["--db", str(db_path), "--sources", str(sources), "--topics", str(topics), "retag"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "2 of 2 articles re-tagged (1 topics)"
    with Store(db_path) as store:
        assert [v for v, _ in stored_topics(store).values()] == [["solar"], ["nuclear"]]
    again = CliRunner().invoke(cli, args)
    assert again.output.startswith("0 of 2")


def test_retag_bad_topics_file_is_a_usage_error(tmp_path: Path) -> None:
    bad = tmp_path / "topics.toml"
    bad.write_text('[[topic]]\nslug = "Bad Slug"\nkeywords = ["x"]\n', "utf-8")
    result = CliRunner().invoke(
        cli, ["--topics", str(bad), "--db", str(tmp_path / "n.db"), "retag"]
    )
    assert result.exit_code == 2
    assert "topic 'Bad Slug': field 'slug'" in result.output


def test_upgrade_from_version_2_fills_article_topics(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    db = sqlite_utils.Database(conn)
    for migration in MIGRATIONS[:2]:  # a version-2 file, built by the real migrations
        migration(db)
    conn.execute("PRAGMA user_version = 2")
    conn.execute(
        "INSERT INTO articles (id, url, canonical_url, source, title, first_seen_at, "
        "last_seen_at, topics, story_id) VALUES (1, 'u', 'u', 's', 't', "
        "'2026-02-25T00:00:00Z', '2026-02-25T00:00:00Z', '[\"solar\",\"wind\"]', 1)"
    )
    conn.commit()
    conn.close()
    with Store(path) as store:
        assert store.schema_version == SCHEMA_VERSION
        assert stored_topics(store) == {1: (["solar", "wind"], ["solar", "wind"])}


def test_feed_version_moves_only_for_what_feeds_show(db: Store) -> None:
    start = db.feed_version()
    [a] = db.upsert_articles([row("光伏")], NOW).new_ids
    after_insert = db.feed_version()
    assert after_insert > start
    db.upsert_articles([row("光伏")], NOW)  # seen again: last_seen_at only
    assert db.feed_version() == after_insert
    db.upsert_articles([row("光伏 新标题")], NOW)
    assert db.feed_version() > after_insert
    moved = db.feed_version()
    with db.write() as conn:
        conn.execute("UPDATE articles SET story_id = 99 WHERE id = ?", (a,))
    assert db.feed_version() > moved


def test_a_crawl_tags_at_ingest(tmp_path: Path, sources_file: Path) -> None:
    """The real crawl (in a subprocess): source topics ∪ taxonomy matches, in both places."""
    from tests.conftest import run_newsagg

    db_path = tmp_path / "news.db"
    result = run_newsagg(
        "--db",
        str(db_path),
        "--sources",
        str(sources_file),
        "--topics",
        str(ROOT / "data" / "topics.toml"),
        "crawl",
        "--only",
        "utf8_list",
        "-s",
        "AUTOTHROTTLE_START_DELAY=0",
    )
    assert result.returncode == 0, result.stderr
    with Store(db_path) as store:
        by_title = {
            row["title"]: row["topics"] for row in store.articles(source="utf8_list", limit=None)
        }
        assert by_title["海上风电项目完成首台机组吊装"] == ["solar", "storage", "wind"]
        assert by_title["电网企业加快配电网智能化改造"] == ["grid", "solar", "storage"]
        hydrogen = [t for title, t in by_title.items() if "绿氢" in title]
        assert hydrogen == [["hydrogen", "solar", "storage"]]
        assert all(v == t for v, t in stored_topics(store).values())
