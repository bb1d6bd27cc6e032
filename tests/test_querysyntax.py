"""The search syntax: words, "phrases", -exclusion, OR."""

from __future__ import annotations

import pytest

from aggregator.querysyntax import Query, QuerySyntaxError, Term, parse_query


def test_words_are_all_required() -> None:
    assert parse_query("光伏  储能 battery") == Query(
        ((Term("光伏"),), (Term("储能"),), (Term("battery"),))
    )


def test_phrases_keep_their_words_together() -> None:
    query = parse_query('"battery   storage" 氢')
    assert query.groups == ((Term("battery storage", phrase=True),), (Term("氢"),))


def test_or_joins_the_neighbours_into_one_group() -> None:
    query = parse_query("光伏 储能 OR 氢能 OR wind 风电")
    assert query.groups == (
        (Term("光伏"),),
        (Term("储能"), Term("氢能"), Term("wind")),
        (Term("风电"),),
    )


def test_exclusions_of_words_and_phrases() -> None:
    query = parse_query('光伏 -煤电 -"coal power"')
    assert query.groups == ((Term("光伏"),),)
    assert query.excluded == (Term("煤电"), Term("coal power", phrase=True))


def test_lower_case_or_is_a_word_and_a_lone_dash_is_nothing() -> None:
    assert parse_query("solar or wind - x").groups == (
        (Term("solar"),),
        (Term("or"),),
        (Term("wind"),),
        (Term("x"),),
    )


def test_unclosed_quote_runs_to_the_end() -> None:
    assert parse_query('氢 "green hydrogen').groups[1] == (Term("green hydrogen", phrase=True),)


def test_terms_are_the_positive_ones() -> None:
    assert parse_query("a OR b -c d").terms == (Term("a"), Term("b"), Term("d"))


@pytest.mark.parametrize(
    "text", ["", "   ", "-光伏", "OR 光伏", "光伏 OR", "a OR OR b", "a OR -b", "!!! ...", '""']
)
def test_queries_that_cannot_match_are_errors(text: str) -> None:
    with pytest.raises(QuerySyntaxError):
        parse_query(text)
