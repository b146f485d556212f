"""A team derives the membership of a rep whose events in a period were all in that team;
only a rep with events in several teams tells its teams whether it belongs.

Memberships were 2.3 of the 6.2 internal items each wide input event made. The figures must
not change: the medians and quadrants are those of the rule (a rep belongs to the team of its
latest event in the period), checked here against the oracle and against a rep that moved.
"""

from __future__ import annotations

from typing import Any

import msgspec

from streams.engine.items import MemberItem, decode_envelope
from streams.engine.queries import team_members
from streams.engine.state import (
    DERIVED_MEMBERS,
    MEMBER,
    MEMBER_SENT,
    Member,
    decode_value,
    encode_value,
    make_key,
    parse_key,
)
from tests.unit.engine.scope_harness import Harness, Oracle, activity, deal, utc

NOW = utc(2026, 11, 27, 12)
NOV = "2026-11"
PERIODS = ("2026-11-24", "2026-11-25", "2026-W48", NOV, "2026-Q4")


def at(day: int, hour: int = 10) -> str:
    return f"2026-11-{day:02d}T{hour:02d}:00:00Z"


def member_items(h: Harness, items: list[Any]) -> list[MemberItem]:
    return [i for r in h.run(items, NOW) for i in r.outbox if isinstance(i, MemberItem)]


def records(h: Harness, kind: str) -> dict[tuple[Any, ...], Any]:
    return {
        key: decode_value(kind, raw)
        for p in range(h.n)
        for kb, raw in h.store_items(p)
        if (key := parse_key(kb))[1] == kind
    }


def members(h: Harness, team: str, period: str) -> dict[str, tuple[int, float]]:
    view = h.view("team:" + team)
    found = team_members(view, period) if view is not None else {}
    return {rep: (m.activities, float(m.revenue)) for rep, m in found.items()}


def test_a_rep_of_one_team_sends_no_membership_and_the_team_derives_it() -> None:
    h = Harness()
    sent = member_items(
        h,
        [
            activity("a1", "r1", "t1", at(24)),
            activity("a2", "r1", "t1", at(25)),
            deal("d1", "D1", "r1", "t1", at(25, 11), "won", 100),
            activity("b1", "r2", "t1", at(25)),
            deal("d2", "D2", "r3", "t1", at(25, 12), "lost", 50),  # a deal only
        ],
    )
    assert sent == []
    assert records(h, MEMBER) == {} and records(h, MEMBER_SENT) == {}
    assert members(h, "t1", NOV) == {"r1": (2, 100.0), "r2": (1, 0.0), "r3": (0, 0.0)}
    assert members(h, "t1", "2026-11-24") == {"r1": (1, 0.0)}
    # medians 1 activity and 0 revenue: at the median is high
    assert h.figures("rep:r2", NOV, NOW)["quadrant"] == "high_activity_high_performance"
    assert h.figures("rep:r3", NOV, NOW)["quadrant"] == "low_activity_high_performance"


def test_a_rep_that_moves_tells_both_teams_and_hands_back_when_it_is_in_one_again() -> None:
    h = Harness()
    h.run([activity("a1", "r1", "t1", at(24)), activity("b1", "r2", "t3", at(24))], NOW)
    moved = member_items(h, [deal("d1", "D1", "r1", "t3", at(25), "won", 10)])
    # the month, week and quarter now hold two teams; the days one each
    said = {(m.scope, m.period): (m.member, m.derive) for m in moved}
    for period in ("2026-W48", NOV, "2026-Q4"):
        assert said[("team:t1", period)] == (False, False)
        assert said[("team:t3", period)] == (True, False)
    assert not any(p.startswith("2026-11-2") for _, p in said)
    assert members(h, "t1", NOV) == {}
    assert members(h, "t3", NOV) == {"r1": (1, 10.0), "r2": (1, 0.0)}
    assert records(h, MEMBER_SENT)[("rep:r1", MEMBER_SENT, NOV)] == ["t1", "t3"]
    # reopened, the deal counts nowhere: r1 is in t1 alone again, and the teams derive it
    back = member_items(h, [deal("d2", "D1", "r1", "t3", at(26), "reopened")])
    assert {(m.scope, m.period) for m in back if m.derive} >= {("team:t1", NOV), ("team:t3", NOV)}
    assert records(h, MEMBER) == {} and records(h, MEMBER_SENT) == {}
    assert members(h, "t1", NOV) == {"r1": (1, 0.0)}
    assert members(h, "t3", NOV) == {"r2": (1, 0.0)}
    assert member_items(h, [activity("a3", "r1", "t1", at(26))]) == []
    assert members(h, "t1", NOV) == {"r1": (2, 0.0)}


