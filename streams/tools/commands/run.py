"""`salespulse run`: the whole demo on one machine (what `make run` calls).

Starts a worker subprocess, waits until it is ready, sets demo targets, sends some history so
the figures mean something, then streams live events at a visible rate while a terminal view
shows the leaderboard, quadrants and alerts. Ctrl-C stops everything it started.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from itertools import groupby
from pathlib import Path
from typing import Any

from streams.domain.durations import iso_duration
from streams.tools.api_client import ApiError, ApiUnavailable, SalesApi
from streams.tools.commands.generate import (
    add_stream_arguments,
    at_least_one,
    build_config,
    count,
    parse_duration_seconds,
    positive_float,
)
from streams.tools.commands.options import add_bootstrap_argument, env_note, settings_from
from streams.tools.commands.report import current_month
from streams.tools.generator import (
    BusinessClock,
    GeneratorConfig,
    Record,
    SalesSimulator,
    demo_targets,
    month_elapsed,
    targets_for,
)
from streams.tools.live_view import LiveState, follow_alerts, poll_api, render, status_line
from streams.tools.producer import (
    EXIT_KAFKA_UNAVAILABLE,
    KafkaUnavailable,
    OutageReport,
    Outgoing,
    Progress,
    RecordProducer,
    ensure_topics,
    outgoing,
    progress_bar,
    quiet_kafka_logs,
)
from streams.tools.topic_reader import records_held
from streams.worker.settings import Settings, SettingsError, Topics

EPILOG = """\
examples:
  make run                                   # installs, starts Kafka, then this
  salespulse run                             # SaaS demo until Ctrl-C
  salespulse run --context consulting --rate 20
  salespulse run --no-view --duration 60     # for scripts and tests: plain status lines

