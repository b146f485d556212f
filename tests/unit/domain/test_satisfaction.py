"""Satisfaction counters: what one answer adds, and their document."""

from __future__ import annotations

from streams.domain.satisfaction import Satisfaction


def test_answers_and_their_figures() -> None:
    s = Satisfaction()
    for csat, nps in [(5, 10), (4, None), (2, 6), (None, 8)]:
        s.record(csat, nps)
    assert s.as_document() == {
        "csat_avg": 11 / 3,
        "csat_count": 3,
        "csat_satisfied_pct": 200 / 3,
        "nps": 0.0,  # one promoter, one detractor, one passive
        "nps_count": 3,
    }
    assert s.responses == 6


def test_add_and_take_away_are_exact_inverses() -> None:
    a, b = Satisfaction(), Satisfaction()
    a.record(5, 9)
    b.record(1, 0)
    total = a.copy()
    total.add(b)
    total.add(b, -1)
    assert total == a and total is not a


def test_no_answers_give_nulls() -> None:
    assert Satisfaction().as_document() == {
        "csat_avg": None,
        "csat_count": 0,
        "csat_satisfied_pct": None,
        "nps": None,
        "nps_count": 0,
    }
