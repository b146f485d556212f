"""`salespulse report`: a performance report for a period, read from a worker's HTTP API.

It asks the leaderboard for the ids that have figures, then each one's performance, so the
report is exactly what the API serves (CONTRACT section 6) and needs no Kafka access.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import sys
from collections.abc import Sequence
from datetime import datetime
from types import TracebackType
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import aiohttp
import orjson

from streams.worker.settings import Settings, SettingsError

EPILOG = """\
examples:
  salespulse report                                   # reps, this month, as a table
  salespulse report --period 2026-Q4 --scope team
  salespulse report --period 2026-W48 --format csv > week48.csv
  salespulse report --api http://127.0.0.1:6067 --format json

periods: day 2026-11-27, ISO week 2026-W48, month 2026-11, quarter 2026-Q4
"""


class ApiUnavailable(RuntimeError):
    """No worker answers at the URL; the message says how to start one."""


class ApiError(RuntimeError):
    """The worker answered with an error (bad parameter, unknown id)."""


class SalesApi:
    """A small async client of the worker's HTTP API (used by `report` and the live view)."""

    def __init__(self, base_url: str, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> SalesApi:
        self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._session is not None:
            await self._session.close()

    async def get(self, path: str, **params: Any) -> Any:
        """GET a JSON document; 4xx raise ApiError with the API's message."""
        assert self._session is not None, "use SalesApi as an async context manager"
        query = {k: str(v) for k, v in params.items() if v is not None}
        try:
            async with self._session.get(self.base_url + path, params=query) as response:
                body = await response.read()
                if response.status >= 400:
                    try:
                        message = orjson.loads(body).get("error", body.decode())
                    except (orjson.JSONDecodeError, AttributeError):
                        message = body.decode("utf-8", "replace")[:200]
                    raise ApiError(f"{response.status} from {path}: {message}")
                return orjson.loads(body)
        except (TimeoutError, aiohttp.ClientConnectionError):
            raise ApiUnavailable(
                f"no salespulse worker answers at {self.base_url}: start one with `make worker`"
            ) from None

    async def ready(self) -> bool:
        assert self._session is not None
        try:
            async with self._session.get(self.base_url + "/readyz") as response:
                return response.status == 200
        except (TimeoutError, aiohttp.ClientError):
            return False

    async def leaderboard(
        self, period: str, metric: str = "revenue_won", scope: str = "rep", limit: int = 1000
    ) -> list[dict[str, Any]]:
        doc = await self.get(
            "/v1/leaderboard", period=period, metric=metric, scope=scope, limit=limit
        )
        return list(doc.get("entries", []))

    async def performance(self, scope: str, scope_id: str, period: str) -> dict[str, Any]:
        kind = "reps" if scope == "rep" else "teams"
        doc: dict[str, Any] = await self.get(
            f"/v1/{kind}/{quote(scope_id, safe='')}/performance", period=period
        )
        return doc

    async def performances(
        self, scope: str, ids: Sequence[str], period: str, concurrency: int = 16
    ) -> list[dict[str, Any]]:
        """Performance of every id, in the given order; ids that vanished are skipped."""
        gate = asyncio.Semaphore(concurrency)

        async def one(scope_id: str) -> dict[str, Any] | None:
            async with gate:
                try:
                    return await self.performance(scope, scope_id, period)
                except ApiError:
                    return None

        results = await asyncio.gather(*(one(i) for i in ids))
        return [r for r in results if r is not None]


def current_month(tz: ZoneInfo) -> str:
    now = datetime.now(tz)
    return f"{now.year:04d}-{now.month:02d}"


def _pct(value: Any) -> str:
    return "-" if value is None else f"{value * 100:.0f}%"


def _num(value: Any, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def targets_summary(targets: list[dict[str, Any]]) -> str:
    """`revenue_won 82% behind` for each target: what a sales leader scans first."""
    parts = []
    for t in targets:
        attainment = t.get("attainment")
        share = "-" if attainment is None else f"{attainment * 100:.0f}%"
        parts.append(f"{t.get('metric')} {share} {t.get('status')}")
    return "; ".join(parts)


def short_quadrant(quadrant: Any) -> str:
    """`high_activity_low_performance` -> `hi act / lo perf`, to keep the table narrow."""
    if not quadrant:
        return "-"
    words = str(quadrant).replace("high", "hi").replace("low", "lo").split("_")
    return f"{words[0]} act / {words[2]} perf" if len(words) == 4 else str(quadrant)


def flatten(doc: dict[str, Any]) -> dict[str, Any]:
    """One row per scope for CSV: the figures of CONTRACT section 4 as columns."""
    deals = doc.get("deals", {})
    sat = doc.get("satisfaction", {})
    eff = doc.get("efficiency", {})
    acts = doc.get("activities", {})
    return {
        "scope": doc.get("scope"),
        "id": doc.get("id"),
        "team_id": doc.get("team_id", ""),
        "period": doc.get("period"),
        "currency": doc.get("currency"),
        "activities_total": acts.get("total"),
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
        "quadrant": doc.get("quadrant", ""),
        "targets": targets_summary(doc.get("targets", [])),
    }


def render_table(docs: list[dict[str, Any]], scope: str, period: str) -> Any:
    from rich.table import Table

    currency = docs[0].get("currency", "") if docs else ""
    table = Table(title=f"{scope} performance, {period} ({currency})", title_justify="left")
    columns = ["#", scope]
    if scope == "rep":
        columns.append("team")
    columns += ["activities", "won", "lost", "win rate", "revenue", "avg deal", "cycle d"]
    columns += ["csat", "nps", "act/win"]
    if scope == "rep":
        columns.append("quadrant")
    columns.append("targets")
    for name in columns:
        right = name not in (scope, "team", "quadrant", "targets")
        table.add_column(name, justify="right" if right else "left", overflow="fold")
    for rank, doc in enumerate(docs, 1):
        row = flatten(doc)
        cells = [str(rank), str(row["id"])]
        if scope == "rep":
            cells.append(str(row["team_id"]))
        cells += [
            _num(row["activities_total"]),
            _num(row["deals_won"]),
            _num(row["deals_lost"]),
            _pct(row["win_rate"]),
            _num(row["revenue_won"]),
            _num(row["avg_deal_size"]),
            _num(row["avg_cycle_days"], 1),
            _num(row["csat_avg"], 2),
            _num(row["nps"]),
            _num(row["activities_per_win"], 1),
        ]
        if scope == "rep":
            cells.append(
                str(row["quadrant"]).replace("_activity_", " activity, ").replace("_", " ")
            )
        cells.append(row["targets"] or "-")
        table.add_row(*cells)
    return table


async def collect(api_url: str, scope: str, period: str) -> list[dict[str, Any]]:
    async with SalesApi(api_url) as api:
        entries = await api.leaderboard(period, scope=scope)
        return await api.performances(scope, [e["id"] for e in entries], period)


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
    parser.add_argument("--format", choices=("table", "csv", "json"), default="table")
    parser.add_argument("--api", help="worker URL (default http://127.0.0.1:$SALES_API_PORT)")
    parser.set_defaults(func=run_report)


def run_report(args: argparse.Namespace) -> int:
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"salespulse report: {exc}", file=sys.stderr)
        return 2
    api_url = args.api or f"http://127.0.0.1:{settings.api_port}"
    period = args.period or current_month(settings.tz)
    try:
        docs = asyncio.run(collect(api_url, args.scope, period))
    except ApiUnavailable as exc:
        print(f"salespulse report: {exc}", file=sys.stderr)
        return 1
    except ApiError as exc:
        print(f"salespulse report: the worker refused the request: {exc}", file=sys.stderr)
        return 2
    if args.format == "json":
        print(orjson.dumps(docs, option=orjson.OPT_INDENT_2).decode())
    elif args.format == "csv":
        out = io.StringIO()
        rows = [flatten(d) for d in docs]
        fields = list(rows[0]) if rows else list(flatten({}))
        writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        print(out.getvalue(), end="")
    else:
        from rich.console import Console

        # a pipe gets the full width rather than an 80-column wrap
        console = Console() if sys.stdout.isatty() else Console(width=200)
        if docs:
            console.print(render_table(docs, args.scope, period))
        else:
            console.print(f"no figures for {period} yet: send events with `salespulse generate`")
    return 0
