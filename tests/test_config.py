"""Sources are data: loading, validating and locating ``sources.toml`` and the database."""

from __future__ import annotations

import tomllib
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from aggregator.config import (
    ArticleSelectors,
    Pagination,
    Selectors,
    Source,
    load_sources,
    parse_sources,
    resolve_db_path,
    resolve_sources_path,
)
from aggregator.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]

VALID = """\
# Two sources: one list page, one feed.
[[source]]
name = "bjx_solar"
title = "  北极星太阳能光伏网 · 要闻  "
kind = "html"
urls = ["https://guangfu.bjx.com.cn/yw/", "https://guangfu.bjx.com.cn/yw/2/"]
enabled = false
language = "zh"
timezone = "Asia/Shanghai"
topics = ["solar", "grid-storage"]
follow = "truncated"
[source.selectors]
item = "div.cc-list-content ul li"
title = "a[title]"
link = "a[title]::attr(href)"
snippet = "p"
date = "span"

[[source]]
name = "eia"
kind = "feed"
urls = "https://www.eia.gov/rss/todayinenergy.xml"
language = "en"
timezone = "America/New_York"
"""

BASE_FIELDS: dict[str, str] = {
    "name": '"bad_one"',
    "kind": '"html"',
    "urls": '["https://example.com/news/"]',
}
BASE_SELECTORS: dict[str, str] = {"item": '"ul li"', "title": '"a"', "link": '"a::attr(href)"'}


def source_toml(
    fields: dict[str, str | None] | None = None,
    selectors: dict[str, str | None] | None = None,
    *,
    with_selectors: bool = True,
) -> str:
    """One [[source]] table: the base fields and selectors with overrides (None drops a key)."""
    merged = {**BASE_FIELDS, **(fields or {})}
    lines = ["[[source]]"] + [
        f"{key} = {value}" for key, value in merged.items() if value is not None
    ]
    if with_selectors:
        chosen = {**BASE_SELECTORS, **(selectors or {})}
        lines.append("[source.selectors]")
        lines += [f"{key} = {value}" for key, value in chosen.items() if value is not None]
    return "\n".join(lines) + "\n"


