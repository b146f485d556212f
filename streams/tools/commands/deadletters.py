"""`salespulse deadletters`: what was rejected, why, and the payloads back out to fix and send.

Reads the dead-letter topic without a consumer group (nothing committed, no worker
disturbed) up to the end it had when asked: counts by input topic and reason, the latest
records with the worker's detail, and with `--export FILE` the payloads as event lines that
`salespulse publish FILE` checks and sends once they are fixed (streams.tools.dead_letters).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

import orjson

from streams.domain.durations import iso_duration
from streams.domain.vocabulary import DEADLETTER_REASONS, INPUT_KINDS
from streams.tools.commands.generate import parse_duration_seconds
from streams.tools.commands.options import add_bootstrap_argument, settings_from
from streams.tools.dead_letters import Export, Review, Selection, parse
from streams.tools.producer import EXIT_KAFKA_UNAVAILABLE, KafkaUnavailable, quiet_kafka_logs
from streams.tools.topic_reader import read_to_end
from streams.worker.settings import Settings, SettingsError

EPILOG = """\
examples:
  salespulse deadletters                                  # counts by topic and reason, latest 10
  salespulse deadletters --since 2h --reason unknown_currency
  salespulse deadletters --topic deals --limit 50 --format json
  salespulse deadletters --reason schema_violation --export fix.jsonl
      # then fix the lines of fix.jsonl and send them: salespulse publish fix.jsonl

--since takes a duration back from now (90m, 2h, 7d, PT2H) or an RFC 3339 time.
"""


def since_ms(text: str) -> int:
    """Epoch milliseconds of `--since`: an RFC 3339 time, or a duration back from now."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        moment = datetime.now(UTC) - timedelta(seconds=parse_duration_seconds(text))
    else:
        if moment.tzinfo is None:
            raise argparse.ArgumentTypeError(f"{text!r} needs an offset, e.g. {text}Z")
    return int(moment.timestamp() * 1000)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "deadletters",
        help="count and list rejected records; export their payloads to fix and send again",
        description="Read the dead-letter topic: rejected records counted by input topic "
        "and reason, the latest listed with the reason's detail, and (--export) their "
        "payloads written as event lines for `salespulse publish`.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--topic",
        action="append",
        default=[],
        metavar="TOPIC",
        help="only records rejected from this input topic: activities, deals, feedback, "
        "targets or a topic name (repeatable)",
    )
    parser.add_argument(
        "--reason",
        action="append",
        default=[],
        choices=DEADLETTER_REASONS,
        metavar="REASON",
        help=f"only records rejected for this reason: {', '.join(DEADLETTER_REASONS)} (repeatable)",
    )
    parser.add_argument(
        "--since", type=since_ms, metavar="WHEN", help="only records dead-lettered since then"
    )
    parser.add_argument(
        "--limit", type=int, default=10, help="latest records listed (10; 0 lists none)"
    )
    parser.add_argument("--format", choices=("table", "json"), default="table")
    parser.add_argument(
        "--export",
        metavar="FILE",
        help="write the selected payloads as JSON lines to FILE (- stdout) for `publish`",
    )
    add_bootstrap_argument(parser)
    parser.set_defaults(func=run_deadletters)


def _fail(message: str, code: int = 2) -> int:
    print(f"salespulse deadletters: {message}", file=sys.stderr)
    return code


def selection(args: argparse.Namespace, settings: Settings) -> Selection:
    topics = {getattr(settings.topics, t) if t in INPUT_KINDS else t for t in args.topic}
    return Selection(frozenset(topics), frozenset(args.reason))


async def review(
    settings: Settings, wanted: Selection, since: int | None, keep: int, export: Export | None
) -> Review:
    """One pass over the dead-letter topic: the review, and the export when asked."""
    found = Review(keep=keep)
    async for records in read_to_end(settings, settings.topics.deadletter, since_ms=since):
        for record in records:
            letter = parse(record.value)
            if letter is None:
                found.not_dead_letters += 1
            elif wanted.wants(letter):
                found.add(letter)
                if export is not None:
                    export.add(letter)
    return found


