"""`salespulse replay FILE`: send a JSON-lines file written by `generate` to its topics.

Replaying a recorded file is how a bug report or a benchmark is reproduced exactly: the
records keep their keys, event ids and event times.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import orjson

from streams.tools.commands.generate import positive_float
from streams.tools.commands.options import add_bootstrap_argument, settings_from
from streams.tools.producer import (
    EXIT_KAFKA_UNAVAILABLE,
    DeliveredCount,
    KafkaUnavailable,
    Outgoing,
    RecordProducer,
    ensure_topics,
    progress_bar,
    quiet_kafka_logs,
)
from streams.worker.settings import Settings, SettingsError

EPILOG = """\
examples:
  salespulse generate --seed 7 --days 14 --events 20000 --output two-weeks.jsonl
  salespulse replay two-weeks.jsonl                # as fast as possible
  salespulse replay two-weeks.jsonl --rate 200     # 200 records per second

Each line is {"topic": ..., "key": ..., "value": {...}}; "value_raw" carries a payload that is
sent as is (deliberately invalid JSON) and a null value is a tombstone. To check and send
plain event files (one event per line, or CSV), use `salespulse publish`.
"""


class ReplayFileError(ValueError):
    """A line of the file is not a record; the message gives the line number."""


def read_records(lines: IO[bytes], counts: Counter[str] | None = None) -> Iterator[Outgoing]:
    """Parse JSON lines into (topic, key, value) lazily, so a huge file is never in memory."""
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            item = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise ReplayFileError(f"line {number} is not JSON ({exc})") from None
        if not isinstance(item, dict) or not isinstance(item.get("topic"), str):
            raise ReplayFileError(f'line {number} has no "topic": is this a generate file?')
        key = item.get("key")
        key_bytes = None if key is None else str(key).encode("utf-8")
        if "value_raw" in item:
            value: bytes | None = str(item["value_raw"]).encode("utf-8")
        elif "value" in item:
            value = None if item["value"] is None else orjson.dumps(item["value"])
        else:
            raise ReplayFileError(f'line {number} has neither "value" nor "value_raw"')
        if counts is not None:
            counts[item["topic"]] += 1
        yield (item["topic"], key_bytes, value)


def _count_lines(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "replay",
        help="send a JSON-lines file (from `generate --output`) to Kafka",
        description="Send every record of a JSON-lines file to the topic it names, keeping "
        "keys and payloads byte for byte (invalid ones included).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("file", help="the JSON-lines file (`-` for stdin)")
    parser.add_argument(
        "--rate",
        type=positive_float,
        default=0.0,
        help="records per second (0 = as fast as possible)",
    )
    add_bootstrap_argument(parser)
    parser.set_defaults(func=run_replay)


def run_replay(args: argparse.Namespace) -> int:
    quiet_kafka_logs()
    try:
        settings = settings_from(args)
    except SettingsError as exc:
        print(f"salespulse replay: {exc}", file=sys.stderr)
        return 2
    path = None if args.file == "-" else Path(args.file)
    if path is not None and not path.is_file():
        print(
            f"salespulse replay: {args.file} is not a file: write one with "
            "`salespulse generate --output FILE.jsonl`",
            file=sys.stderr,
        )
        return 2
    counts: Counter[str] = Counter()
    delivered = DeliveredCount()
    try:
        total = _count_lines(path) if path is not None else None
        with progress_bar("replaying", total) as progress:
            delivered.show = progress
            handle = path.open("rb") if path is not None else sys.stdin.buffer
            try:
                sent = asyncio.run(_replay(settings, handle, args.rate, counts, delivered))
            finally:
                if path is not None:
                    handle.close()
    except ReplayFileError as exc:
        print(f"salespulse replay: {args.file}: {exc}", file=sys.stderr)
        return 2
    except KafkaUnavailable as exc:
        print(f"salespulse replay: {exc}", file=sys.stderr)
        return EXIT_KAFKA_UNAVAILABLE
    except KeyboardInterrupt:
        print(
            f"salespulse replay: interrupted: the first {delivered.done} records were "
            "delivered; those after them may not have been",
            file=sys.stderr,
        )
        return 130
    per_topic = ", ".join(f"{t} {n}" for t, n in sorted(counts.items()))
    print(f"replayed {sent} records ({per_topic}) to {settings.kafka_bootstrap}", file=sys.stderr)
    return 0


async def _replay(
    settings: Settings,
    handle: IO[bytes],
    rate: float,
    counts: Counter[str],
    progress: object,
) -> int:
    await ensure_topics(settings, settings.topics.inputs())
    async with RecordProducer(settings) as producer:
        return await producer.send_records(
            read_records(handle, counts),
            rate=rate or None,
            progress=progress if callable(progress) else None,
        )
