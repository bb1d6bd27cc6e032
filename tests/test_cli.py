"""Commands that do not crawl, through click's CliRunner."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from aggregator.cli import cli
from aggregator.items import Article
from aggregator.normalize import normalize
from aggregator.sitefarm import SiteFarm
from aggregator.store import ARTICLE_COLUMNS, Store
from tests.conftest import NOW, SITES


@pytest.fixture
def filled_db(db_path: Path) -> Path:
    rows = [
        normalize(
            Article(
                url=f"https://e.com/{i}",
                source=src,
                title=title,
                snippet="snippet",
                published_at=NOW.replace(day=day),
                published_precision="minute",
                published_from="list",
                topics=topics,
            ),
            None,
            NOW,
        )
        for i, (src, title, day, topics) in enumerate(
            [
                ("alpha", "光伏组件价格继续下行", 20, ["solar"]),
                ("alpha", "风电装机创新高", 22, ["wind"]),
                ("beta", "储能电站并网 光伏配套", 24, ["solar", "storage"]),
            ]
        )
    ]
    with Store(db_path) as store:
        store.upsert_articles([r for r in rows if r], NOW)
    return db_path


def invoke(*args: str) -> object:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_query_table_newest_first(filled_db: Path) -> None:
    result = invoke("--db", str(filled_db), "query", "光伏")
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert "储能电站并网 光伏配套" in lines[0]
    assert "光伏组件价格继续下行" in lines[2]
    assert lines[-1] == "2 articles"


def test_query_json_uses_column_names(filled_db: Path) -> None:
    result = CliRunner().invoke(
        cli, ["--db", str(filled_db), "query", "--format", "json", "--source", "alpha"]
    )
    rows = json.loads(result.stdout)
    assert [r["title"] for r in rows] == ["风电装机创新高", "光伏组件价格继续下行"]
    assert tuple(rows[0]) == ARTICLE_COLUMNS
    assert rows[0]["topics"] == ["wind"]


def test_query_csv_and_since_and_limit(filled_db: Path) -> None:
    result = CliRunner().invoke(
        cli,
        [
            "--db",
            str(filled_db),
            "query",
            "--since",
            "2026-02-21",
            "--format",
            "csv",
            "--limit",
            "1",
        ],
    )
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["title"] for r in rows] == ["储能电站并网 光伏配套"]
    assert json.loads(rows[0]["topics"]) == ["solar", "storage"]


def test_query_bad_since_is_a_usage_error(filled_db: Path) -> None:
    result = CliRunner().invoke(cli, ["--db", str(filled_db), "query", "--since", "yesterday-ish"])
    assert result.exit_code == 2
    assert "--since" in result.output


def test_query_without_database_says_so(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["--db", str(tmp_path / "none.db"), "query", "x"])
    assert result.exit_code == 2
    assert "no database yet" in result.output
    assert not (tmp_path / "none.db").exists()


def test_export_writes_feeds_beside_the_database(filled_db: Path, tmp_path: Path) -> None:
    topics = tmp_path / "topics.toml"
    topics.write_text('[[topic]]\nslug = "solar"\nname = "光伏"\nkeywords = ["光伏"]\n', "utf-8")
    result = invoke("--db", str(filled_db), "--topics", str(topics), "export")
    feeds = filled_db.parent / "feeds"
    assert result.exit_code == 0
    assert result.output.strip() == f"10 feeds in {feeds}, 10 written, 0 unchanged"
    names = sorted(str(p.relative_to(feeds)) for p in feeds.rglob("*.xml"))
    assert names == [
        "all.xml",
        "digest-daily.xml",
        "digest-weekly.xml",
        "sources/alpha.xml",
        "sources/beta.xml",
        "topics/solar.xml",
        "topics/storage.xml",
        "topics/wind.xml",
    ]
    assert (feeds / "feeds.opml").is_file() and (feeds / "index.html").is_file()
    again = invoke("--db", str(filled_db), "--topics", str(topics), "export", "--out", str(feeds))
    assert again.output.strip().endswith("0 written, 10 unchanged")


def test_sources_lists_health(filled_db: Path, tmp_path: Path) -> None:
    sources = tmp_path / "s.toml"
    sources.write_text(
        '[[source]]\nname = "alpha"\nkind = "feed"\nurls = ["https://a.org/f.xml"]\n'
        '[[source]]\nname = "off"\nkind = "feed"\nurls = ["https://b.org/f.xml"]\n'
        "enabled = false\n",
        "utf-8",
    )
    with Store(filled_db) as store:

        class Alpha:
            name, title, kind, url = "alpha", "Alpha", "feed", "https://a.org/f.xml"

        store.sync_sources([Alpha()])
        store.record_source_run("alpha", ok=False, new=0, error="HTTP 503", now=NOW)
    result = invoke("--db", str(filled_db), "--sources", str(sources), "sources")
    lines = result.output.splitlines()
    assert lines[0].startswith("alpha")
    assert "2 articles" in lines[0]
    assert "FAILING x1: HTTP 503" in lines[0]
    assert "disabled" in lines[1]
    assert lines[-1] == "2 sources, 1 failing"


def test_missing_sources_file_names_what_was_tried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NEWSAGG_SOURCES", raising=False)
    result = CliRunner().invoke(cli, ["sources"])
    assert result.exit_code == 2
    assert "--sources" in result.output and "NEWSAGG_SOURCES" in result.output
    assert str(tmp_path / "data" / "sources.toml") in result.output


def test_bad_setting_syntax_is_a_usage_error(tmp_path: Path) -> None:
    sources = tmp_path / "s.toml"
    sources.write_text("", "utf-8")
    result = CliRunner().invoke(
        cli, ["--db", str(tmp_path / "n.db"), "--sources", str(sources), "crawl", "-s", "NOEQUALS"]
    )
    assert result.exit_code == 2
    assert "NAME=VALUE" in result.output


def test_preview_feed_file_in_document_order() -> None:
    result = CliRunner().invoke(
        cli, ["preview", str(SITES / "feed_rss" / "rss.xml"), "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["kind"] == "feed"
    assert len(data["items"]) == 5
    assert set(data["items"][0]) >= {
        "url",
        "canonical_url",
        "title",
        "snippet",
        "published_at",
        "published_precision",
        "published_from",
        "guid",
        "flags",
    }


def test_preview_list_with_a_source_from_the_farm(farm: SiteFarm, sources_file: Path) -> None:
    result = CliRunner().invoke(
        cli,
        [
            "--sources",
            str(sources_file),
            "preview",
            farm.url + "gbk_list/",
            "--source",
            "gbk_list",
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["kind"] == "list"
    assert len(data["items"]) == 5
    assert all(item["source"] == "gbk_list" for item in data["items"])
    assert all(item["canonical_url"].startswith(farm.url) for item in data["items"])


def test_preview_article_page(farm: SiteFarm) -> None:
    result = CliRunner().invoke(
        cli,
        [
            "preview",
            farm.url + "utf8_list/a/4.html",
            "--article",
            "--timezone",
            "Asia/Shanghai",
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    item = json.loads(result.stdout)["items"][0]
    assert item["title"] == "国家级绿氢示范项目首批电解槽完成安装调试并进入试运行阶段"
    assert item["published_from"] == "article"
    assert item["published_at"].endswith("Z")


def test_preview_html_without_source_explains(farm: SiteFarm) -> None:
    result = CliRunner().invoke(cli, ["preview", farm.url + "utf8_list/"])
    assert result.exit_code == 1
    assert "--source NAME" in result.output and "--article" in result.output


def test_preview_table(farm: SiteFarm) -> None:
    result = CliRunner().invoke(cli, ["preview", farm.url + "feed_atom/atom.xml"])
    assert result.exit_code == 0
    assert result.output.splitlines()[-1] == "feed: 3 items"


def test_preview_unknown_timezone(farm: SiteFarm) -> None:
    result = CliRunner().invoke(
        cli, ["preview", farm.url + "feed_atom/atom.xml", "--timezone", "Mars/Olympus"]
    )
    assert result.exit_code == 2


def test_preview_404_is_a_clear_error(farm: SiteFarm) -> None:
    result = CliRunner().invoke(cli, ["preview", farm.url + "_farm/status/404"])
    assert result.exit_code == 1
    assert "404" in result.output


def test_a_file_that_is_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    bogus = tmp_path / "news.db"
    bogus.write_bytes(b"this is not sqlite" * 100)
    # query exits 2 on an error (1 means "no matches"); export exits 1
    for args, code in ((["query", "x"], 2), (["export"], 1)):
        result = CliRunner().invoke(cli, ["--db", str(bogus), *args])
        assert result.exit_code == code, result.output
        assert "cannot use this file as the news database" in result.output
    assert bogus.read_bytes() == b"this is not sqlite" * 100  # untouched


# -- query, prune, backup, schema (issue 7) --------------------------------------------------


def test_query_exit_codes_are_0_with_matches_1_without_2_on_error(filled_db: Path) -> None:
    assert invoke("--db", str(filled_db), "query", "风电").exit_code == 0
    none = invoke("--db", str(filled_db), "query", "核电")
    assert none.exit_code == 1
    assert none.output.strip() == "0 articles"
    bad = CliRunner().invoke(cli, ["--db", str(filled_db), "query", "--", "-光伏"])
    assert bad.exit_code == 2
    assert "nothing to search for" in bad.output


def test_query_syntax_through_the_cli(filled_db: Path) -> None:
    def titles(*args: str) -> list[str]:
        result = CliRunner().invoke(
            cli, ["--db", str(filled_db), "query", *args, "--format", "json"]
        )
        return [r["title"] for r in json.loads(result.stdout)]

    assert titles("光伏 -储能") == ["光伏组件价格继续下行"]
    assert titles("风电 OR 储能电站") == ["储能电站并网 光伏配套", "风电装机创新高"]
    assert titles("电站并网") == ["储能电站并网 光伏配套"]
    assert titles("--topic", "solar") == ["储能电站并网 光伏配套", "光伏组件价格继续下行"]
    assert sorted(titles("光伏", "--rank", "relevance")) == sorted(titles("光伏"))
    no_text = CliRunner().invoke(cli, ["--db", str(filled_db), "query", "--rank", "relevance"])
    assert no_text.exit_code == 2


def test_query_ndjson_one_object_per_line(filled_db: Path) -> None:
    result = CliRunner().invoke(cli, ["--db", str(filled_db), "query", "--format", "ndjson"])
    lines = result.stdout.splitlines()
    assert [json.loads(line)["title"] for line in lines] == [
        "储能电站并网 光伏配套",
        "风电装机创新高",
        "光伏组件价格继续下行",
    ]
    assert result.stderr.strip() == "3 articles"


def test_query_highlights_only_when_asked_or_on_a_terminal(filled_db: Path) -> None:
    plain = invoke("--db", str(filled_db), "query", "光伏")
    assert "\x1b[" not in plain.output  # CliRunner's stdout is not a terminal
    coloured = invoke("--db", str(filled_db), "query", "光伏", "--highlight")  # piped, but asked
    assert "\x1b[31m\x1b[1m光伏\x1b[0m组件价格继续下行" in coloured.output


def test_query_stories_groups_by_story_id(filled_db: Path) -> None:
    with Store(filled_db) as store, store.write() as conn:
        conn.execute("UPDATE articles SET story_id = 1 WHERE id IN (1, 3)")
    result = CliRunner().invoke(
        cli, ["--db", str(filled_db), "query", "光伏", "--stories", "--format", "json"]
    )
    (story,) = json.loads(result.stdout)
    assert story["title"] == "光伏组件价格继续下行"  # the earliest published member
    assert story["articles"] == 2
    assert story["sources"] == ["alpha", "beta"]
    table = invoke("--db", str(filled_db), "query", "光伏", "--stories")
    assert "(2 articles: alpha, beta)" in table.output
    assert table.output.splitlines()[-1] == "1 story"


def test_query_new_since_last_run_uses_first_seen(filled_db: Path) -> None:
    later = NOW.replace(hour=9)
    with Store(filled_db) as store:
        run = store.start_run(later)
        new = normalize(
            Article(url="https://e.com/new", source="beta", title="新的光伏", snippet=""),
            None,
            later,
        )
        assert new is not None
        store.upsert_articles([new], later)
        store.finish_run(run, "ok", {}, later)
    result = CliRunner().invoke(
        cli, ["--db", str(filled_db), "query", "--new-since-last-run", "--format", "json"]
    )
    assert [r["title"] for r in json.loads(result.stdout)] == ["新的光伏"]


def test_prune_and_backup_commands(filled_db: Path, tmp_path: Path) -> None:
    target = tmp_path / "copy.db"
    result = invoke("--db", str(filled_db), "backup", str(target))
    assert result.exit_code == 0
    assert f"to {target}" in result.output
    again = CliRunner().invoke(cli, ["--db", str(filled_db), "backup", str(target)])
    assert again.exit_code == 1
    assert "already exists" in again.output
    kept = invoke("--db", str(filled_db), "prune", "--older-than", "2026-02-23")
    assert kept.output.strip().endswith(": 0 articles, 0 runs, 0 pages")  # all seen on the 25th
    pruned = invoke("--db", str(filled_db), "prune", "--older-than", "2026-02-26")
    assert pruned.output.strip().endswith(": 3 articles, 0 runs, 0 pages")
    with Store(filled_db) as store:
        assert store.count_articles() == 0
    with Store(target) as copy:
        assert copy.count_articles() == 3
    bad = CliRunner().invoke(cli, ["--db", str(filled_db), "prune", "--older-than", "soon"])
    assert bad.exit_code == 2


def test_preview_auto_and_article_exclude_each_other(farm: SiteFarm) -> None:
    result = CliRunner().invoke(cli, ["preview", farm.url + "auto_bjx/", "--auto", "--article"])
    assert result.exit_code == 2
    assert "--auto and --article exclude each other" in result.output


def test_preview_a_kind_auto_source_shows_its_chosen_block(farm: SiteFarm, tmp_path: Path) -> None:
    sources = tmp_path / "sources.toml"
    sources.write_text(
        f'[[source]]\nname = "hot"\nkind = "auto"\nurls = ["{farm.url}auto_bjx/"]\n'
        'blocks = ["热门资讯"]\n',
        "utf-8",
    )
    result = CliRunner().invoke(
        cli,
        [
            "--sources",
            str(sources),
            "preview",
            farm.url + "auto_bjx/",
            "--source",
            "hot",
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert [(b["heading"], b["chosen"]) for b in data["blocks"]] == [
        ("光伏要闻", False),
        ("热门资讯", True),
    ]
    assert len(data["items"]) == 8
    assert data["items"][0]["published_at"] is None


def test_preview_auto_on_a_page_without_lists(tmp_path: Path) -> None:
    page = tmp_path / "about.html"
    page.write_text("<html><body><h1>关于我们</h1><p>简介</p></body></html>", "utf-8")
    result = CliRunner().invoke(cli, ["preview", str(page), "--auto", "--format", "json"])
    assert result.exit_code == 0
    assert json.loads(result.output) == {"kind": "list", "blocks": [], "items": []}


def test_counts_are_singular_for_one(filled_db: Path) -> None:
    one = invoke("--db", str(filled_db), "query", "风电装机")
    assert one.exit_code == 0
    assert one.output.splitlines()[-1] == "1 article"


def test_recanon_applies_changed_url_rules_once(tmp_path: Path) -> None:
    db_path = tmp_path / "news.db"
    with Store(db_path) as store:
        store.upsert_articles(
            [
                {**row, "canonical_url": url}
                for row, url in zip(
                    _rows(2), ["https://www.e.cn/1.html", "https://m.e.cn/1.html"], strict=True
                )
            ],
            NOW,
        )
    sources = tmp_path / "sources.toml"
    sources.write_text(
        '[[source]]\nname = "e"\nkind = "feed"\nurls = ["https://e.cn/rss"]\n'
        'host_aliases = ["www.e.cn", "m.e.cn"]\n',
        "utf-8",
    )
    args = ["--db", str(db_path), "--sources", str(sources), "recanon"]
    first = invoke(*args)
    assert first.exit_code == 0, first.output
    assert first.output.startswith("1 canonical URL changed, 1 row merged")
    second = invoke(*args)
    assert second.output.startswith("URL rules unchanged: 1 article as")
    assert invoke(*args, "--force").output.startswith("0 canonical URLs changed, 0 rows merged")
    with Store(db_path) as store:
        assert [r["canonical_url"] for r in store.db.query("SELECT * FROM articles")] == [
            "https://e.cn/1.html"
        ]


@pytest.mark.parametrize("command", ["recanon", "retag"])
def test_a_command_that_locks_without_database_says_so_and_leaves_nothing(
    tmp_path: Path, command: str
) -> None:
    sources = tmp_path / "sources.toml"
    sources.write_text('[[source]]\nname = "e"\nkind = "feed"\nurls = ["https://e.cn/rss"]\n')
    db_path = tmp_path / "data" / "news.db"
    result = invoke("--db", str(db_path), "--sources", str(sources), command)
    assert result.exit_code == 2, result.output
    assert f"{db_path}: no database yet" in result.output
    assert not (tmp_path / "data").exists()  # no folder, no news.db.lock in it
    (tmp_path / "data").mkdir()
    assert invoke("--db", str(db_path), "--sources", str(sources), command).exit_code == 2
    assert list((tmp_path / "data").iterdir()) == []


def _rows(n: int) -> list[dict[str, object]]:
    return [
        normalize(
            Article(source="e", title=f"储能项目{i}", url=f"https://e.cn/{i}.html"), None, NOW
        )
        for i in range(n)
    ]
