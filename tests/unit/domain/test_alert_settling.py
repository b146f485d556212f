"""Once-only alerts held until their status has held SALES_ALERT_SETTLE seconds."""

from __future__ import annotations

from streams.domain.alert_settling import ASK_AGAIN_SECONDS, AlertSettling

KEY = ("rep:r1", "revenue_won", "2026-11")


def test_a_once_only_alert_waits_for_an_evaluation_after_the_settle_time() -> None:
    s = AlertSettling(5.0)
    assert s.admit(KEY, 3, ["target_missed"], 100.0, draining=False) == []
    assert s.admit(KEY, 3, ["target_missed"], 104.9, draining=False) == []
    assert s.admit(KEY, 3, ["target_missed"], 105.0, draining=False) == ["target_missed"]
    assert s.held == {}


def test_a_status_that_changes_meanwhile_is_never_alerted() -> None:
    s = AlertSettling(5.0)
    assert s.admit(KEY, 3, ["target_at_risk"], 100.0, draining=False) == []
    # the deal arrived: achieved is sent at once, the held at-risk is dropped
    assert s.admit(KEY, 3, ["target_achieved"], 100.1, draining=False) == ["target_achieved"]
    assert s.admit(KEY, 3, [], 106.0, draining=False) == []
    assert s.held == {}
    # seen again later, it waits again from then
    assert s.admit(KEY, 3, ["target_at_risk"], 200.0, draining=False) == []
    assert s.admit(KEY, 3, ["target_at_risk"], 204.0, draining=False) == []
    assert s.admit(KEY, 3, ["target_at_risk"], 205.0, draining=False) == ["target_at_risk"]


def test_another_once_only_kind_starts_its_own_wait() -> None:
    s = AlertSettling(5.0)
    s.admit(KEY, 3, ["target_at_risk"], 100.0, draining=False)
    # the period ended meanwhile: missed waits from its own first sight
    assert s.admit(KEY, 3, ["target_missed"], 103.0, draining=False) == []
    assert s.admit(KEY, 3, ["target_missed"], 107.0, draining=False) == []
    assert s.admit(KEY, 3, ["target_missed"], 108.0, draining=False) == ["target_missed"]


def test_swings_pass_at_once_beside_a_held_alert() -> None:
    s = AlertSettling(5.0)
    due = ["target_achievement_revoked", "target_at_risk"]
    assert s.admit(KEY, 3, due, 100.0, draining=False) == ["target_achievement_revoked"]
    assert s.admit(KEY, 3, ["target_at_risk"], 105.0, draining=False) == ["target_at_risk"]


def test_nothing_settles_while_the_worker_drains_a_backlog() -> None:
    s = AlertSettling(5.0)
    s.admit(KEY, 3, ["target_missed"], 100.0, draining=True)
    assert s.admit(KEY, 3, ["target_missed"], 130.0, draining=True) == []
    assert s.admit(KEY, 3, ["target_missed"], 131.0, draining=False) == ["target_missed"]


def test_zero_sends_every_alert_at_first_sight() -> None:
    s = AlertSettling(0.0)
    assert s.admit(KEY, 3, ["target_missed"], 100.0, draining=True) == ["target_missed"]
    assert s.held == {}


def test_due_asks_each_partition_once_for_its_scopes_then_again_later() -> None:
    s = AlertSettling(5.0)
    s.admit(KEY, 3, ["target_missed"], 100.0, draining=False)
    s.admit(("rep:r1", "deals_won", "2026-11"), 3, ["target_missed"], 101.0, draining=False)
    s.admit(("team:t1", "deals_won", "2026-11"), 5, ["target_at_risk"], 102.0, draining=False)
    assert s.due(104.0, {3, 5}) == {}
    assert s.due(106.0, {3, 5}) == {3: ["rep:r1"]}
    assert s.due(106.5, {3, 5}) == {}  # asked already; the evaluation has not come yet
    assert s.due(107.0, {3, 5}) == {5: ["team:t1"]}
    assert s.due(106.0 + ASK_AGAIN_SECONDS - 0.1, {3, 5}) == {}
    assert s.due(106.0 + ASK_AGAIN_SECONDS, {3, 5}) == {3: ["rep:r1"]}


def test_held_alerts_of_a_partition_no_longer_owned_are_forgotten() -> None:
    s = AlertSettling(5.0)
    s.admit(KEY, 3, ["target_missed"], 100.0, draining=False)
    assert s.due(106.0, {1, 2}) == {}
    assert s.held == {}


def test_a_target_set_again_waits_from_its_own_first_evaluation() -> None:
    s = AlertSettling(5.0)
    assert s.admit(KEY, 3, ["target_missed"], 100.0, draining=False) == []
    s.forget(KEY)  # deleted, or set to another value
    assert s.held == {}
    assert s.admit(KEY, 3, ["target_missed"], 112.0, draining=False) == []
    assert s.due(112.0, {3}) == {}  # nothing asks for the old wait
    assert s.admit(KEY, 3, ["target_missed"], 117.0, draining=False) == ["target_missed"]