def write(tmp_path: Path, text: str, name: str = "sources.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, "utf-8")
    return path


def config_error(path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load_sources(path)
    return str(info.value)


# -- a valid file -----------------------------------------------------------------------------


def test_load_valid_file(tmp_path: Path) -> None:
    sources = load_sources(write(tmp_path, VALID))

    assert [s.name for s in sources] == ["bjx_solar", "eia"]
    bjx = sources[0]
    assert bjx.title == "北极星太阳能光伏网 · 要闻"  # stripped
    assert bjx.kind == "html"
    assert bjx.urls == ("https://guangfu.bjx.com.cn/yw/", "https://guangfu.bjx.com.cn/yw/2/")
    assert bjx.url == "https://guangfu.bjx.com.cn/yw/"
    assert bjx.enabled is False
    assert bjx.language == "zh"
    assert bjx.timezone == "Asia/Shanghai"
    assert bjx.tz == ZoneInfo("Asia/Shanghai")
    assert bjx.topics == ("solar", "grid-storage")
    assert bjx.follow == "truncated"
    assert bjx.selectors == Selectors(
        item="div.cc-list-content ul li",
        title="a[title]",
        link="a[title]::attr(href)",
        snippet="p",
        date="span",
    )


def test_feed_source_defaults_and_single_url_string(tmp_path: Path) -> None:
    eia = load_sources(write(tmp_path, VALID))[1]

    assert eia.kind == "feed"
    assert eia.urls == ("https://www.eia.gov/rss/todayinenergy.xml",)  # a string becomes a list
    assert eia.title == "eia"  # the title defaults to the name
    assert eia.selectors is None
    assert eia.enabled is True
    assert eia.follow == "never"
    assert eia.topics == ()
    assert eia.tz == ZoneInfo("America/New_York")


def test_defaults_for_language_and_timezone() -> None:
    (source,) = parse_sources(
        {"source": [{"name": "x", "kind": "feed", "urls": ["https://example.com/rss"]}]}
    )
    assert source.language == "zh"
    assert source.timezone == "Asia/Shanghai"
    assert source.tz == ZoneInfo("Asia/Shanghai")


def test_sources_are_frozen(tmp_path: Path) -> None:
    source = load_sources(write(tmp_path, VALID))[0]
    with pytest.raises(AttributeError):
        source.name = "other"  # type: ignore[misc]


def test_empty_document_has_no_sources() -> None:
    assert parse_sources({}) == []


def test_parse_sources_default_where_label() -> None:
    with pytest.raises(ConfigError, match=r"^<sources>: "):
        parse_sources({"source": [{"name": "x", "kind": "rss"}]})


# -- every error names the file, the source and the field -------------------------------------

FIELD_ERRORS = [
    pytest.param({"colour": '"red"'}, None, "colour", "unknown key", id="unknown-key"),
    pytest.param({"urls": '["not a url"]'}, None, "urls", "'not a url'", id="bad-url"),
    pytest.param(
        {"urls": '["ftp://example.com/feed"]'}, None, "urls", "ftp://example.com", id="ftp-url"
    ),
    pytest.param(
        {"urls": '["javascript:alert(1)"]'}, None, "urls", "absolute http(s)", id="js-url"
    ),
    pytest.param(
        {"urls": '["https://example.com/", "example.com/2"]'},
        None,
        "urls",
        "'example.com/2'",
        id="second-url-relative",
    ),
    pytest.param({"urls": '["https:///path"]'}, None, "urls", "absolute", id="url-no-host"),
    pytest.param({"urls": "[]"}, None, "urls", "required", id="empty-urls"),
    pytest.param({"urls": None}, None, "urls", "required", id="missing-urls"),
    pytest.param({"urls": "[3]"}, None, "urls", "absolute", id="url-not-string"),
    pytest.param({}, {"item": '"li["'}, "selectors.item", "bad CSS selector", id="bad-css"),
    pytest.param(
        {}, {"title": '"a::nope"'}, "selectors.title", "bad CSS selector", id="bad-pseudo"
    ),
    pytest.param({}, {"title": '""'}, "selectors.title", "non-empty", id="empty-selector"),
    pytest.param({}, {"link": "3"}, "selectors.link", "non-empty", id="selector-not-string"),
    pytest.param({}, {"item": None}, "selectors.item", "required", id="missing-item"),
    pytest.param({}, {"title": None}, "selectors.title", "required", id="missing-title"),
    pytest.param({}, {"link": None}, "selectors.link", "required", id="missing-link"),
    pytest.param(
        {}, {"author": '"span.a"'}, "selectors.author", "unknown selector", id="unknown-selector"
    ),
    pytest.param({"kind": '"json"'}, None, "kind", "'json'", id="bad-kind"),
    pytest.param({"kind": None}, None, "kind", "html, feed", id="missing-kind"),
    pytest.param({"follow": '"sometimes"'}, None, "follow", "'sometimes'", id="bad-follow"),
    pytest.param(
        {"timezone": '"Mars/Olympus"'}, None, "timezone", "'Mars/Olympus'", id="bad-timezone"
    ),
    pytest.param({"timezone": '"../etc"'}, None, "timezone", "unknown", id="timezone-path"),
    pytest.param({"timezone": "8"}, None, "timezone", "unknown", id="timezone-number"),
    pytest.param({"topics": '["Solar"]'}, None, "topics", "slugs", id="topic-uppercase"),
    pytest.param({"topics": '["solar pv"]'}, None, "topics", "slugs", id="topic-space"),
    pytest.param({"topics": '["光伏"]'}, None, "topics", "slugs", id="topic-chinese"),
    pytest.param({"topics": '"solar"'}, None, "topics", "list", id="topics-string"),
    pytest.param({"language": '"fr"'}, None, "language", "'fr'", id="bad-language"),
    pytest.param({"enabled": '"yes"'}, None, "enabled", "true or false", id="bad-enabled"),
    pytest.param({"title": '"   "'}, None, "title", "non-empty", id="blank-title"),
    pytest.param({"title": "5"}, None, "title", "non-empty", id="title-number"),
    pytest.param({"encoding": '"klingon"'}, None, "encoding", "unknown", id="bad-encoding"),
    pytest.param({"headers": '{ "Bad Name" = "x" }'}, None, "headers", "table", id="bad-header"),
    pytest.param({"headers": "{ Referer = 3 }"}, None, "headers", "string", id="header-number"),
    pytest.param({"user_agent": '""'}, None, "user_agent", "non-empty", id="blank-ua"),
    pytest.param({"blocks": '["热门资讯"]'}, None, "blocks", "kind = 'auto'", id="blocks-html"),
    pytest.param(
        {"article": '{ title = "h1[" }'}, None, "article.title", "bad CSS", id="article-css"
    ),
    pytest.param(
        {"article": '{ author = "b" }'}, None, "article.author", "unknown", id="article-key"
    ),
    pytest.param(
        {"article": '{ date_format = "YYYY" }'}, None, "article.date_format", "strptime", id="fmt"
    ),
    pytest.param({"date_format": '"YYYY"'}, None, "date_format", "strptime", id="src-fmt"),
    pytest.param({"date_format": "3"}, None, "date_format", "strptime", id="src-fmt-number"),
    pytest.param(
        {"date_format": '"%Y-%m-%d %Q"'}, None, "date_format", "bad strptime", id="src-fmt-bad"
    ),
    pytest.param(
        {"article": '{ date_format = "%d %" }'},
        None,
        "article.date_format",
        "bad strptime",
        id="fmt-stray",
    ),
    pytest.param({"pagination": "{}"}, None, "pagination", "exactly one", id="pagination-empty"),
    pytest.param(
        {"pagination": '{ url_template = "https://e.com/p" }'},
        None,
        "pagination.url_template",
        "{n}",
        id="template-without-n",
    ),
    pytest.param(
        {"pagination": '{ next = "a.next", max_pages = 0 }'},
        None,
        "pagination.max_pages",
        "between",
        id="max-pages-zero",
    ),
]


@pytest.mark.parametrize(("fields", "selectors", "field", "problem"), FIELD_ERRORS)
def test_field_errors_name_file_source_and_field(
    tmp_path: Path,
    fields: dict[str, str | None],
    selectors: dict[str, str | None] | None,
    field: str,
    problem: str,
) -> None:
    path = write(tmp_path, source_toml(fields, selectors))
    message = config_error(path)

    assert message.startswith(f"{path}: ")
    assert "source 'bad_one'" in message
    assert f"field {field!r}" in message
    assert problem in message


def test_html_source_without_selectors_table(tmp_path: Path) -> None:
    path = write(tmp_path, source_toml(with_selectors=False))
    message = config_error(path)
    assert message.startswith(f"{path}: source 'bad_one': field 'selectors': ")
    assert "required for kind = 'html'" in message


def test_issue5_keys_are_read(tmp_path: Path) -> None:
    extra = source_toml(
        {
            "encoding": '"GBK"',
            "headers": '{ Referer = "https://example.com/" }',
            "user_agent": '"Mozilla/5.0 (compatible; newsagg)"',
            "article": '{ title = "h1.t", date = ".info", body = ".zw", date_format = "%Y-%m-%d" }',
            "pagination": '{ url_template = "https://example.com/news/{n}.html", max_pages = 3 }',
        }
    )
    [source] = load_sources(write(tmp_path, extra))
    assert source.encoding == "GBK"
    assert source.headers == (("Referer", "https://example.com/"),)
    assert source.user_agent == "Mozilla/5.0 (compatible; newsagg)"
    assert source.article == ArticleSelectors("h1.t", ".info", ".zw", "%Y-%m-%d")
    assert source.pagination == Pagination(None, "https://example.com/news/{n}.html", 3)


def test_source_date_format_is_for_lists_and_article_pages(tmp_path: Path) -> None:
    text = source_toml({"date_format": '"%Y年%m月%d日 %H:%M"', "article": '{ title = "h1.t" }'})
    [source] = load_sources(write(tmp_path, text))
    assert source.list_date_format == "%Y年%m月%d日 %H:%M"
    assert source.article_selectors == ArticleSelectors("h1.t", date_format="%Y年%m月%d日 %H:%M")


def test_article_date_format_is_an_alias_for_lists_and_wins_on_article_pages(
    tmp_path: Path,
) -> None:
    [alias] = load_sources(
        write(tmp_path, source_toml({"article": '{ date_format = "%d/%m/%Y" }'}))
    )
    assert alias.list_date_format == "%d/%m/%Y"
    assert alias.article_selectors == ArticleSelectors(date_format="%d/%m/%Y")
    both = source_toml({"date_format": '"%Y.%m.%d"', "article": '{ date_format = "%d/%m/%Y" }'})
    [source] = load_sources(write(tmp_path, both))
    assert source.list_date_format == "%Y.%m.%d"
    assert source.article_selectors == ArticleSelectors(date_format="%d/%m/%Y")


def test_auto_source_needs_no_selectors(tmp_path: Path) -> None:
    text = source_toml({"kind": '"auto"', "blocks": '["热门资讯", "*"]'}, with_selectors=False)
    [source] = load_sources(write(tmp_path, text))
    assert source.kind == "auto"
    assert source.selectors is None
    assert source.blocks == ("热门资讯", "*")


def test_auto_source_with_selectors_is_an_error(tmp_path: Path) -> None:
    message = config_error(write(tmp_path, source_toml({"kind": '"auto"'})))
    assert "field 'selectors'" in message
    assert "use kind = 'html'" in message


def test_selectors_on_a_feed_source(tmp_path: Path) -> None:
    path = write(tmp_path, source_toml({"kind": '"feed"'}))
    message = config_error(path)
    assert message.startswith(f"{path}: source 'bad_one': field 'selectors': ")
    assert "only used by kind = 'html'" in message


@pytest.mark.parametrize("name", ['"Bad Name"', '"-leading-dash"', '"中文"', '"UPPER"'])
def test_bad_name_is_named_in_the_error(tmp_path: Path, name: str) -> None:
    path = write(tmp_path, source_toml({"name": name}))
    message = config_error(path)
    assert message.startswith(f"{path}: source {name.strip(chr(34))!r}: field 'name': ")


def test_missing_name_is_reported_by_position(tmp_path: Path) -> None:
    text = source_toml({"name": '"good_one"'}) + "\n" + source_toml({"name": None})
    path = write(tmp_path, text)
    message = config_error(path)
    assert message.startswith(f"{path}: source #2: field 'name': required")


def test_non_string_name_is_reported_by_position(tmp_path: Path) -> None:
    path = write(tmp_path, source_toml({"name": "42"}))
    assert config_error(path).startswith(f"{path}: source #1: field 'name': ")


def test_duplicate_name(tmp_path: Path) -> None:
    text = source_toml({"name": '"dup"'}) + "\n" + source_toml({"name": '"dup"'})
    path = write(tmp_path, text)
    message = config_error(path)
    assert message.startswith(f"{path}: source 'dup': field 'name': duplicate name")
    assert "duplicate name" in message


def test_unknown_top_level_key(tmp_path: Path) -> None:
    path = write(tmp_path, source_toml().replace("[[source]]", "[[sources]]", 1))
    message = config_error(path)
    assert message.startswith(f"{path}: unknown top-level key(s) ['sources']")


def test_source_must_be_an_array_of_tables(tmp_path: Path) -> None:
    path = write(tmp_path, 'source = "bjx"\n')
    assert "array of tables" in config_error(path)


def test_source_entry_must_be_a_table(tmp_path: Path) -> None:
    path = write(tmp_path, 'source = ["bjx"]\n')
    assert config_error(path) == f"{path}: source #1: must be a table"


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, '[[source]]\nname = "unterminated\n')
    message = config_error(path)
    assert message.startswith(f"{path}: not valid TOML: ")


def test_non_utf8_file_is_reported_as_invalid(tmp_path: Path) -> None:
    path = tmp_path / "sources.toml"
    path.write_bytes('name = "北极星"\n'.encode("gbk"))
    assert config_error(path).startswith(f"{path}: not valid TOML: ")


def test_load_sources_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"
    assert config_error(path) == f"{path}: sources file not found"


# -- locating the sources file and the database ------------------------------------------------


def test_resolve_sources_path_explicit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    explicit = write(tmp_path, VALID, "mine.toml")
    other = write(tmp_path, VALID, "env.toml")
    monkeypatch.setenv("NEWSAGG_SOURCES", str(other))
    assert resolve_sources_path(explicit) == explicit
    assert resolve_sources_path(str(explicit)) == explicit


def test_resolve_sources_path_explicit_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSAGG_SOURCES", str(write(tmp_path, VALID)))
    missing = tmp_path / "missing.toml"
    with pytest.raises(ConfigError) as info:
        resolve_sources_path(missing)
    assert str(info.value) == f"{missing}: sources file not found"


def test_resolve_sources_path_explicit_directory_is_not_a_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        resolve_sources_path(tmp_path)


def test_resolve_sources_path_from_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_file = write(tmp_path, VALID, "env.toml")
    monkeypatch.setenv("NEWSAGG_SOURCES", str(env_file))
    monkeypatch.chdir(tmp_path)
    assert resolve_sources_path(None) == env_file
    assert resolve_sources_path("") == env_file  # an empty option counts as not given


def test_resolve_sources_path_env_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = tmp_path / "gone.toml"
    monkeypatch.setenv("NEWSAGG_SOURCES", str(missing))
    with pytest.raises(ConfigError) as info:
        resolve_sources_path(None)
    assert str(missing) in str(info.value)
    assert "$NEWSAGG_SOURCES" in str(info.value)


def test_resolve_sources_path_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NEWSAGG_SOURCES", raising=False)
    (tmp_path / "data").mkdir()
    write(tmp_path / "data", VALID)
    monkeypatch.chdir(tmp_path)
    assert resolve_sources_path(None) == Path("data") / "sources.toml"


def test_resolve_sources_path_nothing_found_names_what_was_tried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NEWSAGG_SOURCES", raising=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as info:
        resolve_sources_path(None)
    message = str(info.value)
    assert "--sources" in message
    assert "$NEWSAGG_SOURCES" in message
    assert str(Path.cwd() / "data" / "sources.toml") in message


def test_resolve_db_path_explicit_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSAGG_DB", "/env/news.db")
    assert resolve_db_path("/opt/x.db") == Path("/opt/x.db")
    assert resolve_db_path(Path("rel.db")) == Path("rel.db")


def test_resolve_db_path_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSAGG_DB", "/env/news.db")
    assert resolve_db_path(None) == Path("/env/news.db")


@pytest.mark.parametrize("env", [None, ""])
def test_resolve_db_path_default(monkeypatch: pytest.MonkeyPatch, env: str | None) -> None:
    if env is None:
        monkeypatch.delenv("NEWSAGG_DB", raising=False)
    else:
        monkeypatch.setenv("NEWSAGG_DB", env)
    assert resolve_db_path(None) == Path("data") / "news.db"


# -- the shipped files -------------------------------------------------------------------------


def test_shipped_sources_file_loads() -> None:
    path = ROOT / "data" / "sources.toml"
    if not path.is_file():
        pytest.skip("data/sources.toml not written yet")
    sources = load_sources(path)
    assert sources
    for source in sources:
        assert isinstance(source, Source)
        assert (source.selectors is not None) == (source.kind == "html")


def test_shipped_demo_sources_file_loads() -> None:
    path = ROOT / "data" / "demo" / "sources.toml"
    if not path.is_file():
        pytest.skip("data/demo/sources.toml not written yet")
    text = path.read_text("utf-8").replace("{farm}", "http://127.0.0.1:8765/")
    sources = parse_sources(tomllib.loads(text), str(path))
    assert sources
    assert all(source.url.startswith("http://127.0.0.1:8765/") for source in sources)


# -- [urls] and host_aliases: configured URL rules --------------------------------------------

ALIASED = """\
[urls]
host_aliases = [["bjx.com.cn", "www.bjx.com.cn"]]
strip_www = true

[[source]]
name = "a"
kind = "feed"
urls = ["https://news.bjx.com.cn/rss"]
host_aliases = ["m.news.bjx.com.cn", "wap.news.bjx.com.cn"]

[[source]]
name = "b"
kind = "feed"
urls = ["https://www.cnenergynews.cn/rss"]
"""


def test_url_rules_are_parsed_and_carried_by_every_source() -> None:
    a, b = parse_sources(tomllib.loads(ALIASED))
    assert a.host_aliases == ("m.news.bjx.com.cn", "wap.news.bjx.com.cn")
    assert b.host_aliases == ()
    assert a.url_rules == b.url_rules
    assert a.url_rules.strip_www is True
    assert dict(a.url_rules.aliases) == {
        "www.bjx.com.cn": "bjx.com.cn",
        "m.news.bjx.com.cn": "news.bjx.com.cn",
        "wap.news.bjx.com.cn": "news.bjx.com.cn",
    }


def test_without_url_rules_sources_carry_none() -> None:
    (source,) = parse_sources(tomllib.loads(ALIASED.split("\n\n")[2]))
    assert source.name == "b"
    assert source.url_rules.aliases == () and not source.url_rules.strip_www


@pytest.mark.parametrize(
    ("change", "message"),
    [  # (old, new, old, new...) replacements in ALIASED
        (("strip_www = true", "strip_www = 1"), r"\[urls\]: field 'strip_www': must be true"),
        (("strip_www = true", "strip = true"), r"\[urls\]: field 'strip': unknown key"),
        (('[["bjx.com.cn", "www.bjx.com.cn"]]', '["bjx.com.cn"]'), "list of host groups"),
        (('[["bjx.com.cn", "www.bjx.com.cn"]]', '[["bjx.com.cn"]]'), "two or more"),
        (('"www.bjx.com.cn"]]', '"https://www.bjx.com.cn/"]]'), "lower-case host names"),
        (
            ('"www.bjx.com.cn"]]', '"www.bjx.com.cn"], ["news.bjx.com.cn", "bjx.com.cn"]]'),
            r"\[urls\]: field 'host_aliases': 'bjx.com.cn' and 'news.bjx.com.cn'",
        ),
        (
            ('"wap.news.bjx.com.cn"]', '"WAP.bjx.com.cn"]'),
            r"source 'a': field 'host_aliases': must be a list of lower-case host names",
        ),
        (  # a source's aliases linking two groups' chosen hosts
            (
                '"www.bjx.com.cn"]]',
                '"www.bjx.com.cn"], ["bjx.cn", "m.bjx.cn"]]',
                '"wap.news',
                '"www.bjx.com.cn", "m.bjx.cn", "wap.news',
            ),
            r"source 'a': field 'host_aliases': 'bjx.com.cn' and 'bjx.cn'",
        ),
    ],
)
def test_bad_url_rules_name_the_table_or_source(change: tuple[str, ...], message: str) -> None:
    text = ALIASED
    for old, new in zip(change[::2], change[1::2], strict=True):
        text = text.replace(old, new)
    assert text != ALIASED
    with pytest.raises(ConfigError, match=message):
        parse_sources(tomllib.loads(text), "sources.toml")