def run_deadletters(args: argparse.Namespace) -> int:
    quiet_kafka_logs()
    if args.limit < 0:
        return _fail("--limit must be >= 0")
    try:
        settings = settings_from(args)
        with export_sink(args.export) as sink:
            cutoff = time.time() - settings.late_grace.total_seconds()
            export = Export(sink, cutoff=cutoff) if sink is not None else None
            found = asyncio.run(
                review(settings, selection(args, settings), args.since, args.limit, export)
            )
    except SettingsError as exc:
        return _fail(str(exc))
    except KafkaUnavailable as exc:
        return _fail(str(exc), EXIT_KAFKA_UNAVAILABLE)
    topic = settings.topics.deadletter
    if export is not None:
        print_export_summary(args.export, export, settings.late_grace)
        if args.export == "-":
            return 0  # stdout holds the lines
    if args.format == "json":
        print(orjson.dumps(as_document(topic, found), option=orjson.OPT_INDENT_2).decode())
    else:
        print_review(topic, found, args)
    return 0


@contextmanager
def export_sink(target: str | None) -> Iterator[TextIO | None]:
    """Where the exported lines go: stdout for `-`, else FILE, written to FILE.part and
    renamed once the export is complete, so a failed read leaves no partial FILE behind."""
    if target is None:
        yield None
    elif target == "-":
        yield sys.stdout
    else:
        path = Path(target)
        part = path.with_name(path.name + ".part")
        try:
            try:
                with part.open("w", encoding="utf-8") as sink:
                    yield sink
                part.replace(path)
            except OSError as exc:  # said of FILE, not of the .part file the user never named
                why = exc.strerror or str(exc)
                raise OSError(f"cannot write the export to {target}: {why}") from None
        finally:
            part.unlink(missing_ok=True)


def print_export_summary(target: str, export: Export, grace: timedelta) -> None:
    where = "stdout" if target == "-" else target
    err = sys.stderr
    print(f"wrote {export.written} payloads to {where}", file=err)
    if export.written and target != "-":
        print(f"  fix them, then check and send them: salespulse publish {target}", file=err)
    if export.old:
        print(
            f"  {export.old} of them happened more than SALES_LATE_GRACE ({iso_duration(grace)}) "
            "ago: once the worker's stream time is recent they are late, and sent again they "
            "come back as late_event (unless the grace is raised)",
            file=err,
        )
    for unexportable, count in export.skipped.most_common():
        first = export.first_skipped[unexportable]
        print(
            f"  {count} not written: {unexportable.why} (the first: {first}, "
            "where the original lies while the input topic retains it)",
            file=err,
        )


def as_document(topic: str, found: Review) -> dict[str, Any]:
    return {
        "topic": topic,
        "total": found.total,
        "not_dead_letters": found.not_dead_letters,
        "by_topic_and_reason": [
            {
                "topic": input_topic,
                "reason": reason,
                "count": group.count,
                "first_received_at": group.first_received,
                "last_received_at": group.last_received,
            }
            for input_topic, reason, group in found.by_topic_and_reason()
        ],
        "latest": [letter.document for letter in found.latest()],
    }


def print_review(topic: str, found: Review, args: argparse.Namespace) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if found.not_dead_letters:
        print(
            f"{found.not_dead_letters} records on {topic} are not dead letters (another "
            "writer?); left out",
            file=sys.stderr,
        )
    if not found.total:
        console.print(f"no dead letters on {topic}" + (" that match" if _filtered(args) else ""))
        return
    counts = Table(title=f"{found.total:,} dead letters on {topic}", title_justify="left")
    counts.add_column("input topic", no_wrap=True)
    counts.add_column("reason", no_wrap=True)
    counts.add_column("count", justify="right", no_wrap=True)
    counts.add_column("first (UTC)", no_wrap=True)
    counts.add_column("last (UTC)", no_wrap=True)
    for input_topic, reason, group in found.by_topic_and_reason():
        counts.add_row(
            input_topic,
            reason,
            f"{group.count:,}",
            _short(group.first_received, 16),
            _short(group.last_received, 16),
        )
    console.print(counts)
    latest = found.latest()
    if not latest:
        return
    table = Table(title=f"latest {len(latest)}", title_justify="left")
    table.add_column("received (UTC)", no_wrap=True)
    table.add_column("record", no_wrap=True)
    table.add_column("reason", no_wrap=True)
    table.add_column("detail", overflow="fold")
    for letter in latest:
        table.add_row(_short(letter.received_at, 19), letter.where, letter.reason, letter.detail)
    console.print(table)


def _short(received_at: str, length: int) -> str:
    """`2026-12-05T00:10:09.166Z` as `2026-12-05 00:10` (16) or `2026-12-05 00:10:09` (19):
    the worker writes received_at in UTC."""
    return received_at[:length].replace("T", " ")


def _filtered(args: argparse.Namespace) -> bool:
    return bool(args.topic or args.reason or args.since is not None)
