"""Which reps republish their documents when their team's medians move (quadrants).

A rep's document carries its quadrant against its team's medians, so a move of the medians
can change documents already published on sales.performance. The team sends a Republish to
each rep whose quadrant may have moved, and only to those: a rep whose figures just reached
the team (its last document may predate them), and a rep whose quadrant differs under the
old and the new medians.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from streams.engine.items import Item, RawEvent, Republish
from streams.engine.processor import (
    ANNOUNCE_SECONDS,
    DRAINING_ANNOUNCE_SECONDS,
    SEND_CLOCK_SLACK_SECONDS,
)
from tests.unit.engine.scope_harness import Harness, activity

NOW = datetime(2026, 11, 27, 18, tzinfo=UTC)
DAY = "2026-11-25"
HIGH, LOW = "high_activity_high_performance", "low_activity_high_performance"


def calls(rep: str, n: int, first: int) -> list[RawEvent]:
    return [activity(f"{rep}-{first + i}", rep, "t1", f"{DAY}T09:{i:02d}:00Z") for i in range(n)]


def republished(
    h: Harness, items: Sequence[Item], at: datetime = NOW, sent: datetime | None = None
) -> set[str]:
    """The reps asked to republish their document of DAY while `items` (internal items
    held since `sent`, if given) run at `at`."""
    return {
        item.scope
        for result in h.run(items, at, sent=sent)
        for item in result.outbox
        if isinstance(item, Republish) and item.period == DAY
    }


def test_only_reps_whose_quadrant_may_have_moved_republish() -> None:
    h = Harness()
    # activities 1, 3, 5: the team's median is 3; r1 low, r2 and r3 high (revenue all 0)
    h.run([*calls("r1", 1, 0), *calls("r2", 3, 0), *calls("r3", 5, 0)], NOW)

    # r3 to 15: the median stays 3, nobody's quadrant can move
    assert republished(h, calls("r3", 10, 5)) == set()

    # r1 to 4: the median moves to 4; r1's figures changed (it republishes), r2 (3) falls
    # from high to low, r3 (15) stays high and is left alone
    assert republished(h, calls("r1", 3, 1)) == {"rep:r1", "rep:r2"}
    assert h.figures("rep:r2", DAY, NOW)["quadrant"] == "low_activity_high_performance"
    assert h.figures("rep:r3", DAY, NOW)["quadrant"] == "high_activity_high_performance"


def test_medians_are_announced_at_most_once_an_interval_and_documents_follow_them() -> None:
    """Between two announcements a sales.performance document's quadrant stays measured
    against the medians last announced, so the next announcement, compared with that one,
    finds every quadrant that moved; reps whose figures reached the team meanwhile
    republish too. The API's quadrant takes the current medians."""
    h = Harness(announce_seconds=60.0)

    def quadrants(at: datetime) -> tuple[str, str]:
        published = h.figures("rep:r2", DAY, at, announced=True)
        api = h.figures("rep:r2", DAY, at)
        assert published is not None and api is not None
        return published["quadrant"], api["quadrant"]

    h.run([*calls("r1", 1, 0), *calls("r2", 3, 0), *calls("r3", 5, 0)], NOW)  # median 3
    assert quadrants(NOW) == (HIGH, HIGH)

    # 10 s later r1 goes to 4: the median is 4 now, not announced before a minute passed
    later = NOW + timedelta(seconds=10)
    assert republished(h, calls("r1", 3, 1), later) == set()
    assert quadrants(later) == (HIGH, LOW)

    # past the minute the team's next batch announces 4 against the 3 announced: r2 (3)
    # falls to low, r1 and r3 had figures reach the team since the last announcement
    after = NOW + timedelta(seconds=70)
    assert republished(h, calls("r3", 1, 5), after) == {"rep:r1", "rep:r2", "rep:r3"}
    assert quadrants(after) == (LOW, LOW)


def in_flight_scenario(
    trip: timedelta,
) -> tuple[Harness, set[str], Callable[[datetime], str], datetime]:
    """r2's document is published before its new figures reach the team; the medians move
    meanwhile (the team measures r2's stale figures: no flip), and do not move again when
    the figures arrive, `trip` after they were sent. Returns the reps republished on
    arrival, r2's published quadrant, and when the medians moved."""
    route = {"team:t1": 0, "rep:r1": 1, "rep:r2": 2, "rep:r3": 3, "rep:r4": 1, "rep:r5": 2}
    h = Harness(route=lambda scope: route[scope])
    # activities 1..5: the median is 3; r2 (2) is low
    h.run([*calls("r1", 1, 0), *calls("r2", 2, 0), *calls("r3", 3, 0)], NOW)
    h.run([*calls("r4", 4, 0), *calls("r5", 5, 0)], NOW)

    def published(at: datetime) -> str:
        doc = h.figures("rep:r2", DAY, at, announced=True)
        assert doc is not None
        return str(doc["quadrant"])

    assert published(NOW) == LOW
    # r2 goes to 3 on its own partition; its figures to the team are still in flight
    t1 = NOW + timedelta(seconds=1)
    in_flight = h.step(2, list(calls("r2", 1, 2)), t1).outbox
    assert in_flight
    assert published(t1) == HIGH  # 3 against the announced median 3

    # r1 goes to 6: the team's median moves to 4 (it still counts r2 at 2: no flip for r2)
    t2 = NOW + timedelta(seconds=2)
    assert republished(h, calls("r1", 5, 1), t2) == {"rep:r1", "rep:r3"}

    # r2's figures arrive: 3, 3, 4, 5, 6 keep the median at 4
    return h, republished(h, in_flight, t1 + trip, sent=t1), published, t2


