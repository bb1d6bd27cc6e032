"""More list pages: the "next" link and URL templates."""

from __future__ import annotations

from aggregator.config import Pagination
from aggregator.pagination import next_page_url, template_urls

PAGE = (
    '<div class="pages"><a href="list_1.html">1</a>'
    '<a class="next" href="list_3.html">下一页</a></div>'
)
URL = "https://example.com/news/list_2.html"


def test_template_urls_are_pages_two_to_max() -> None:
    pagination = Pagination(url_template="https://example.com/news/list_{n}.html", max_pages=4)
    assert template_urls(pagination) == [
        "https://example.com/news/list_2.html",
        "https://example.com/news/list_3.html",
        "https://example.com/news/list_4.html",
    ]


def test_template_with_one_page_adds_none() -> None:
    assert template_urls(Pagination(url_template="https://e.com/{n}", max_pages=1)) == []


def test_next_link_is_resolved_against_the_page() -> None:
    pagination = Pagination(next="a.next", max_pages=5)
    assert next_page_url(PAGE, URL, pagination, 2) == "https://example.com/news/list_3.html"


def test_next_link_by_text_and_attribute_selector() -> None:
    pagination = Pagination(next='div.pages a:contains("下一页")::attr(href)', max_pages=5)
    assert next_page_url(PAGE, URL, pagination, 2) == "https://example.com/news/list_3.html"


def test_no_next_page_after_max_pages() -> None:
    assert next_page_url(PAGE, URL, Pagination(next="a.next", max_pages=2), 2) is None


def test_no_next_link_on_the_last_page() -> None:
    assert next_page_url("<p>end</p>", URL, Pagination(next="a.next", max_pages=9), 2) is None


def test_a_next_link_to_the_same_page_stops() -> None:
    page = '<a class="next" href="list_2.html#top">下一页</a>'
    assert next_page_url(page, URL, Pagination(next="a.next", max_pages=9), 2) is None


def test_a_javascript_next_link_stops() -> None:
    page = '<a class="next" href="javascript:nextPage()">下一页</a>'
    assert next_page_url(page, URL, Pagination(next="a.next", max_pages=9), 2) is None
