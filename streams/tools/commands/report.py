"""`salespulse report`: a performance report for a period, read from a worker's HTTP API.

It asks the leaderboard for the ids that have figures, then each one's performance, so the
report is exactly what the API serves (README, "HTTP API") and needs no Kafka access. The
leaderboard answers at most 1000 entries per request: beyond that the report asks team by
team, and says on stderr when some may still be missing.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import sys
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from streams.tools import api_client
from streams.tools.api_client import ApiError, ApiUnavailable, SalesApi
from streams.tools.commands.options import add_api_argument, api_url
from streams.tools.number_text import exact, number, percent
from streams.worker.settings import Settings, SettingsError

EPILOG = """\
examples:
  salespulse report                                   # reps, this month, as a table
  salespulse report --period 2026-Q4 --scope team
  salespulse report --team t-smb                      # the reps of one team
  salespulse report --period 2026-W48 --format csv > week48.csv
  salespulse report --api http://127.0.0.1:6067 --format json

periods: day 2026-11-27, ISO week 2026-W48, month 2026-11, quarter 2026-Q4
"""


def current_month(tz: ZoneInfo) -> str:
    now = datetime.now(tz)
    return f"{now.year:04d}-{now.month:02d}"


def per_day(value: Any) -> str:
    """A required pace: two decimals below 1 (0.05 deals a day), one below 10, else none."""
    if value is None:
        return "-"
    digits = 0 if value == 0 or abs(value) >= 10 else 2 if abs(value) < 1 else 1
    return number(value, digits)


def projected_attainment(target: dict[str, Any]) -> float | None:
    """projected / target: where the straight-line run rate ends the period (None: unknown)."""
    projected, value = target.get("projected"), target.get("target")
    if projected is None or not value:
        return None
    return float(projected) / float(value)


def target_summary(target: dict[str, Any]) -> str:
    """`revenue_won 62% at_risk, proj 85%, need 1,234/day`: attainment and status, then where
    the run rate ends the period and what each business day left must bring."""
    status = f"{target.get('metric')} {percent(target.get('attainment'))} {target.get('status')}"
    projected = percent(projected_attainment(target))
    required = per_day(target.get("required_per_business_day"))
    return f"{status}, proj {projected}, need {required}{'' if required == '-' else '/day'}"


def targets_summary(targets: list[dict[str, Any]]) -> str:
    """Every target's `target_summary`, `; `-separated: what a sales leader scans first."""
    return "; ".join(target_summary(t) for t in targets)


