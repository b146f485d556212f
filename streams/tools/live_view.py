"""The live terminal view of `salespulse run`: leaderboard, teams, quadrants, alerts, URLs.

State is filled by two background loops (API polling and the alerts topic) and drawn by
`render`, a pure function of that state, so the drawing can be tested without a terminal.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from streams.domain.vocabulary import Quadrant
from streams.tools.api_client import ApiError, ApiUnavailable, SalesApi
from streams.tools.commands.report import per_day, projected_attainment
from streams.tools.number_text import number, percent
from streams.tools.producer import topic_partitions
from streams.worker.kafka_options import kafka_options
from streams.worker.settings import Settings

#: how each quadrant is shown, best first
QUADRANT_STYLE: dict[Quadrant, tuple[str, str]] = {
    "high_activity_high_performance": ("hi act / hi perf", "green"),
    "low_activity_high_performance": ("lo act / hi perf", "cyan"),
    "high_activity_low_performance": ("hi act / lo perf", "yellow"),
    "low_activity_low_performance": ("lo act / lo perf", "red"),
}
STATUS_STYLE: dict[str, str] = {
    "achieved": "bold green",
    "on_track": "green",
    "behind": "yellow",
    "at_risk": "bold red",
    "missed": "red",
    "not_started": "dim",
}


@dataclass
class LiveState:
    """What the view shows; mutated by the background loops, read by `render`."""

    api_url: str
    period: str
    context: str
    leaderboard: list[dict[str, Any]] = field(default_factory=list)
    performance: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: the teams by revenue won, and their performance documents
    teams: list[dict[str, Any]] = field(default_factory=list)
    team_performance: dict[str, dict[str, Any]] = field(default_factory=dict)
    alerts: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=6))
    alerts_seen: int = 0
    sent: int = 0
    started: float = field(default_factory=time.monotonic)
    problem: str = ""
    #: the broker not taking the live events, while it lasts (they are held, not lost)
    kafka_problem: str = ""

    @property
    def rate(self) -> float:
        elapsed = time.monotonic() - self.started
        return self.sent / elapsed if elapsed > 0 else 0.0


def _target(doc: dict[str, Any], metric: str) -> dict[str, Any] | None:
    return next((t for t in doc.get("targets") or [] if t.get("metric") == metric), None)


def _target_status(doc: dict[str, Any], metric: str) -> Text:
    target = _target(doc, metric)
    if target is None:
        return Text("-", style="dim")
    status = str(target.get("status"))
    return Text(f"{percent(target.get('attainment'))} {status}", style=STATUS_STYLE.get(status, ""))


def _target_outlook(doc: dict[str, Any], metric: str) -> tuple[str, str]:
    """Projected attainment (projected / target) and the pace required per business day."""
    target = _target(doc, metric)
    if target is None:
        return "-", "-"
    return percent(projected_attainment(target)), per_day(target.get("required_per_business_day"))


def leaderboard_table(state: LiveState) -> Table:
    table = Table(title=f"revenue won, {state.period}", title_justify="left", expand=True)
    for name, justify in (
        ("#", "right"),
        ("rep", "left"),
        ("team", "left"),
        ("revenue", "right"),
        ("won", "right"),
        ("win rate", "right"),
        ("activities", "right"),
        ("target", "left"),
        ("proj", "right"),
        ("need/day", "right"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for entry in state.leaderboard[:12]:
        doc = state.performance.get(entry["id"], {})
        deals = doc.get("deals") or {}
        table.add_row(
            str(entry.get("rank", "")),
            str(entry["id"]),
            str(entry.get("team_id") or doc.get("team_id") or ""),
            number(entry.get("value")),
            number(deals.get("won")),
            percent(deals.get("win_rate")),
            number((doc.get("activities") or {}).get("total")),
            _target_status(doc, "revenue_won"),
            *_target_outlook(doc, "revenue_won"),
        )
    return table


def teams_table(state: LiveState) -> Table:
    """Per team: revenue, the creation cohort's win rate, renewals kept, open pipeline."""
    table = Table(title=f"teams, {state.period}", title_justify="left", expand=True)
    for name, justify in (
        ("team", "left"),
        ("revenue", "right"),
        ("conv. win", "right"),
        ("retention", "right"),
        ("pipeline", "right"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for entry in state.teams[:8]:
        doc = state.team_performance.get(entry["id"], {})
        table.add_row(
            str(entry["id"]),
            number(entry.get("value")),
            percent((doc.get("conversion") or {}).get("win_rate")),
            percent((doc.get("retention") or {}).get("rate")),
            number((doc.get("pipeline") or {}).get("open_amount")),
        )
    return table


def quadrant_table(state: LiveState) -> Table:
    """Reps placed by activity vs performance relative to their team (the `quadrant` field)."""
    members: dict[str, list[str]] = {key: [] for key in QUADRANT_STYLE}
    for rep_id, doc in sorted(state.performance.items()):
        quadrant = doc.get("quadrant")
        if quadrant in members:
            members[quadrant].append(rep_id)
    table = Table(title="activity vs performance", title_justify="left", expand=True)
    table.add_column("quadrant")
    table.add_column("reps")
    for key, (label, style) in QUADRANT_STYLE.items():
        table.add_row(Text(label, style=style), ", ".join(members[key]) or "-")
    return table


def alerts_table(state: LiveState) -> Table:
    table = Table(title=f"alerts ({state.alerts_seen} seen)", title_justify="left", expand=True)
    for name in ("emitted", "kind", "scope", "metric", "period", "attainment"):
        table.add_column(name)
    for alert in reversed(state.alerts):
        kind = str(alert.get("kind", ""))
        style = {"target_at_risk": "bold red", "target_missed": "red"}.get(kind, "green")
        attainment = alert.get("attainment")
        table.add_row(
            str(alert.get("emitted_at", ""))[11:19],
            Text(kind, style=style),
            f"{alert.get('scope')}:{alert.get('scope_id')}",
            str(alert.get("metric", "")),
            str(alert.get("period", "")),
            percent(attainment),
        )
    return table


def render(state: LiveState, width: int = 200) -> RenderableType:
    """The whole screen for the current state; wide terminals get two columns."""
    header = Text.assemble(
        ("salespulse ", "bold"),
        (f"{state.context} demo  ", "cyan"),
        f"API {state.api_url}  metrics {state.api_url}/metrics  ",
        (f"{state.sent:,} live events ({state.rate:.1f}/s)", "bold"),
        "  Ctrl-C stops everything",
    )
    parts: list[RenderableType] = [header]
    for problem in (state.kafka_problem, state.problem):
        if problem:
            parts.append(Text(problem, style="bold red"))
    if width >= 150:
        side_by_side = Table.grid(expand=True, padding=(0, 1))
        side_by_side.add_column(ratio=3)
        side_by_side.add_column(ratio=2)
        side_by_side.add_row(
            leaderboard_table(state), Group(quadrant_table(state), teams_table(state))
        )
        parts.append(side_by_side)
    else:
        parts += [leaderboard_table(state), teams_table(state), quadrant_table(state)]
    parts.append(alerts_table(state))
    return Panel(Group(*parts), border_style="blue")


async def poll_api(state: LiveState, api: SalesApi, interval: float = 2.0) -> None:
    """Refresh leaderboard and rep performance from the worker until cancelled."""
    while True:
        try:
            entries = await api.leaderboard(state.period, scope="rep")
            docs = await api.performances("rep", [e["id"] for e in entries], state.period)
            teams = await api.leaderboard(state.period, scope="team")
            team_docs = await api.performances("team", [e["id"] for e in teams], state.period)
            state.leaderboard = entries
            state.performance = {d["id"]: d for d in docs if "id" in d}
            state.teams = teams
            state.team_performance = {d["id"]: d for d in team_docs if "id" in d}
            state.problem = ""
        except (ApiUnavailable, ApiError) as exc:
            state.problem = str(exc)
        await asyncio.sleep(interval)


async def follow_alerts(state: LiveState, settings: Settings) -> None:
    """Consume the alerts topic from its end (new alerts only) until cancelled."""
    partitions: list[TopicPartition] = []
    while not partitions:
        partitions = await topic_partitions(settings, settings.topics.alerts)
        if not partitions:
            await asyncio.sleep(5)
    consumer = AIOKafkaConsumer(**kafka_options(settings), enable_auto_commit=False)
    await consumer.start()
    await asyncio.sleep(0)  # let aiokafka's no-group task start before any stop()
    try:
        consumer.assign(partitions)
        await consumer.seek_to_end(*partitions)
        while True:
            batch = await consumer.getmany(timeout_ms=1000)
            for messages in batch.values():
                for message in messages:
                    if message.value is None:
                        continue
                    try:
                        alert = orjson.loads(message.value)
                    except orjson.JSONDecodeError:
                        continue
                    if isinstance(alert, dict):
                        state.alerts.append(alert)
                        state.alerts_seen += 1
    finally:
        await consumer.stop()


def status_line(state: LiveState) -> str:
    """One line for `--no-view` runs (logs, tests)."""
    leader = state.leaderboard[0] if state.leaderboard else None
    lead = f"leader {leader['id']} ({number(leader.get('value'))})" if leader else "no leader yet"
    problem = "".join(f"; {p}" for p in (state.kafka_problem, state.problem) if p)
    return (
        f"{state.sent} live events ({state.rate:.1f}/s); {lead}; "
        f"{len(state.performance)} reps; {state.alerts_seen} alerts{problem}"
    )
