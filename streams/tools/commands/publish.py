"""`salespulse publish FILE...`: send plain event files (JSON lines or CSV) to Kafka.

Unlike `replay`, which sends `generate` files byte for byte (invalid records included), publish
is for real data: every record is checked by the worker's own decoder before anything is sent,
and an invalid record stops the whole publication unless `--skip-invalid` is given.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import orjson
from aiokafka.errors import KafkaError

from streams.domain.vocabulary import INPUT_KINDS
from streams.tools.commands.generate import positive_float
from streams.tools.commands.options import add_bootstrap_argument, settings_from
from streams.tools.event_files import (
    Located,
    Outcome,
    Validation,
    decide,
    report_document,
    summary_text,
    validate_sources,
)
from streams.tools.producer import (
    EXIT_KAFKA_UNAVAILABLE,
    DeliveredCount,
    KafkaUnavailable,
    progress_bar,
    quiet_kafka_logs,
)
from streams.tools.publisher import Publisher, decoder_for
from streams.worker.settings import Settings

EPILOG = """\
examples:
  salespulse publish activities.jsonl deals.csv      # check everything, then send it all
  salespulse publish --dry-run crm-export.csv        # check only: errors with file:line
  salespulse publish --skip-invalid --format json export.jsonl > report.json
  salespulse publish --kind targets quotas.csv       # every record is a target

JSON lines: one event object per line. CSV: a header row of field names, one event per row;
an empty cell is an absent field. The kind of each record is recognised from its fields
(`activity`: activity; `outcome` and `deal_id`: deal; `csat` or `nps`: feedback; `scope`,
`metric` and `period`: target) unless --kind says it.

Records are sent targets first, then in event-time order (occurred_at), keyed by rep_id
(targets by scope:scope_id:metric:period). Exit codes: 0 sent (or dry run passed),
1 invalid input (nothing sent), 2 usage or configuration error, 3 Kafka unreachable.

environment: KAFKA_BOOTSTRAP and KAFKA_SECURITY_PROTOCOL, ... (the connection), SALES_TOPIC_*
(topic names), SALES_FX_RATES and SALES_BASE_CURRENCY (known currencies),
SALES_MAX_CLOCK_SKEW and SALES_MAX_PAYLOAD_BYTES (limits), as the worker reads them.
"""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "publish",
        help="check event files (JSON lines or CSV) and send them to Kafka",
        description="Check every record of the files with the worker's own rules, report "
        "each invalid one with file:line and the reason, and send the valid records in "
        "event-time order only when all of them are valid (or with --skip-invalid).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="a .jsonl or .csv file (- stdin)")
    parser.add_argument(
        "--kind", choices=INPUT_KINDS, help="the kind of every record (default: recognised)"
    )
    parser.add_argument(
        "--skip-invalid", action="store_true", help="send the valid records, report the others"
    )
    parser.add_argument("--dry-run", action="store_true", help="check and report; send nothing")
    parser.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="text (errors and summary on stderr) or json (one document on stdout)",
    )
    parser.add_argument(
        "--rate", type=positive_float, default=0.0, help="records per second (0 = no limit)"
    )
    add_bootstrap_argument(parser)
    parser.set_defaults(func=run_publish)


def read_sources(names: list[str]) -> list[tuple[str, bytes]]:
    """(display name, contents) of each file; `-` reads stdin (once)."""
    sources = []
    for name in names:
        if name == "-":
            sources.append(("<stdin>", sys.stdin.buffer.read()))
        else:
            sources.append((name, Path(name).read_bytes()))
    return sources


def missing_files(names: list[str]) -> list[str]:
    return [name for name in names if name != "-" and not Path(name).is_file()]


def run_publish(args: argparse.Namespace) -> int:
    quiet_kafka_logs()
    began = time.perf_counter()
    missing = missing_files(args.files)
    if missing:
        print(f"salespulse publish: not a file: {', '.join(missing)}", file=sys.stderr)
        return 2
    settings = settings_from(args)  # a SettingsError is reported by cli.main (exit 2)
    decoder = decoder_for(settings)
    validation = validate_sources(read_sources(args.files), decoder, datetime.now(UTC), args.kind)
    outcome = decide(validation, skip_invalid=args.skip_invalid, dry_run=args.dry_run)
    if outcome.status == "send":
        outcome = _send(settings, validation, args.rate)
    outcome.duration_s = time.perf_counter() - began
    _report(validation, outcome, args)
    return outcome.exit_code


def _send(settings: Settings, validation: Validation, rate: float) -> Outcome:
    ordered = validation.in_send_order()
    skipped = len(validation.errors)
    destination = f"Kafka at {settings.kafka_bootstrap}"
    delivered = DeliveredCount()
    try:
        with progress_bar("publishing", len(ordered)) as progress:
            delivered.show = progress
            asyncio.run(_publish(settings, ordered, rate, delivered))
    except KeyboardInterrupt:
        message = (
            f"interrupted: the first {delivered.done} of {len(ordered)} records were "
            "delivered; those after them may not have been"
        )
        return Outcome("interrupted", 130, skipped=skipped, message=message)
    except KafkaUnavailable as exc:
        return Outcome(
            "kafka_unavailable", EXIT_KAFKA_UNAVAILABLE, skipped=skipped, message=str(exc)
        )
    except KafkaError as exc:
        message = f"Kafka failed while sending ({exc}); some records may have been sent"
        return Outcome(
            "kafka_unavailable", EXIT_KAFKA_UNAVAILABLE, skipped=skipped, message=message
        )
    sent = validation.by_kind()
    return Outcome("sent", 0, sent=sent, skipped=skipped, destination=destination)


async def _publish(
    settings: Settings, ordered: list[Located], rate: float, progress: object
) -> None:
    async with Publisher(settings) as publisher:
        await publisher.send_checked(
            (item.event for item in ordered),
            rate=rate or None,
            progress=progress if callable(progress) else None,
        )


def _report(validation: Validation, outcome: Outcome, args: argparse.Namespace) -> None:
    if args.format == "json":
        document = report_document(validation, outcome, dry_run=args.dry_run)
        sys.stdout.write(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    for error in validation.errors:
        print(error.text(), file=sys.stderr)
    prefix = "salespulse publish: " if outcome.exit_code else ""
    print(prefix + summary_text(validation, outcome), file=sys.stderr)
