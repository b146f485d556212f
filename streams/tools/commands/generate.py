"""`salespulse generate`: a seeded, realistic stream of sales events to Kafka or a file."""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from zoneinfo import ZoneInfo

from streams.tools.commands.options import add_bootstrap_argument, settings_from
from streams.tools.generator import CONTEXTS, GeneratorConfig, Record, SalesSimulator, load_fx_rates
from streams.tools.producer import (
    EXIT_KAFKA_UNAVAILABLE,
    KafkaUnavailable,
    Progress,
    RecordProducer,
    ensure_topics,
    outgoing,
    progress_bar,
    quiet_kafka_logs,
)
from streams.worker.settings import Settings, SettingsError

EPILOG = """\
examples:
  # a month of SaaS history (10,000 events) straight into Kafka
  salespulse generate --context saas --days 30 --events 10000
  # a reproducible file with 2% late, 1% duplicate and 1% invalid records, then replay it
  salespulse generate --seed 7 --start 2026-11-01 --end 2026-11-27T18:00 \\
      --events 50000 --late-rate 0.02 --duplicate-rate 0.01 --invalid-rate 0.01 \\
      --output november.jsonl
  # live traffic stamped with the wall clock, 20 events/s for 5 minutes
  salespulse generate --context agency --events 0 --duration 5m --rate 20
"""

_DURATION = re.compile(r"^(?P<n>\d+(?:\.\d+)?)(?P<unit>ms|s|m|h|d)?$")


def parse_duration_seconds(text: str) -> float:
    """`90`, `90s`, `5m`, `1h`, `2d` or ISO 8601 (`PT5M`) as seconds."""
    raw = text.strip().lower()
    match = _DURATION.match(raw)
    if match:
        scale = {"ms": 0.001, "s": 1, None: 1, "m": 60, "h": 3600, "d": 86400}[match["unit"]]
        return float(match["n"]) * scale
    if raw.startswith("p"):
        from streams.worker.settings import parse_duration

        try:
            return parse_duration("--duration", text).total_seconds()
        except SettingsError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    raise argparse.ArgumentTypeError(f"{text!r} is not a duration such as 90s, 5m, 1h or PT5M")


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be >= 0")
    return value


def fraction(text: str) -> float:
    value = positive_float(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"{text!r} is a rate between 0 and 1 (0.02 = 2%)")
    return value


def count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be >= 0")
    return value


