"""The pipeline's decisions that need no crawl: what an empty list page means."""

from __future__ import annotations

from aggregator.pipeline import mark_empty
from aggregator.runstats import SourceStats


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
