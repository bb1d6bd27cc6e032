"""Absolute and canonical URLs: one article, one canonical URL."""

from __future__ import annotations

import pytest

from aggregator.urls import UrlRules, absolute_url, build_url_rules, canonical_url, is_host_name

BASE = "https://www.example.com/news/list/index.html"


# -- absolute_url ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("href", "expected"),
    [
        ("a.html", "https://www.example.com/news/list/a.html"),
        ("../b.html", "https://www.example.com/news/b.html"),
        ("/c.html", "https://www.example.com/c.html"),
        ("?page=2", "https://www.example.com/news/list/index.html?page=2"),
        ("//cdn.example.com/x.html", "https://cdn.example.com/x.html"),
        ("http://other.org/y.html", "http://other.org/y.html"),
        ("  e.html\n", "https://www.example.com/news/list/e.html"),
        ("\\news\\d.html", "https://www.example.com/news/d.html"),
        ("..\\up.html", "https://www.example.com/news/up.html"),
        ("中文.html", "https://www.example.com/news/list/%E4%B8%AD%E6%96%87.html"),
        ("a b.html", "https://www.example.com/news/list/a%20b.html"),
    ],
)
def test_absolute_url_resolves(href: str, expected: str) -> None:
    assert absolute_url(href, BASE) == expected


def test_protocol_relative_takes_the_base_scheme() -> None:
    assert absolute_url("//cdn.example.com/x", "http://example.com/") == "http://cdn.example.com/x"


@pytest.mark.parametrize(
    "href",
    [
        "javascript:void(0)",
        "JavaScript:alert(1)",
        " javascript:void(0)",
        "mailto:news@example.com",
        "data:text/html,<b>hi</b>",
        "tel:+86-10-1234",
        "ftp://example.com/file",
        "#",
        "#top",
        " #comments",
        "",
        "   ",
        None,
        "http://",
    ],
)
def test_absolute_url_rejects(href: str | None) -> None:
    assert absolute_url(href, BASE) is None


def test_absolute_url_keeps_fragment_on_a_real_link() -> None:
    # Only a fragment-only href is rejected; canonical_url drops fragments later.
    assert absolute_url("x.html#c", BASE) == "https://www.example.com/news/list/x.html#c"


# -- canonical_url -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTPS://WWW.Example.COM/News/A.html", "https://www.example.com/News/A.html"),
        ("https://example.com:443/a", "https://example.com/a"),
        ("http://example.com:80/a", "http://example.com/a"),
        ("http://example.com:8080/a", "http://example.com:8080/a"),
        ("https://example.com:80/a", "https://example.com:80/a"),
        ("https://example.com/a#comments", "https://example.com/a"),
        ("https://example.com", "https://example.com/"),
        ("https://example.com/a?", "https://example.com/a"),
        ("  https://example.com/a  ", "https://example.com/a"),
    ],
)
def test_canonical_url_host_port_fragment(url: str, expected: str) -> None:
    assert canonical_url(url) == expected


def test_canonical_url_keeps_path_case() -> None:
    assert canonical_url("https://EXAMPLE.com/News/Index.HTML") == (
        "https://example.com/News/Index.HTML"
    )


@pytest.mark.parametrize(
    "query",
    [
        "utm_source=wechat",
        "utm_medium=social&utm_campaign=x&utm_content=y&utm_term=z",
        "UTM_Source=x",
        "spm=a2c4g.11186623",
        "from=timeline",
        "from=singlemessage&isappinstalled=0",
        "fbclid=abc&gclid=def",
        "hmsr=baidu&hmpl=1",
        "ref=rss",
    ],
)
def test_canonical_url_drops_tracking_parameters(query: str) -> None:
    assert canonical_url(f"https://example.com/a/1.html?{query}") == "https://example.com/a/1.html"


def test_canonical_url_keeps_real_parameters_and_sorts_them() -> None:
    url = "https://example.com/list?page=2&utm_source=x&id=7&spm=1.2&from=home"
    assert canonical_url(url) == "https://example.com/list?id=7&page=2"


def test_canonical_url_does_not_drop_parameters_sharing_a_prefix() -> None:
    assert canonical_url("https://example.com/a?refresh=1&fromdate=2026&ref=x") == (
        "https://example.com/a?fromdate=2026&refresh=1"
    )


def test_canonical_url_query_order_does_not_matter() -> None:
    assert canonical_url("https://example.com/a?b=2&a=1") == canonical_url(
        "https://example.com/a?a=1&b=2"
    )


def test_canonical_url_keeps_blank_and_repeated_values() -> None:
    assert canonical_url("https://example.com/a?b=1&a=&b=0") == "https://example.com/a?a=&b=0&b=1"


def test_canonical_url_same_for_space_encodings() -> None:
    assert canonical_url("https://example.com/s?q=a%20b") == canonical_url(
        "https://example.com/s?q=a+b"
    )


def test_canonical_url_keeps_credentials_and_percent_encoded_path() -> None:
    assert canonical_url("https://u:p@Example.com/%E4%B8%AD") == "https://u:p@example.com/%E4%B8%AD"


