"""`salespulse targets set|list|delete`: manage quotas on the compacted targets topic.

The topic is the source of truth (docs/contract.md section 2): the latest value per key wins and a
null value deletes, so `list` replays the topic up to its end offsets and keeps the last one.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import math
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson

from streams.domain.events import ACTIVITY_TYPES, TargetCommand, is_valid_metric, is_valid_period
from streams.domain.validation import EventDecoder, Rejection
from streams.domain.vocabulary import HEADLINE_TARGET_METRICS
from streams.tools.commands.options import add_bootstrap_argument, settings_from
from streams.tools.event_files import read_csv as read_csv_records
from streams.tools.generator import target_record
from streams.tools.producer import (
    EXIT_KAFKA_UNAVAILABLE,
    KafkaUnavailable,
    RecordProducer,
    ensure_topics,
    outgoing,
    quiet_kafka_logs,
)
from streams.tools.topic_reader import read_to_end
from streams.worker.settings import Settings, SettingsError

METRICS = HEADLINE_TARGET_METRICS

EPILOG = """\
examples:
  salespulse targets set --scope rep --id s01 --metric revenue_won --period 2026-11 --value 50000
  salespulse targets set --scope team --id t-smb --metric activities.demo \\
      --period 2026-Q4 --value 300
  salespulse targets set --file targets.csv     # columns: scope,scope_id,metric,period,value
  salespulse targets list --period 2026-11
  salespulse targets delete --scope rep --id s01 --metric revenue_won --period 2026-11

