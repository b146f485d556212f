"""`make bench` / `python -m bench`: salespulse speed against baselines measured in the same run.

    python -m bench                       # everything, N = 100,000 events
    python -m bench --events 20000        # smaller backlog
    python -m bench --only validation     # validation only (no Kafka)
    python -m bench --only throughput --skip-naive

Progress goes to stderr, the result table to stdout. See bench/README.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

from bench.throughput import Result, ThroughputReport, log

REQUIRED_RATIO = 10.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Measure salespulse validation and end-to-end worker throughput on a "
        "throwaway Kafka broker, against baselines (jsonschema, a naive Faust agent).",
    )
    parser.add_argument(
        "--events",
        type=int,
        default=100_000,
        metavar="N",
        help="events pre-produced for the throughput runs (default 100000)",
    )
    parser.add_argument(
        "--validation-events",
        type=int,
        default=20_000,
        metavar="N",
        help="payloads for the validation benchmark (default 20000)",
    )
    parser.add_argument(
        "--skip-naive", action="store_true", help="do not run the naive Faust agent baseline"
    )
    parser.add_argument(
        "--skip-naive-memory",
        action="store_true",
        help="run the naive agent with the RocksDB table only (not also with memory://)",
    )
    parser.add_argument(
        "--naive-timeout",
        type=float,
        default=150.0,
        metavar="SECONDS",
        help="stop a naive run after this long and report the rate over what it did (150)",
    )
    parser.add_argument(
        "--worker-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment for the salespulse worker, e.g. SALES_STORE=memory:// "
        "(repeatable; for experiments)",
    )
    parser.add_argument(
        "--only", choices=("validation", "throughput"), help="run only one of the two parts"
    )
    args = parser.parse_args(argv)
    if args.events < 1 or args.validation_events < 1:
        parser.error("--events and --validation-events must be at least 1")
    if any("=" not in item for item in args.worker_env):
        parser.error("--worker-env takes NAME=VALUE")
    return args


def _rate(value: float | None) -> str:
    return f"{value:>12,.0f}" if value else f"{'-':>12}"


def _secs(value: float | None) -> str:
    return f"{value:>9.2f}" if value else f"{'-':>9}"


def print_validation(figures: dict[str, float]) -> None:
    n = int(figures["events"])
    print(f"\nValidation of sales.activities values ({n:,} payloads, ")
    print(f"  {figures['avg_payload_bytes']:.0f} bytes on average; best of several passes)")
    rows = [
        ("msgspec EventDecoder.activity (bytes in, all checks)", "decoder_us_per_event"),
        (
            "jsonschema Draft 2020-12 validate (dict in, no parsing)",
            "jsonschema_validate_us_per_event",
        ),
        ("  for scale: orjson.loads alone", "orjson_parse_us_per_event"),
    ]
    print(f"  {'what':58s} {'us/event':>9s} {'events/s':>12s}")
    for label, key in rows:
        us = figures[key]
        print(f"  {label:58s} {us:9.2f} {1e6 / us:12,.0f}")
    print(
        f"  ratio jsonschema / msgspec decoder: {figures['jsonschema_to_decoder_ratio']:.1f}x "
        "(msgspec is that many times faster)"
    )


def print_throughput(report: ThroughputReport) -> None:
    data = report.data
    kinds = ", ".join(f"{k} {v:,}" for k, v in sorted(data.by_kind.items()))
    print("\nWorker throughput, end to end on a real Kafka broker (backlog pre-produced)")
    print(f"  data: {data.total:,} valid events ({kinds}); 200 reps in 10 teams;")
    print(f"  event times {data.start:%Y-%m-%d %H:%M} .. {data.end:%Y-%m-%d %H:%M} UTC")
    rows: list[Result] = [r for r in (report.salespulse, *report.naive) if r is not None]
    width = max(44, *(len(r.name) for r in rows))
    print(
        f"  {'run':{width}s} {'events':>9s} {'seconds':>9s} {'events/s':>12s}"
        f" {'wall s':>9s} {'wall ev/s':>12s}"
    )
    for r in rows:
        flag = "" if r.complete else "  (INCOMPLETE)"
        print(
            f"  {r.name:{width}s} {r.events:>9,} {_secs(r.seconds)} {_rate(r.rate)}"
            f" {_secs(r.seconds_wall)} {_rate(r.rate_wall)}{flag}"
        )
    print(
        "  seconds: salespulse from GET /readyz == 200 until every event is applied and the\n"
        "  API totals match; naive from its first event until its count reaches the activity\n"
        "  events. wall: from process start (start-up, group join and recovery included)."
    )
    for r in rows:
        for note in r.notes:
            print(f"  note ({r.name}): {note}")
    sp = report.salespulse
    if sp is None or not sp.rate or not report.naive:
        return
    print("\n  salespulse / naive (events per second, both counting one input record as one event)")
    for nv in report.naive:
        if not nv.rate:
            print(f"  vs {nv.name}: no naive rate")
            continue
        ratio = sp.rate / nv.rate
        wall = (
            f"; wall-clock basis {sp.rate_wall / nv.rate_wall:.1f}x"
            if sp.rate_wall and nv.rate_wall
            else ""
        )
        verdict = "holds" if ratio >= REQUIRED_RATIO else "DOES NOT HOLD"
        print(
            f"  vs {nv.name}: {ratio:.1f}x{wall}  -> requirement >= {REQUIRED_RATIO:g}x {verdict}"
        )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    print("salespulse benchmark")
    print(
        f"  machine: {os.cpu_count()} cores ({platform.machine()}, {platform.system()}), "
        f"Python {platform.python_version()}; N = {args.events:,} events"
    )
    sys.stdout.flush()
    if args.only in (None, "validation"):
        from bench import bench_validation

        log(f"validation: {args.validation_events:,} payloads ...")
        print_validation(bench_validation.run(args.validation_events))
        sys.stdout.flush()
    if args.only in (None, "throughput"):
        from bench import throughput

        report = throughput.run(
            args.events,
            naive=not args.skip_naive,
            naive_memory=not args.skip_naive_memory,
            naive_timeout=args.naive_timeout,
            worker_env=dict(item.split("=", 1) for item in args.worker_env),
        )
        print_throughput(report)
    print(f"\n  benchmark took {time.monotonic() - started:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