@pytest.mark.parametrize(
    "url",
    [
        "HTTPS://WWW.Example.COM:443/News/A.html?utm_source=x&b=2&a=1#frag",
        "http://example.com:8080/p?x=1",
        "https://example.com/s?q=a%20b",
    ],
)
def test_canonical_url_is_idempotent(url: str) -> None:
    once = canonical_url(url)
    assert canonical_url(once) == once


def test_canonical_url_keeps_ipv6_brackets() -> None:
    assert canonical_url("https://[::1]:8080/p") == "https://[::1]:8080/p"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://example.com/news/index.html", "https://example.com/news"),
        ("https://example.com/index.htm", "https://example.com/"),
        ("https://example.com/a/1.html/", "https://example.com/a/1.html"),
        ("https://example.com/news/", "https://example.com/news"),
        ("https://example.com/", "https://example.com/"),
        (
            "https://example.com/a/1.html;jsessionid=ABC123?id=2",
            "https://example.com/a/1.html?id=2",
        ),
        ("https://example.com/a?PHPSESSID=x&id=2&sid=9", "https://example.com/a?id=2"),
        ("https://example.com/News/Index.HTML", "https://example.com/News/Index.HTML"),
    ],
)
def test_canonical_url_drops_sessions_default_documents_and_trailing_slashes(
    url: str, expected: str
) -> None:
    assert canonical_url(url) == expected


def test_http_and_https_are_one_article() -> None:
    from aggregator.urls import url_identity, url_variants

    a, b = (
        canonical_url("http://Example.com/a/1.html"),
        canonical_url("https://example.com/a/1.html"),
    )
    assert a != b  # the link stays the one the site gave
    assert url_identity(a) == url_identity(b)
    assert set(url_variants(a)) == {a, b}
    assert url_variants("urn:newsagg:s:guid:1") == ("urn:newsagg:s:guid:1",)


# -- configured rules: host aliases, strip_www ------------------------------------------------

RULES = build_url_rules([["example.com", "www.example.com", "m.example.com"]])


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://www.example.com/a.html", "https://example.com/a.html"),
        ("http://M.Example.com/news/index.html", "http://example.com/news"),
        ("https://example.com/a.html", "https://example.com/a.html"),
        ("https://www.example.com:8080/a", "https://example.com:8080/a"),  # the port stays
        ("https://news.example.com/a", "https://news.example.com/a"),  # not an alias
        ("https://www.other.org/a", "https://www.other.org/a"),  # strip_www is off
    ],
)
def test_host_aliases_map_to_the_group_s_first_host(url: str, expected: str) -> None:
    assert canonical_url(url, RULES) == expected


def test_without_rules_hosts_stay_as_they_are() -> None:
    assert canonical_url("https://www.example.com/a") == "https://www.example.com/a"
    assert canonical_url("https://www.example.com/a", UrlRules()) == "https://www.example.com/a"


def test_strip_www_drops_the_prefix_but_an_alias_group_wins() -> None:
    rules = build_url_rules([["www.keep.cn", "keep.cn"]], strip_www=True)
    assert canonical_url("https://www.other.org/a", rules) == "https://other.org/a"
    assert canonical_url("https://keep.cn/a", rules) == "https://www.keep.cn/a"
    assert canonical_url("https://www.com/a", rules) == "https://www.com/a"  # no host left


def test_site_aliases_join_groups_and_the_first_chosen_host_stands() -> None:
    rules = build_url_rules(
        [["example.com", "www.example.com"]],
        [("www.example.com", ["m.example.com"]), ("b.cn", ["c.cn"]), ("a.cn", ["b.cn"])],
    )
    assert dict(rules.aliases) == {
        "www.example.com": "example.com",
        "m.example.com": "example.com",  # the group's choice, not the source's host
        "c.cn": "b.cn",
        "a.cn": "b.cn",  # linked through b.cn: the first source's host stands
    }


def test_two_groups_sharing_a_host_are_refused() -> None:
    with pytest.raises(ValueError, match=r"'a\.cn' and 'b\.cn'"):
        build_url_rules([["a.cn", "x.cn"], ["b.cn", "x.cn"]])


def test_the_fingerprint_changes_with_the_rules_and_survives_storage() -> None:
    other = build_url_rules([["example.com", "www.example.com"]])
    assert RULES.fingerprint != other.fingerprint != UrlRules().fingerprint
    assert UrlRules(strip_www=True).fingerprint != UrlRules().fingerprint
    assert UrlRules.from_json(RULES.to_json()) == RULES
    assert build_url_rules([["example.com", "m.example.com", "www.example.com"]]) == RULES


@pytest.mark.parametrize("host", ["example.com", "m.example.com", "a_b.example.cn", "localhost"])
def test_is_host_name(host: str) -> None:
    assert is_host_name(host)


@pytest.mark.parametrize(
    "host", ["", "Example.com", "https://example.com", "example.com/", "example.com:80", 3, None]
)
def test_is_not_host_name(host: object) -> None:
    assert not is_host_name(host)
