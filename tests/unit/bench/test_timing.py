"""How the bench turns a consumer run's moments into seconds and rates (bench.throughput.Timing).

Why: a tiny run used to show the plain loop "committed in 0.00 s", a rate of millions, when the
whole topic was committed by the poll that first saw the group Stable.
"""

from __future__ import annotations

from bench.throughput import POLL_INTERVAL, Run, Timing


def _run() -> Run:
    return Run("aiokafka", "plain aiokafka loop", "wide", events=20_000)


def test_a_run_timed_from_stable_to_committed() -> None:
    t = Timing(100.0, stable=102.0, committed=106.0, cpu_stable=(1.0, 2.0))
    t.cpu_committed = (4.5, 3.0)
    run = _run()
    t.fill(run, 20_000)
    assert run.startup == 2.0
    assert run.seconds == 4.0
    assert run.seconds_wall == 6.0
    assert run.rate == 5_000
    assert run.cpu == 3.5 and run.broker_cpu == 1.0
    assert run.notes == []


def test_committed_by_the_first_stable_poll_has_no_rate_and_says_why() -> None:
    t = Timing(100.0, stable=102.0, committed=102.003, within_first_poll=True)
    t.cpu_stable, t.cpu_committed = (1.0, 2.0), (1.001, 2.0)
    run = _run()
    t.fill(run, 20_000)
    assert run.seconds is None and run.rate is None
    assert run.cpu is None and run.rate_cpu is None
    assert run.startup == 2.0
    assert len(run.notes) == 1
    assert "too short to time" in run.notes[0]
    assert f"{POLL_INTERVAL} s" in run.notes[0]


def test_never_seen_stable_is_timed_from_the_process_start() -> None:
    t = Timing(100.0, committed=103.0, cpu_started=(0.0, 1.0))
    t.cpu_committed = (2.0, 1.5)
    run = _run()
    t.fill(run, 20_000)
    assert run.seconds == 3.0
    assert run.cpu == 2.0
    assert "never seen Stable" in run.notes[0]
