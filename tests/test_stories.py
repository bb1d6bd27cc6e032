import pytest

from aggregator.stories import representative


def article(id: int, title: str, published_at: str | None) -> dict:
    return {"id": id, "title": title, "published_at": published_at}


def test_uncut_title_wins_over_earlier_cut_one() -> None:
    cut = article(1, "全国多地开展可再生能源法宣传教...", "2026-02-24T01:00:00Z")
    whole = article(2, "全国多地开展《可再生能源法》宣传教育活动", "2026-02-24T05:00:00Z")
    assert representative([cut, whole])["id"] == 2


def test_earliest_published_breaks_ties_then_lowest_id() -> None:
    later = article(1, "Solar record", "2026-02-24T05:00:00Z")
    earlier = article(2, "Solar record in Spain", "2026-02-24T01:00:00Z")
    undated = article(3, "Solar record again", None)
    assert representative([later, earlier, undated])["id"] == 2
    assert representative([undated, article(4, "x", None)])["id"] == 3


def test_a_story_needs_members() -> None:
    with pytest.raises(ValueError):
        representative([])