def test_a_member_whose_figures_were_in_flight_while_the_medians_moved_republishes() -> None:
    """r2's document (high against 3) is low against 4: it republishes, whether its
    figures took a second or an hour to reach the team."""
    for trip in (timedelta(seconds=2), timedelta(hours=1)):
        _, arrived, published, _ = in_flight_scenario(trip)
        assert arrived == {"rep:r2"}, trip
        assert published(NOW + timedelta(seconds=1) + trip) == LOW


def test_figures_sent_after_the_medians_moved_republish_only_within_the_clock_slack() -> None:
    """A document published after the move was measured against the medians now announced:
    figures sent then need no republish, unless the two clocks may disagree about which
    came first (SEND_CLOCK_SLACK_SECONDS)."""
    h, _, _, moved = in_flight_scenario(timedelta(seconds=2))
    # r5 to 7 leaves the median at 4
    soon = moved + timedelta(seconds=SEND_CLOCK_SLACK_SECONDS - 1)
    assert republished(h, calls("r5", 1, 5), soon) == {"rep:r5"}
    late = moved + timedelta(seconds=SEND_CLOCK_SLACK_SECONDS + 1)
    assert republished(h, calls("r5", 1, 6), late) == set()
    # sent late, held for a long time before reaching the team: still nothing to revise
    held = h.step(2, list(calls("r5", 1, 7)), late).outbox
    assert republished(h, held, late + timedelta(hours=1), sent=late) == set()


def test_a_rep_counts_its_earliest_send_since_the_last_announcement() -> None:
    """Figures of one rep reaching the team in several batches before an announcement: the
    earliest send decides (a later one would miss a move between the two)."""
    proc = Harness().parts[0].proc
    team_day = ("team:t1", DAY)
    proc.members_reached(0, {"team:t1": {DAY: {"r1"}}}, 20.0)
    proc.members_reached(0, {"team:t1": {DAY: {"r1", "r2"}}}, 10.0)
    proc.members_reached(0, {"team:t1": {DAY: {"r1", "r3"}}}, 30.0)
    assert proc.unannounced[0][team_day] == {"r1": 10.0, "r2": 10.0, "r3": 30.0}


def test_a_worker_draining_a_backlog_announces_less_often() -> None:
    """While the input is behind, sales.performance steps back and medians are announced
    at most every DRAINING_ANNOUNCE_SECONDS; once caught up, every ANNOUNCE_SECONDS again."""
    h = Harness(announce_seconds=ANNOUNCE_SECONDS)
    h.run([*calls("r1", 1, 0), *calls("r2", 3, 0), *calls("r3", 5, 0)], NOW)  # median 3
    for part in h.parts:
        part.proc.draining = True
    # r1 to 4 two seconds later moves the median to 4: due by the usual interval, held back
    soon = NOW + timedelta(seconds=2 * ANNOUNCE_SECONDS)
    assert soon < NOW + timedelta(seconds=DRAINING_ANNOUNCE_SECONDS)
    assert republished(h, calls("r1", 3, 1), soon) == set()
    # past the draining interval the next batch announces 4 against the 3 announced
    later = NOW + timedelta(seconds=DRAINING_ANNOUNCE_SECONDS + 1)
    assert republished(h, calls("r3", 1, 5), later) == {"rep:r1", "rep:r2", "rep:r3"}
    # caught up, the usual interval again: r2 to 6 moves the median to 6 two seconds
    # later, and r1 (4) falls to low
    for part in h.parts:
        part.proc.draining = False
    caught_up = later + timedelta(seconds=2 * ANNOUNCE_SECONDS)
    assert republished(h, calls("r2", 3, 3), caught_up) == {"rep:r1", "rep:r2"}


def test_after_the_views_are_rebuilt_every_member_republishes_at_the_next_announcement() -> None:
    """A team's owner restarted: the medians it last announced, which its members'
    documents on sales.performance were measured against, went with its memory. A member's
    quadrant may differ under the medians announced from now on, and nobody knows whose:
    the first announcement after the rebuild republishes every member (found missing by
    an independent check that killed workers), and the ones after it only those it moves."""
    h = Harness()
    h.run([*calls("r1", 1, 0), *calls("r2", 3, 0), *calls("r3", 5, 0)], NOW)
    team = h.partition_of("team:t1")
    h.restart(team)
    proc = h.parts[team].proc
    proc.members_unannounced([(team, "team:t1", DAY)])
    out = proc.announce_due(team, NOW.timestamp(), force=True)
    assert {r.scope for r in out if r.period == DAY} == {"rep:r1", "rep:r2", "rep:r3"}
    assert not proc.announcement_lost
    # r3 to 15 moves no quadrant: nothing more to republish
    assert republished(h, calls("r3", 10, 5)) == set()
