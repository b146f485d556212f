"""`salespulse status`: is the group well? One worker asked, every worker listed.

Reads `GET /v1/status` (streams.worker.group_status): each worker's readiness, Kafka
contact, the internal partitions it folds and the records waiting on its partitions, and
what is wrong. The exit code says it for scripts: 0 all well, 3 something is wrong, 1 no
worker answers.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

import orjson

from streams.tools.api_client import ApiError, ApiUnavailable, SalesApi
from streams.tools.commands.options import add_api_argument, api_url
from streams.worker.settings import Settings, SettingsError

#: the exit code of a group with problems (1 is "no worker answers", 2 a usage error)
DEGRADED = 3

EPILOG = """\
examples:
  salespulse status
  salespulse status --api http://10.0.0.7:6066 --format json
  salespulse status || alert "salespulse is degraded"   # exit 3 when something is wrong
"""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "status",
        help="the state of every worker of the group, and what is wrong",
        description="Ask one worker for the whole group: each worker's readiness, Kafka "
        "contact, internal partitions and records waiting, and the problems found. Exit "
        f"code 0 when all is well, {DEGRADED} when something is wrong, 1 when no worker answers.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--format", choices=("table", "json"), default="table")
    add_api_argument(parser)
    parser.set_defaults(func=run_status)


async def fetch(url: str) -> dict[str, Any]:
    async with SalesApi(url) as api:
        doc: dict[str, Any] = await api.get("/v1/status")
        return doc


def run_status(args: argparse.Namespace) -> int:
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"salespulse status: {exc}", file=sys.stderr)
        return 2
    url = api_url(args, settings)
    try:
        doc = asyncio.run(fetch(url))
    except ApiUnavailable as exc:
        print(f"salespulse status: {exc}", file=sys.stderr)
        return 1
    except ApiError as exc:
        print(f"salespulse status: the worker refused the request: {exc}", file=sys.stderr)
        return 2
    if args.format == "json":
        print(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode())
    else:
        print_status(doc)
    return 0 if doc.get("status") == "ok" else DEGRADED


def kafka_cell(line: dict[str, Any]) -> str:
    kafka = line.get("kafka")
    if kafka is None:
        return "-"
    if kafka.get("contact") == "ok":
        return "ok"
    return f"lost since {kafka.get('lost_since')}"


def partitions_cell(partitions: list[int]) -> str:
    """`0-3, 6`: runs of consecutive partitions."""
    runs: list[str] = []
    start = previous = None
    for p in [*sorted(partitions), None]:
        if p is not None and previous is not None and p == previous + 1:
            previous = p
            continue
        if start is not None:
            runs.append(str(start) if start == previous else f"{start}-{previous}")
        start = previous = p
    return ", ".join(runs) or "-"


def busy_cell(share: float | None) -> str:
    """The share of the last minute the worker's event loop worked: near 100 % while its
    lag grows, it takes no more load; "-": not known yet (a worker just started, or an
    older version)."""
    return "-" if share is None else f"{share:.0%}"


def print_status(doc: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    workers = doc.get("workers", [])
    lag = doc.get("lag", {})
    title = (
        f"{len(workers)} worker{'' if len(workers) == 1 else 's'}, "
        f"{doc.get('partitions')} partitions: {doc.get('status')} "
        f"(records waiting: {lag.get('input', 0):,} input, {lag.get('internal', 0):,} internal)"
    )
    table = Table(title=title, title_justify="left")
    columns = ("worker", "url", "ready", "Kafka", "partitions", "input lag", "internal lag", "busy")
    for column in (*columns, "retention"):
        table.add_column(column, justify="right" if "lag" in column or column == "busy" else "left")
    for line in workers:
        if line.get("error"):
            table.add_row("?", line.get("url", ""), "no answer", "", "", "", "", "", "")
            continue
        table.add_row(
            line["worker"],
            line.get("url", ""),
            "yes" if line["ready"] else "no",
            kafka_cell(line),
            partitions_cell(line.get("partitions", [])),
            f"{line['lag']['input']:,}",
            f"{line['lag']['internal']:,}",
            busy_cell(line.get("busy")),
            line.get("retention") or "-",  # SALES_RETENTION; "-": unset
        )
    console = Console()
    console.print(table)
    for problem in doc.get("problems", []):
        console.print(f"[red]problem:[/red] {problem}", highlight=False)