def test_medians_and_quadrants_match_the_oracle_with_movers() -> None:
    items = [
        activity("a1", "r1", "t1", at(24)),
        activity("a2", "r1", "t2", at(25)),  # r1 moves to t2
        activity("a3", "r1", "t2", at(25, 11)),
        deal("d1", "D1", "r1", "t1", at(24, 12), "won", 300),  # won in t1, before the move
        activity("b1", "r2", "t1", at(24)),
        activity("b2", "r2", "t1", at(25)),
        deal("d2", "D2", "r2", "t1", at(25, 12), "won", 100),
        activity("c1", "r3", "t2", at(24)),
        deal("d3", "D3", "r3", "t1", at(24, 9), "lost", 20),  # r3 closes one for t1 first
    ]
    h = Harness()
    h.run(items, NOW)
    oracle = Oracle(items, h.tz, h.fx)
    quadrants = set()
    for rep in ("r1", "r2", "r3"):
        for period in PERIODS:
            doc = h.figures("rep:" + rep, period, NOW)
            quadrants.add(oracle.quadrant(rep, period))
            assert (doc or {}).get("quadrant") == oracle.quadrant(rep, period), (rep, period)
    assert len(quadrants) >= 3  # the scenario tells quadrants apart


def test_memberships_of_the_earlier_rule_are_sent_again_once() -> None:
    """Earlier, every rep told its teams and a team deleted a non-member's record. A
    partition's first batch (here a Tick) sends every membership its reps sent before again
    under this rule."""
    items = [
        activity("a1", "r1", "t1", at(24)),
        activity("a2", "r1", "t2", at(25)),  # moved in the month
        activity("b1", "r2", "t1", at(24)),
    ]
    clean = Harness()
    clean.run(items, NOW)
    clean.tick(NOW)
    h = Harness()
    h.run(items, NOW)
    # as the earlier rule left it: a record and a sent list for every period, none for a
    # team the rep does not belong to
    for p in range(h.n):
        store = h.parts[p].store
        for kb in list(store):
            kind = parse_key(kb)[1]
            if kind == DERIVED_MEMBERS or (
                kind == MEMBER and not decode_value(MEMBER, store[kb]).member
            ):
                del store[kb]
    legacy = {
        ("r1", "2026-11-24"): ("t1", 1),
        ("r1", "2026-11-25"): ("t2", 1),
        ("r2", "2026-11-24"): ("t1", 1),
        ("r2", NOV): ("t1", 1),
    }
    for (rep, period), (team, n) in legacy.items():
        h.parts[h.partition_of("team:" + team)].store[
            make_key("team:" + team, MEMBER, period, rep)
        ] = encode_value(Member(True, n, "0"))
        h.parts[h.partition_of("rep:" + rep)].store[make_key("rep:" + rep, MEMBER_SENT, period)] = (
            encode_value([team])
        )
    for p in range(h.n):
        h.restart(p)
    assert members(h, "t1", NOV) == {"r1": (1, 0.0), "r2": (1, 0.0)}  # r1: wrong until re-sent
    h.tick(NOW)
    assert members(h, "t1", NOV) == {"r2": (1, 0.0)}
    assert members(h, "t2", NOV) == {"r1": (2, 0.0)}
    kept = {key[0]: value for key, value in records(h, MEMBER_SENT).items()}
    assert kept == {"rep:r1": ["t1", "t2"]} and len(records(h, MEMBER_SENT)) == 3  # W48, Nov, Q4
    assert all(key[2] in ("2026-W48", NOV, "2026-Q4") for key in records(h, MEMBER))
    assert len(records(h, DERIVED_MEMBERS)) == h.n
    for scope in ("rep:r1", "rep:r2"):
        for period in PERIODS:
            assert h.figures(scope, period, NOW) == clean.figures(scope, period, NOW)
    # once: the next Tick sends no membership
    assert not [i for r in h.tick(NOW) for i in r.outbox if isinstance(i, MemberItem)]


def test_an_envelope_of_the_earlier_version_still_decodes() -> None:
    data = msgspec.msgpack.encode([[["member", "team:t1", NOV, "r1", True, 3, "10"]]])
    (item,) = decode_envelope(data)
    assert item == MemberItem("team:t1", NOV, "r1", True, 3, "10", False)