def _groups(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The document's groups; an absent or null group reads as empty."""
    names = ("activities", "deals", "satisfaction", "efficiency", "conversion", "pipeline")
    return {name: doc.get(name) or {} for name in (*names, "retention", "customers")}


def flatten(doc: dict[str, Any]) -> dict[str, Any]:
    """One row per scope for CSV: the figures of docs/contract.md sections 4 and 8.2 as columns
    (the breakdowns by source, reason, kind, stage and type stay in --format json)."""
    g = _groups(doc)
    deals, sat, eff = g["deals"], g["satisfaction"], g["efficiency"]
    conv, pipe, ret, cust = g["conversion"], g["pipeline"], g["retention"], g["customers"]
    return {
        "scope": doc.get("scope"),
        "id": doc.get("id"),
        "team_id": doc.get("team_id", ""),
        "period": doc.get("period"),
        "currency": doc.get("currency"),
        "activities_total": g["activities"].get("total"),
        "deals_won": deals.get("won"),
        "deals_lost": deals.get("lost"),
        "revenue_won": deals.get("revenue_won"),
        "win_rate": deals.get("win_rate"),
        "avg_deal_size": deals.get("avg_deal_size"),
        "avg_cycle_days": deals.get("avg_cycle_days"),
        "csat_avg": sat.get("csat_avg"),
        "csat_count": sat.get("csat_count"),
        "nps": sat.get("nps"),
        "nps_count": sat.get("nps_count"),
        "activities_per_win": eff.get("activities_per_win"),
        "revenue_per_activity": eff.get("revenue_per_activity"),
        "touches_per_won_deal": eff.get("touches_per_won_deal"),
        "conversion_created": conv.get("created"),
        "conversion_won": conv.get("won"),
        "conversion_win_rate": conv.get("win_rate"),
        "pipeline_open_count": pipe.get("open_count"),
        "pipeline_open_amount": pipe.get("open_amount"),
        "renewals_won": ret.get("renewals_won"),
        "renewals_lost": ret.get("renewals_lost"),
        "retention_rate": ret.get("rate"),
        "customers_won": cust.get("won"),
        "customers_new": cust.get("new"),
        "customers_repeat": cust.get("repeat"),
        "quadrant": doc.get("quadrant", ""),
        "targets": targets_summary(doc.get("targets") or []),
    }


#: the columns of a row that name it rather than measure it (no previous_* copy)
_NAMING = ("scope", "id", "team_id", "currency")


def with_previous(doc: dict[str, Any]) -> dict[str, Any]:
    """A CSV row with the previous period's figures beside it (previous_* columns)."""
    row = flatten(doc)
    previous = flatten(doc.get("previous") or {})
    row.update({f"previous_{k}": v for k, v in previous.items() if k not in _NAMING})
    return row


def change(now: Any, before: Any, show: Callable[[Any], str], *, points: bool) -> str:
    """`12,345 (+2,000)`: a figure and how it moved since the previous period; a ratio moves
    in percentage points (`45% (+5 pp)`). Unchanged, or either side unknown: the figure."""
    cell = show(now)
    if now is None or before is None or now == before:
        return cell
    delta = exact(now) - exact(before)
    sign = "+" if delta > 0 else "-"
    if points:
        return f"{cell} ({sign}{number(abs(delta) * 100)} pp)"
    return f"{cell} ({sign}{show(abs(delta))})"


#: the table's columns that show their change with --compare previous, and whether in points
_COMPARED = {
    "activities_total": False,
    "deals_won": False,
    "revenue_won": False,
    "win_rate": True,
    "conversion_win_rate": True,
    "retention_rate": True,
    "pipeline_open_amount": False,
}

#: table columns after the id (and a rep's team), with how each cell is written
_COLUMNS: dict[str, tuple[str, Callable[[Any], str]]] = {
    "activities": ("activities_total", number),
    "won": ("deals_won", number),
    "lost": ("deals_lost", number),
    "win rate": ("win_rate", percent),
    "revenue": ("revenue_won", number),
    "avg deal": ("avg_deal_size", number),
    "cycle d": ("avg_cycle_days", lambda v: number(v, 1)),
    "csat": ("csat_avg", lambda v: number(v, 2)),
    "nps": ("nps", number),
    "act/win": ("activities_per_win", lambda v: number(v, 1)),
}
#: what a team row adds: its creation cohort's win rate, renewals kept, open pipeline
_TEAM_COLUMNS: dict[str, tuple[str, Callable[[Any], str]]] = {
    "conv. win": ("conversion_win_rate", percent),
    "retention": ("retention_rate", percent),
    "pipeline": ("pipeline_open_amount", number),
}


def render_table(
    docs: list[dict[str, Any]], scope: str, period: str, *, compare: bool = False
) -> Any:
    from rich.table import Table

    currency = docs[0].get("currency", "") if docs else ""
    title = f"{scope} performance, {period} ({currency})"
    previous_id = next((d["previous"].get("period") for d in docs if d.get("previous")), None)
    if compare and previous_id:
        title += f"; in brackets the change since {previous_id}"
    table = Table(title=title, title_justify="left")
    numbers = dict(_COLUMNS, **(_TEAM_COLUMNS if scope == "team" else {}))
    columns = ["#", scope, *(["team"] if scope == "rep" else []), *numbers]
    columns += [*(["quadrant"] if scope == "rep" else []), "targets"]
    for name in columns:
        right = name not in (scope, "team", "quadrant", "targets")
        table.add_column(name, justify="right" if right else "left", overflow="fold")
    for rank, doc in enumerate(docs, 1):
        row = flatten(doc)
        before = flatten(doc["previous"]) if compare and doc.get("previous") else None
        cells = [str(rank), str(row["id"])]
        if scope == "rep":
            cells.append(str(row["team_id"]))
        for field, show in numbers.values():
            if before is not None and field in _COMPARED:
                cells.append(change(row[field], before[field], show, points=_COMPARED[field]))
            else:
                cells.append(show(row[field]))
        if scope == "rep":
            cells.append(
                str(row["quadrant"] or "-").replace("_activity_", " activity, ").replace("_", " ")
            )
        cells.append(row["targets"] or "-")
        table.add_row(*cells)
    return table


async def ranked_entries(
    api: SalesApi, scope: str, period: str, team: str | None = None
) -> tuple[list[dict[str, Any]], bool]:
    """Leaderboard entries of every scope with figures, and whether some may be missing.

    One request answers at most LEADERBOARD_MAX_LIMIT entries. When the reps fill it, they
    are asked for team by team (the leaderboard's team filter) and merged in leaderboard
    order; only that many teams, or a team with that many reps, can still leave some out.
    """
    limit = api_client.LEADERBOARD_MAX_LIMIT
    entries = await api.leaderboard(period, scope=scope, team=team, limit=limit)
    if len(entries) < limit:
        return entries, False
    if scope != "rep" or team is not None:
        return entries, True
    teams = await api.leaderboard(period, scope="team", limit=limit)
    parts = await asyncio.gather(
        *(api.leaderboard(period, scope="rep", team=t["id"], limit=limit) for t in teams)
    )
    merged = {entry["id"]: entry for entry in entries}
    for part in parts:
        merged.update((entry["id"], entry) for entry in part)
    limited = len(teams) >= limit or any(len(part) >= limit for part in parts)
    ordered = sorted(merged.values(), key=lambda e: (-(e.get("value") or 0), str(e["id"])))
    return ordered, limited


async def collect(
    url: str, scope: str, period: str, team: str | None = None, compare: str | None = None
) -> tuple[list[dict[str, Any]], bool, str | None]:
    """Every scope's performance document, ranked; True when some may be missing; and the
    note on the answering worker's contact with Kafka (`kafka_note`)."""
    async with SalesApi(url) as api:
        entries, limited = await ranked_entries(api, scope, period, team)
        ids = [e["id"] for e in entries]
        docs = await api.performances(scope, ids, period, compare=compare)
        return docs, limited, await kafka_note(api)


async def kafka_note(api: SalesApi) -> str | None:
    """What the report says on stderr when the worker that answered has lost contact with
    Kafka (its /healthz): its figures are as of then. None when in contact or not known."""
    try:
        health = await api.get("/healthz")
    except (ApiUnavailable, ApiError):
        return None
    kafka = health.get("kafka") if isinstance(health, dict) else None
    if not isinstance(kafka, dict) or kafka.get("contact") != "lost":
        return None
    return (
        f"salespulse report: note: the worker at {api.base_url} has had no contact with Kafka "
        f"since {kafka.get('lost_since')}: these figures are as of "
        f"{kafka.get('last_contact')}, and newer events are not in them yet"
    )


def limited_note(scope: str, period: str) -> str:
    """What the report says on stderr when the API's limit may have left scopes out."""
    limit = api_client.LEADERBOARD_MAX_LIMIT
    narrow = "; narrow it with --team" if scope == "rep" else ""
    return (
        f"salespulse report: note: the leaderboard answers at most {limit:,} {scope}s per "
        f"request and {period} may have more, so this report may be incomplete{narrow}"
    )


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "report",
        help="print a performance report from a running worker's API",
        description="Print every rep's (or team's) figures and target status for a period, "
        "ranked by revenue won, from a running worker's HTTP API.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--period", help="2026-11, 2026-Q4, 2026-W48, 2026-11-27 (default: this month)"
    )
    parser.add_argument("--scope", choices=("rep", "team"), default="rep")
    parser.add_argument("--team", metavar="TEAM_ID", help="only the reps of this team")
    parser.add_argument("--format", choices=("table", "csv", "json"), default="table")
    parser.add_argument(
        "--compare",
        choices=("previous",),
        help="previous: set each figure against the period of the same kind just before "
        '(table: the change in brackets; csv: previous_* columns; json: "previous")',
    )
    add_api_argument(parser)
    parser.set_defaults(func=run_report)


