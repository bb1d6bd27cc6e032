"""More pages of a list: a "next" link or a URL template (``[source.pagination]``). Pure."""

from __future__ import annotations

from parsel import Selector

from aggregator.config import Pagination
from aggregator.urls import absolute_url


def template_urls(pagination: Pagination) -> list[str]:
    """Pages 2..max_pages of a ``url_template`` (``{n}`` is the page number)."""
    if not pagination.url_template:
        return []
    return [pagination.url_template.format(n=n) for n in range(2, pagination.max_pages + 1)]


def next_page_url(html: str, url: str, pagination: Pagination, page: int) -> str | None:
    """The page after ``page`` (1-based) by the ``next`` selector, or None at the last page,
    after ``max_pages``, or when the link points back to this page."""
    if not pagination.next or page >= pagination.max_pages:
        return None
    found = Selector(text=html, base_url=url).css(pagination.next)
    if not found:
        return None
    first = found[0]
    href = first.get() if isinstance(first.root, str) else first.attrib.get("href")
    target = absolute_url(href, url) if href else None
    if not target or target.split("#")[0] == url.split("#")[0]:
        return None
    return target
