"""Satisfaction counters: what one answer adds, and their document."""

from __future__ import annotations

import pytest

from streams.domain.satisfaction import Satisfaction
from streams.domain.satisfaction import nps as nps_of


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


# -- found by mutation testing ------------------------------------------------------------


@pytest.mark.parametrize(
    ("score", "promoters", "detractors"),
    [(10, 1, 0), (9, 1, 0), (8, 0, 0), (7, 0, 0), (6, 0, 1), (0, 0, 1)],
)
def test_nps_categories_at_their_boundaries(score: int, promoters: int, detractors: int) -> None:
    s = Satisfaction()
    s.record(None, score)
    assert (s.nps_prom, s.nps_det, s.nps_n) == (promoters, detractors, 1)


def test_nps_value_is_not_only_zero() -> None:
    assert nps_of(3, 1, 4) == 50.0
    assert nps_of(0, 1, 4) == -25.0
    s = Satisfaction()
    for score in (9, 9, 7, 3):
        s.record(None, score)
    assert s.as_document()["nps"] == 25.0


def test_add_sums_every_counter() -> None:
    a, b = Satisfaction(), Satisfaction()
    for csat, score in [(5, 10), (4, 9), (2, 0), (None, 3)]:
        b.record(csat, score)
    a.record(3, 7)
    a.add(b)
    assert a == Satisfaction(csat_sum=14, csat_n=4, csat_sat=2, nps_prom=2, nps_det=2, nps_n=5)
    a.add(b, -1)
    assert a == Satisfaction(csat_sum=3, csat_n=1, csat_sat=0, nps_prom=0, nps_det=0, nps_n=1)


def test_csat_avg_property() -> None:
    s = Satisfaction()
    assert s.csat_avg is None
    s.record(5, None)
    s.record(2, None)
    assert s.csat_avg == 3.5