The worker's output goes to var/run/worker-$SALES_API_PORT.log.
"""


class RunError(RuntimeError):
    """The demo cannot go on; the message says why and what to do."""


#: what to try in another terminal while the demo runs (README, Walkthrough)
NEXT_STEPS = (
    "in another terminal: salespulse report (the figures), salespulse status (the workers), "
    "salespulse deadletters (the rejected records)"
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run the whole demo: worker, targets, history, live events and a live view",
        description="Start a worker, set demo targets, send history then live events, and "
        "watch leaderboard, quadrants and alerts live.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_stream_arguments(parser)
    parser.set_defaults(seed=None, late_rate=0.005, duplicate_rate=0.005, invalid_rate=0.005)
    parser.add_argument(
        "--days", type=positive_float, default=30.0, help="days of history sent first (30)"
    )
    parser.add_argument(
        "--events", type=count, default=6000, help="history events sent first (6000)"
    )
    parser.add_argument(
        "--rate", type=positive_float, default=8.0, help="live events per second (8)"
    )
    parser.add_argument(
        "--duration", type=parse_duration_seconds, help="stop after this long (default: Ctrl-C)"
    )
    parser.add_argument(
        "--no-view",
        action="store_true",
        help="print status lines instead (as when the output is not a terminal)",
    )
    parser.add_argument(
        "--no-worker",
        action="store_true",
        help="use the worker already answering on the API port instead of starting one "
        + env_note("SALES_API_PORT"),
    )
    parser.add_argument(
        "--ready-timeout",
        type=at_least_one,
        default=180,
        help="seconds to wait for the worker's /readyz (180)",
    )
    add_bootstrap_argument(parser)
    parser.set_defaults(func=run_demo, start=None, end=None)


def run_demo(args: argparse.Namespace) -> int:
    quiet_kafka_logs()
    try:
        settings = settings_from(args)
        if args.seed is None:
            args.seed = int(time.time())  # new event ids on every demo against the same broker
        config = build_config(args, settings, datetime.now(settings.tz))
    except (ValueError, SettingsError) as exc:
        print(f"salespulse run: {exc}", file=sys.stderr)
        return 2
    try:
        asyncio.run(_demo(args, settings, config))
    except KafkaUnavailable as exc:
        print(f"salespulse run: {exc}", file=sys.stderr)
        return EXIT_KAFKA_UNAVAILABLE
    except RunError as exc:
        print(f"salespulse run: {exc}", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("salespulse run: stopped", file=sys.stderr)
        return 0
    return 0


async def _demo(args: argparse.Namespace, settings: Settings, config: GeneratorConfig) -> None:
    api_url = f"http://127.0.0.1:{settings.api_port}"
    topics = settings.topics
    await ensure_topics(settings, topics.inputs())  # also proves Kafka is reachable
    worker: asyncio.subprocess.Process | None = None
    background: list[asyncio.Task[None]] = []
    _stop_on_signals(asyncio.current_task())
    async with SalesApi(api_url, timeout=5) as api:
        try:
            if args.no_worker:
                if not await api.ready():
                    raise RunError(f"--no-worker, but no worker is ready at {api_url}/readyz")
            elif await api.ready():
                print(f"a worker already answers at {api_url}: using it", file=sys.stderr)
            else:
                worker = await _start_worker(settings)
                await _wait_ready(api, worker, args.ready_timeout, _worker_log(settings))
            sim = SalesSimulator(config)
            state = LiveState(
                api_url=api_url, period=current_month(settings.tz), context=sim.context.name
            )
            # alerts from the end, but before targets and history so their alerts show up
            background.append(asyncio.create_task(follow_alerts(state, settings)))
            # patience None: a demo rides out a broker restart, holding the live events;
            # a short request timeout shows an outage within seconds (loopback broker)
            async with RecordProducer(
                settings, request_timeout_ms=5000, patience=None, report=_kafka_report(state)
            ) as producer:
                start, end, events = await history_span(settings, config)
                sent = await send_history(producer, sim, start, end, events, topics)
                days = (end - start).total_seconds() / 86400
                print(
                    f"sent {sent} history events ({config.context}, {days:.3g} days)",
                    file=sys.stderr,
                )
                targets = await _targets_from_worker(api, state.period, settings, config.seed)
                if not targets:
                    targets = demo_targets(config, datetime.now(settings.tz))
                await producer.send_records(outgoing(t, topics) for t in targets)
                print(f"set {len(targets)} demo targets for {state.period}", file=sys.stderr)
                print(NEXT_STEPS, file=sys.stderr)
                background.append(asyncio.create_task(poll_api(state, api)))
                await _live(args, state, settings, producer, sim, background)
        finally:
            await _cancel(background)
            if worker is not None:
                # past the worker's own SALES_STOP_TIMEOUT: it cuts a stop that hangs itself,
                # leaving its marker for a restore (a SIGKILL here would do the same, sooner)
                await _stop_worker(worker, settings.stop_timeout + STOP_MARGIN)


#: how far inside the grace a second demo's history starts: the first demo's stream time may
#: run ahead of this machine's clock by the worker's allowed clock skew (minutes)
GRACE_MARGIN = timedelta(hours=1)


def history_within_grace(
    start: datetime, end: datetime, events: int, late_grace: timedelta
) -> tuple[datetime, int]:
    """The span and event count of a history sent after an earlier demo, whose live events
    (stamped with the wall clock) put the worker's stream time at about `end`: only what
    `late_grace` still lets in, as dense as the whole history would have been."""
    later = max(start, end - late_grace + GRACE_MARGIN)
    if later >= end:
        return end, 0
    return later, round(events * (end - later) / (end - start))


def _shifted(progress: Progress, by: int) -> Progress:
    """A progress callback for one day of the history: it counts from the days before."""
    return lambda done: progress(by + done)


async def history_span(
    settings: Settings, config: GeneratorConfig
) -> tuple[datetime, datetime, int]:
    """The history to send: all of it, or after an earlier demo what the grace still lets in."""
    start, end = config.span()
    topics = settings.topics
    if not await records_held(settings, [topics.activities, topics.deals, topics.feedback]):
        return start, end, config.events
    later, events = history_within_grace(start, end, config.events, settings.late_grace)
    if later == start:
        return start, end, events  # the grace reaches back past the whole history
    if BusinessClock(later, end, settings.tz).total <= 0:
        events = 0  # a short grace over a weekend: no business hour left to fill
    print(
        "the input topics already hold events (an earlier demo's, stamped up to now): "
        f"history from {later:%Y-%m-%d %H:%M} only, since older events would be late "
        f"(SALES_LATE_GRACE {iso_duration(settings.late_grace)})",
        file=sys.stderr,
    )
    return later, end, events


async def send_history(
    producer: RecordProducer,
    sim: SalesSimulator,
    start: datetime,
    end: datetime,
    events: int,
    topics: Topics,
) -> int:
    """The history in time order, day by day, each day acknowledged by the broker before
    the next is sent.

    Why: sent in chunks of 2,000 records (some ten days of the demo), one topic's later
    days reached the worker before another's earlier ones, and the worker's stream time
    passed those by more than SALES_LATE_GRACE: a first demo dead-lettered some 10 % of its
    own history as late_event (tests/integration/test_demo_run.py).
    """
    sent = 0
    with progress_bar("history", events) as progress:
        timed = sim.timed_history(start, end, events)
        for _, day in groupby(timed, key=lambda pair: pair[0].date()):
            done = sent
            sent += await producer.send_records(
                (outgoing(record, topics) for _, record in day),
                progress=_shifted(progress, done),
            )
    return sent


def _kafka_report(state: LiveState) -> OutageReport:
    """Outages on stderr (above the live view, which rich redirects) and in the view."""

    def report(message: str, ongoing: bool) -> None:
        state.kafka_problem = message if ongoing else ""
        print(f"salespulse run: {message}", file=sys.stderr, flush=True)

    return report


async def _targets_from_worker(
    api: SalesApi, period: str, settings: Settings, seed: int, settle: float = 45.0
) -> list[Record]:
    """Demo targets relative to the figures the worker really holds for this month.

    Basing them on the worker's figures (rather than on the history just sent) keeps them
    meaningful when the broker already holds earlier demos' events.
    """
    last = -1.0
    deadline = time.monotonic() + settle
    entries: list[dict[str, Any]] = []
    while time.monotonic() < deadline:  # wait until the history is folded in
        try:
            entries = await api.leaderboard(period, metric="activities_total")
        except (ApiError, ApiUnavailable):
            return []
        total = float(sum(e.get("value") or 0 for e in entries))
        if entries and total == last:
            break
        last = total
        await asyncio.sleep(1.5)
    if not entries:
        return []
    docs = await api.performances("rep", [e["id"] for e in entries], period)
    to_date = {
        d["id"]: {
            "revenue_won": float(d["deals"].get("revenue_won") or 0),
            "deals_won": float(d["deals"].get("won") or 0),
            "activities_total": float(d["activities"].get("total") or 0),
        }
        for d in docs
    }
    if not any(figures["revenue_won"] for figures in to_date.values()):
        return []  # the month has just begun: the history's pace says more (demo_targets)
    teams = {d["id"]: str(d.get("team_id") or "") for d in docs}
    elapsed = month_elapsed(datetime.now(settings.tz), settings.tz)
    return targets_for(to_date, teams, period, elapsed, seed)


async def _live(
    args: argparse.Namespace,
    state: LiveState,
    settings: Settings,
    producer: RecordProducer,
    sim: SalesSimulator,
    background: list[asyncio.Task[None]],
) -> None:
    """Live events while the view refreshes, until --duration, Ctrl-C or a failure."""
    topics = settings.topics

    def counted() -> Iterator[Outgoing]:
        for record in sim.live(lambda: datetime.now(sim.tz)):
            state.sent += 1
            yield outgoing(record, topics)

    state.started = time.monotonic()
    sender = asyncio.create_task(producer.send_records(counted(), rate=args.rate or None))
    tasks: list[asyncio.Task[Any]] = [sender, *background]
    deadline = time.monotonic() + args.duration if args.duration else None
    try:
        if args.no_view or not sys.stdout.isatty():
            await _plain(state, tasks, deadline)
        else:
            from rich.live import Live

            with Live(render(state), refresh_per_second=2) as live:
                while not _over(tasks, deadline):
                    await asyncio.sleep(0.5)
                    live.update(render(state, live.console.width))
    finally:
        await _cancel([sender])
    for task in tasks:
        if task.done() and not task.cancelled() and task.exception() is not None:
            raise RunError(f"the live stream stopped: {task.exception()}")


async def _cancel(tasks: list[asyncio.Task[Any]]) -> None:
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


def _over(tasks: list[asyncio.Task[Any]], deadline: float | None) -> bool:
    if deadline is not None and time.monotonic() >= deadline:
        return True
    return any(t.done() for t in tasks)


async def _plain(state: LiveState, tasks: list[asyncio.Task[Any]], deadline: float | None) -> None:
    last = 0.0
    while not _over(tasks, deadline):
        await asyncio.sleep(0.5)
        if time.monotonic() - last >= 5:
            print(status_line(state), flush=True)
            last = time.monotonic()
    print(status_line(state), flush=True)


def _stop_on_signals(task: asyncio.Task[Any] | None) -> None:
    """SIGTERM and SIGHUP (terminal closed) stop the demo as cleanly as Ctrl-C does."""
    if task is None:
        return
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGHUP):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, task.cancel)


def _die_with_parent() -> None:
    """In the worker child (Linux): get SIGTERM if `run` itself dies without cleaning up."""
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _worker_log(settings: Settings) -> Path:
    return Path("var/run") / f"worker-{settings.api_port}.log"


def _worker_command() -> list[str]:
    """`salespulse worker` via this interpreter, so the venv is used even if not on PATH."""
    return [sys.executable, "-m", "streams.tools.cli", "worker"]


async def _start_worker(settings: Settings) -> asyncio.subprocess.Process:
    log_path = _worker_log(settings)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    print(f"starting a worker (log: {log_path})", file=sys.stderr)
    with log_path.open("ab") as log:
        return await asyncio.create_subprocess_exec(
            *_worker_command(),
            env={**os.environ, "KAFKA_BOOTSTRAP": settings.kafka_bootstrap},
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,  # Ctrl-C reaches us; we stop the worker cleanly ourselves
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )


async def _wait_ready(
    api: SalesApi, worker: asyncio.subprocess.Process, timeout: float, log_path: Path
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if worker.returncode is not None:
            tail = _tail(log_path)
            raise RunError(
                f"the worker exited with code {worker.returncode} before it was ready; "
                f"its log ({log_path}) ends with:\n{tail}"
            )
        if await api.ready():
            print(f"worker ready at {api.base_url}", file=sys.stderr)
            return
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(worker.wait(), 0.5)
    raise RunError(
        f"the worker was not ready after {timeout:.0f}s: see {log_path}, or raise --ready-timeout"
    )


#: seconds a stopping worker gets beyond its own SALES_STOP_TIMEOUT before the demo kills it
STOP_MARGIN = 10.0


async def _stop_worker(worker: asyncio.subprocess.Process, grace: float) -> None:
    """SIGTERM, then SIGKILL after `grace` seconds: the worker gets to commit and close."""
    if worker.returncode is not None:
        return
    print("stopping the worker", file=sys.stderr)
    with contextlib.suppress(ProcessLookupError):
        worker.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(worker.wait(), grace)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            worker.kill()
        await worker.wait()


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