def run_report(args: argparse.Namespace) -> int:
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"salespulse report: {exc}", file=sys.stderr)
        return 2
    if args.team is not None and args.scope != "rep":
        print("salespulse report: --team applies to --scope rep only", file=sys.stderr)
        return 2
    url = api_url(args, settings)
    period = args.period or current_month(settings.tz)
    try:
        docs, limited, note = asyncio.run(collect(url, args.scope, period, args.team, args.compare))
    except ApiUnavailable as exc:
        print(f"salespulse report: {exc}", file=sys.stderr)
        return 1
    except ApiError as exc:
        print(f"salespulse report: the worker refused the request: {exc}", file=sys.stderr)
        return 2
    if limited:
        print(limited_note(args.scope, period), file=sys.stderr)
    if note is not None:
        print(note, file=sys.stderr)
    _print_report(docs, args, period)
    return 0


def _print_report(docs: list[dict[str, Any]], args: argparse.Namespace, period: str) -> None:
    if args.format == "json":
        print(orjson.dumps(docs, option=orjson.OPT_INDENT_2).decode())
    elif args.format == "csv":
        out = io.StringIO()
        rows = [with_previous(d) if args.compare else flatten(d) for d in docs]
        fields = list(rows[0]) if rows else list((with_previous if args.compare else flatten)({}))
        writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        print(out.getvalue(), end="")
    else:
        from rich.console import Console

        # a pipe gets the full width rather than an 80-column wrap
        console = Console() if sys.stdout.isatty() else Console(width=200)
        if docs:
            console.print(render_table(docs, args.scope, period, compare=bool(args.compare)))
        else:
            whose = f" of team {args.team}" if args.team else ""
            console.print(
                f"no figures{whose} for {period} yet: send events with `salespulse generate`"
            )
