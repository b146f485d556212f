"""former_parties.remember: the current party last, the formers told longest ago dropped
past the budget, never the current one."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from streams.engine.former_parties import remember


def test_the_current_party_goes_last_and_is_added_once() -> None:
    assert remember(["a", "b", "c"], "a", len, 100) == ["b", "c", "a"]
    assert remember(["a", "b"], "d", len, 100) == ["a", "b", "d"]
    assert remember(["a", "b"], "b", len, 100) == ["a", "b"]
    assert remember([], "a", len, 0) == ["a"]


def test_no_current_party_keeps_the_formers_only() -> None:
    assert remember(["a", "b"], None, len, 100) == ["a", "b"]
    assert remember(["aa", "bb", "cc"], None, len, 4) == ["bb", "cc"]


def test_the_formers_told_longest_ago_go_first_past_the_budget() -> None:
    assert remember(["aaa", "bb", "c"], "dddd", len, 3) == ["bb", "c", "dddd"]
    assert remember(["aaa", "bb", "c"], "dddd", len, 2) == ["c", "dddd"]
    assert remember(["aaa", "bb", "c"], "dddd", len, 0) == ["dddd"]
    # the current one costs nothing of the budget however large
    assert remember(["a"], "x" * 1000, len, 1) == ["a", "x" * 1000]


@given(
    st.lists(st.text(min_size=1, max_size=5), unique=True, max_size=12),
    st.one_of(st.none(), st.text(min_size=1, max_size=5)),
    st.integers(min_value=0, max_value=40),
)
def test_what_is_kept_is_the_longest_recent_run_within_the_budget(
    parties: list[str], current: str | None, budget: int
) -> None:
    kept = remember(parties, current, len, budget)
    formers = [p for p in parties if p != current]
    if current is not None:
        assert kept[-1] == current
        kept_formers = kept[:-1]
    else:
        kept_formers = kept
    assert sum(map(len, kept_formers)) <= budget
    # a suffix of the formers in their order, and one more would pass the budget
    assert kept_formers == formers[len(formers) - len(kept_formers) :]
    if len(kept_formers) < len(formers):
        longer = formers[len(formers) - len(kept_formers) - 1 :]
        assert sum(map(len, longer)) > budget