def at_least_one(text: str) -> int:
    value = count(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be >= 1")
    return value


def parse_moment(text: str, tz: ZoneInfo) -> datetime:
    """An ISO 8601 date or date-time; without an offset it is read in SALES_TIMEZONE."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        try:
            moment = datetime.combine(date.fromisoformat(text), dtime())
        except ValueError:
            raise ValueError(f"{text!r} is not an ISO 8601 date or date-time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=tz)


def add_stream_arguments(parser: argparse.ArgumentParser) -> None:
    """Options shared by `generate` and `run`: what kind of business and how big."""
    parser.add_argument(
        "--context",
        choices=sorted(CONTEXTS),
        default="saas",
        help="the kind of business: "
        + "; ".join(f"{c.name}: {c.description}" for c in CONTEXTS.values()),
    )
    parser.add_argument("--seed", type=int, default=42, help="same seed and span, same output")
    parser.add_argument("--reps", type=at_least_one, default=12, help="number of reps (12)")
    parser.add_argument("--teams", type=at_least_one, default=3, help="number of teams (3)")
    parser.add_argument(
        "--late-rate",
        type=fraction,
        default=0.0,
        help="share of late records (0.02 = 2%%; default %(default)s)",
    )
    parser.add_argument(
        "--duplicate-rate",
        type=fraction,
        default=0.0,
        help="share of duplicated records (default %(default)s)",
    )
    parser.add_argument(
        "--invalid-rate",
        type=fraction,
        default=0.0,
        help="share of invalid records (bad JSON, schema violations, unknown currency, ...; "
        "default %(default)s)",
    )


def build_config(args: argparse.Namespace, settings: Settings, now: datetime) -> GeneratorConfig:
    """The generator config from parsed options (raises ValueError with a usable message)."""
    tz = settings.tz
    days = getattr(args, "days", None)
    start = parse_moment(args.start, tz) if getattr(args, "start", None) else None
    end = parse_moment(args.end, tz) if getattr(args, "end", None) else None
    if end is not None and end > now + timedelta(minutes=2):
        raise ValueError(f"--end {args.end} is in the future: events may not be")
    end = end or now
    if start is None:
        start = end - timedelta(days=days if days is not None else 30)
    elif days is not None:
        raise ValueError("give either --days or --start, not both")
    return GeneratorConfig(
        context=args.context,
        seed=args.seed,
        reps=args.reps,
        teams=args.teams,
        start=start,
        end=end,
        events=args.events if args.events is not None else 0,
        late_rate=args.late_rate,
        duplicate_rate=args.duplicate_rate,
        invalid_rate=args.invalid_rate,
        timezone=settings.timezone_name,
        base_currency=settings.base_currency,
        fx_rates=load_fx_rates(settings.fx_rates_path, settings.base_currency),
        late_grace=settings.late_grace,
    )


class Tally:
    """Counts records per topic kind and per label as they stream past."""

    def __init__(self) -> None:
        self.topics: Counter[str] = Counter()
        self.labels: Counter[str] = Counter()

    def watch(self, records: Iterable[Record]) -> Iterator[Record]:
        for record in records:
            self.topics[record.topic_kind] += 1
            self.labels[record.label.split(":")[0]] += 1
            yield record

    def summary(self) -> str:
        total = sum(self.topics.values())
        topics = ", ".join(f"{k} {v}" for k, v in sorted(self.topics.items()))
        labels = ", ".join(f"{k} {v}" for k, v in sorted(self.labels.items()))
        return f"{total} records ({topics}; {labels})"


def stream(
    sim: SalesSimulator, config: GeneratorConfig, duration: float | None
) -> Iterator[Record]:
    """History over the span, then (with --duration) live records for that many seconds."""
    start, end = config.span()
    yield from sim.history(start, end, config.events)
    if duration:
        deadline = time.monotonic() + duration
        for record in sim.live(lambda: datetime.now(sim.tz)):
            if time.monotonic() >= deadline:
                return
            yield record


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "generate",
        help="generate realistic sales events (to Kafka or a JSON-lines file)",
        description="Generate a seeded, realistic stream of activities, deals and feedback "
        "for a team of reps with different profiles (busy_not_closing, efficient, steady), "
        "during business hours in SALES_TIMEZONE.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_stream_arguments(parser)
    parser.add_argument(
        "--days", type=positive_float, help="history span in days, ending now (default 30)"
    )
    parser.add_argument("--start", help="history start (ISO 8601, SALES_TIMEZONE if no offset)")
    parser.add_argument("--end", help="history end (default now); fix it for identical output")
    parser.add_argument(
        "--events", type=count, help="records spread over the history span (default 10000)"
    )
    parser.add_argument(
        "--duration",
        type=parse_duration_seconds,
        help="after the history, stream live records stamped with the wall clock for this "
        "long (90s, 5m, 1h)",
    )
    parser.add_argument(
        "--rate",
        type=positive_float,
        default=0.0,
        help="records per second (0 = as fast as possible)",
    )
    parser.add_argument(
        "--output",
        default="kafka",
        help="`kafka` (the default) or a FILE.jsonl path (`-` for stdout)",
    )
    add_bootstrap_argument(parser)
    parser.set_defaults(func=run_generate)


def run_generate(args: argparse.Namespace) -> int:
    quiet_kafka_logs()
    try:
        settings = settings_from(args)
        if args.events is None:
            args.events = 0 if args.duration else 10_000
        config = build_config(args, settings, datetime.now(ZoneInfo(settings.timezone_name)))
        sim = SalesSimulator(config)
    except (ValueError, SettingsError) as exc:
        print(f"salespulse generate: {exc}", file=sys.stderr)
        return 2
    tally = Tally()
    total = None if args.duration else config.events
    records = tally.watch(stream(sim, config, args.duration))
    began = time.perf_counter()
    try:
        with progress_bar("generating", total) as progress:
            if args.output == "kafka":
                asyncio.run(_to_kafka(settings, records, args.rate, progress))
                where = f"Kafka at {settings.kafka_bootstrap}"
            else:
                _to_file(args.output, settings, records, args.rate, progress)
                where = "stdout" if args.output == "-" else args.output
    except KafkaUnavailable as exc:
        print(f"salespulse generate: {exc}", file=sys.stderr)
        return EXIT_KAFKA_UNAVAILABLE
    except ValueError as exc:
        print(f"salespulse generate: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"salespulse generate: interrupted after {tally.summary()}", file=sys.stderr)
        return 130
    elapsed = time.perf_counter() - began
    rate = sum(tally.topics.values()) / elapsed if elapsed > 0 else 0.0
    print(f"wrote {tally.summary()} to {where} in {elapsed:.1f}s ({rate:,.0f}/s)", file=sys.stderr)
    return 0


async def _to_kafka(
    settings: Settings, records: Iterable[Record], rate: float, progress: Progress
) -> None:
    topics = settings.topics
    await ensure_topics(settings, (topics.activities, topics.deals, topics.feedback))
    async with RecordProducer(settings) as producer:
        await producer.send_records(
            (outgoing(r, topics) for r in records),
            rate=rate or None,
            progress=progress,
        )


def _to_file(
    path: str, settings: Settings, records: Iterable[Record], rate: float, progress: Progress
) -> None:
    topics = settings.topics
    names = {kind: getattr(topics, kind) for kind in ("activities", "deals", "feedback", "targets")}
    out = sys.stdout.buffer if path == "-" else Path(path).open("wb")  # noqa: SIM115
    interval = 1.0 / rate if rate else 0.0
    started = time.monotonic()
    n = 0
    failed_empty = False  # a file that failed before its first record is not left behind
    try:
        for n, record in enumerate(records, 1):
            if interval:
                delay = started + n * interval - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                out.flush()
            out.write(record.jsonl(names[record.topic_kind]) + b"\n")
            if n % 5000 == 0:
                progress(n)
        progress(n)
    except BaseException:
        failed_empty = n == 0
        raise
    finally:
        if out is not sys.stdout.buffer:
            out.close()
            if failed_empty:
                Path(path).unlink(missing_ok=True)
        else:
            out.flush()