metrics: revenue_won (base currency), deals_won, activities_total, activities.<type>
periods: day 2026-11-27, ISO week 2026-W48, month 2026-11, quarter 2026-Q4
"""


class TargetError(ValueError):
    """A target is malformed; the message names the bad field."""


def validate(scope: str, scope_id: str, metric: str, period: str, value: Any) -> int | float:
    """Check one target against the contract; return its value as a number: a whole one as
    an integer, so the topic holds `50000` as `publish` and hand-written records do, not
    `50000.0`."""
    if scope not in ("rep", "team"):
        raise TargetError(f"scope {scope!r} must be rep or team")
    if not 1 <= len(scope_id) <= 64:  # it may hold ':' (the worker splits keys around it)
        raise TargetError(f"id {scope_id!r} must be 1-64 characters")
    if not is_valid_metric(metric):
        raise TargetError(
            f"metric {metric!r} must be one of {', '.join(METRICS)} or activities.<type> "
            f"with type in {', '.join(ACTIVITY_TYPES)}"
        )
    if not is_valid_period(period):
        raise TargetError(
            f"period {period!r} must look like 2026-11-27, 2026-W48, 2026-11 or 2026-Q4"
        )
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise TargetError(f"value {value!r} is not a number") from None
    if not math.isfinite(number):  # JSON has no infinity: it would be sent as null, a delete
        raise TargetError(f"value {value!r} must be a finite number")
    if not number > 0:
        raise TargetError(f"value {value!r} must be > 0 (use `targets delete` to remove one)")
    return int(number) if number.is_integer() and number < 2**53 else number


def read_csv(path: Path) -> list[tuple[str, str, str, str, int | float]]:
    """Targets from a CSV with a header row scope,scope_id,metric,period,value, read as
    `publish` reads CSV (a byte-order mark dropped, cells trimmed, a row with more or fewer
    cells than the header refused: `1,200` unquoted is two cells, not 1)."""
    rows = []
    data = path.read_bytes().removeprefix(b"\xef\xbb\xbf")
    columns = ("scope", "scope_id", "metric", "period", "value")
    for record in read_csv_records(str(path), data, "targets", needs=columns):
        if record.problem is not None or record.raw is None:
            detail = record.problem[1] if record.problem else "no value"
            raise TargetError(f"{path} line {record.line}: {detail}")
        row = orjson.loads(record.raw)
        scope, scope_id, metric, period = (
            str(row.get(name, "")) for name in ("scope", "scope_id", "metric", "period")
        )
        try:
            value = validate(scope, scope_id, metric, period, row.get("value"))
            rows.append((scope, scope_id, metric, period, value))
        except TargetError as exc:
            raise TargetError(f"{path} line {record.line}: {exc}") from None
    return rows


async def send_targets(
    settings: Settings, items: Iterable[tuple[str, str, str, str, float | None]]
) -> int:
    """Send target values (None = tombstone) to the targets topic; return how many."""
    await ensure_topics(settings, [settings.topics.targets])
    records = [outgoing(target_record(*item), settings.topics) for item in items]
    async with RecordProducer(settings, linger_ms=5) as producer:
        return await producer.send_records(records)


async def read_targets(settings: Settings) -> dict[str, dict[str, Any]]:
    """The current targets as the worker holds them: the topic read from the beginning to
    its end offsets, each record judged by the worker's decoder. A record it refuses (a
    value of -5, invalid JSON) changes nothing, as in the worker: the value before it stands."""
    decoder = EventDecoder(
        known_currencies=frozenset(),
        max_payload_bytes=settings.max_payload_bytes,
        max_clock_skew=settings.max_clock_skew,
    )
    current: dict[str, dict[str, Any] | None] = {}
    async for records in read_to_end(settings, settings.topics.targets):
        for message in records:
            command = decoder.target(message.key, message.value)
            if isinstance(command, Rejection):
                continue
            current[command.key] = None if command.value is None else _row(command)
    return {k: v for k, v in sorted(current.items()) if v is not None}


def _row(command: TargetCommand) -> dict[str, Any]:
    number = command.value
    value = int(number) if number is not None and number.is_integer() else number
    return {
        "scope": command.scope,
        "scope_id": command.scope_id,
        "metric": command.metric,
        "period": command.period,
        "value": value,
    }


def _number(value: Any) -> str:
    if isinstance(value, int | float):
        return f"{value:,.2f}".rstrip("0").rstrip(".")
    return str(value)


def _add_key_arguments(parser: argparse.ArgumentParser, required: bool) -> None:
    parser.add_argument("--scope", choices=("rep", "team"), required=required)
    parser.add_argument("--id", dest="scope_id", required=required, help="rep_id or team_id")
    parser.add_argument("--metric", required=required, help="revenue_won, deals_won, ...")
    parser.add_argument("--period", required=required, help="2026-11, 2026-Q4, 2026-W48, ...")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "targets",
        help="set, list or delete quotas (the compacted sales.targets topic)",
        description="Manage targets (quotas) per rep or team, metric and period.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    set_ = actions.add_parser(
        "set",
        help="set targets from arguments or a CSV file",
        epilog="examples:\n  salespulse targets set --scope rep --id s01 --metric revenue_won "
        "--period 2026-11 --value 50000\n  salespulse targets set --file targets.csv",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_key_arguments(set_, required=False)
    set_.add_argument("--value", help="the target, > 0 (revenue in the base currency)")
    set_.add_argument(
        "--file", type=Path, help="CSV with columns scope,scope_id,metric,period,value"
    )
    add_bootstrap_argument(set_)
    set_.set_defaults(func=run_set)

    list_ = actions.add_parser(
        "list",
        help="print the current targets",
        epilog="examples:\n  salespulse targets list\n  salespulse targets list --period 2026-11 "
        "--format csv",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    list_.add_argument("--scope", choices=("rep", "team"), help="only this scope")
    list_.add_argument("--period", help="only this period")
    list_.add_argument("--format", choices=("table", "csv", "json"), default="table")
    add_bootstrap_argument(list_)
    list_.set_defaults(func=run_list)

    delete = actions.add_parser(
        "delete",
        help="delete a target (sends a tombstone)",
        epilog="example:\n  salespulse targets delete --scope rep --id s01 --metric revenue_won "
        "--period 2026-11",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_key_arguments(delete, required=True)
    add_bootstrap_argument(delete)
    delete.set_defaults(func=run_delete)


def _fail(message: str, code: int = 2) -> int:
    print(f"salespulse targets: {message}", file=sys.stderr)
    return code


def run_set(args: argparse.Namespace) -> int:
    quiet_kafka_logs()
    fields = (args.scope, args.scope_id, args.metric, args.period, args.value)
    try:
        if args.file is not None:
            if any(f is not None for f in fields):
                return _fail("give either --file or --scope/--id/--metric/--period/--value")
            if not args.file.is_file():
                return _fail(f"{args.file} is not a file")
            items: list[tuple[str, str, str, str, float | None]] = list(read_csv(args.file))
        else:
            if any(f is None for f in fields):
                return _fail(
                    "give --scope, --id, --metric, --period and --value (or --file targets.csv)"
                )
            items = [(*fields[:4], validate(*fields))]
        settings = settings_from(args)
        sent = asyncio.run(send_targets(settings, items))
    except (TargetError, SettingsError) as exc:
        return _fail(str(exc))
    except KafkaUnavailable as exc:
        return _fail(str(exc), EXIT_KAFKA_UNAVAILABLE)
    for scope, scope_id, metric, period, value in items:
        print(f"set {scope}:{scope_id}:{metric}:{period} = {value}")  # as sent, unrounded
    print(f"{sent} target(s) sent to {settings.topics.targets}", file=sys.stderr)
    return 0


def run_delete(args: argparse.Namespace) -> int:
    quiet_kafka_logs()
    try:
        validate(args.scope, args.scope_id, args.metric, args.period, 1)
        settings = settings_from(args)
        asyncio.run(
            send_targets(settings, [(args.scope, args.scope_id, args.metric, args.period, None)])
        )
    except (TargetError, SettingsError) as exc:
        return _fail(str(exc))
    except KafkaUnavailable as exc:
        return _fail(str(exc), EXIT_KAFKA_UNAVAILABLE)
    print(f"deleted {args.scope}:{args.scope_id}:{args.metric}:{args.period}")
    return 0


def run_list(args: argparse.Namespace) -> int:
    quiet_kafka_logs()
    try:
        settings = settings_from(args)
        targets = asyncio.run(read_targets(settings))
    except SettingsError as exc:
        return _fail(str(exc))
    except KafkaUnavailable as exc:
        return _fail(str(exc), EXIT_KAFKA_UNAVAILABLE)
    rows = [
        t
        for t in targets.values()
        if (args.scope is None or t.get("scope") == args.scope)
        and (args.period is None or t.get("period") == args.period)
    ]
    columns = ("scope", "scope_id", "metric", "period", "value")
    if args.format == "json":
        print(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode())
    elif args.format == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        print(out.getvalue(), end="")
    else:
        from rich.console import Console
        from rich.table import Table

        table = Table(title=f"targets on {settings.topics.targets}", title_justify="left")
        for column in columns:
            table.add_column(column, justify="right" if column == "value" else "left")
        for row in rows:
            table.add_row(
                *(_number(row.get(c)) if c == "value" else str(row.get(c, "")) for c in columns)
            )
        Console().print(table if rows else "no targets yet: set one with `salespulse targets set`")
    return 0
