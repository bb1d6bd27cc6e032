"""The pipeline's decisions that need no crawl: what an empty list page means."""

from __future__ import annotations

from aggregator.pipeline import mark_empty
from aggregator.runstats import RunStats, SourceStats


def test_empty_list_sources_get_an_error_that_says_what_to_check() -> None:
    drifted = SourceStats(pages_ok=1)
    mark_empty(drifted, stored=12)
    assert drifted.empty
    assert drifted.errors[0].startswith("selector drift: the list page gave no items (12 stored")
    new = SourceStats(pages_ok=1)
    mark_empty(new, stored=0, kind="auto")
    assert new.errors == ["no items found on the list page: check newsagg preview URL --auto"]
    fine = SourceStats(pages_ok=1, items=3)
    mark_empty(fine, stored=12)
    assert not fine.empty and fine.errors == []
    failed = SourceStats(pages_failed=1, errors=["HTTP 500"])
    mark_empty(failed, stored=12)
    assert not failed.empty and failed.errors == ["HTTP 500"]


def test_an_empty_page_of_a_source_with_items_is_a_warning_in_the_run_summary() -> None:
    url = "https://e.com/news/list_2.html"
    partly = SourceStats(pages_ok=2, items=7, empty_pages=[url])
    mark_empty(partly, stored=40)
    assert not partly.empty and not partly.failed
    assert partly.errors == [
        f"selector drift on 1 of its list pages: {url} gave no items (its other pages gave 7); "
        "that page's layout may have changed"
    ]
    run = RunStats(sources={"partly": partly, "fine": SourceStats(pages_ok=1, items=3)})
    assert run.drifting == ["partly"]
    assert run.status == "ok"
    assert run.summary_line().endswith(f"0 failed; 1 with pages giving no items: partly ({url})")
