"""The `salespulse` console script: one entry point, one module per sub-command."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version

from streams.worker import kafka_client_backoff

#: sub-command modules under streams.tools.commands, in the order `--help` lists them
COMMANDS = (
    "worker",
    "run",
    "generate",
    "replay",
    "publish",
    "targets",
    "report",
    "status",
    "deadletters",
    "acls",
)


EPILOG = """examples:
  salespulse run                                  # the whole demo on a local broker
  salespulse worker                               # one worker (more share the load)
  salespulse generate --events 2000 --days 7      # demo traffic to Kafka
  salespulse publish crm.jsonl dialer.csv         # check your own events, then send them
  salespulse report --period 2026-11              # figures from a running worker
  salespulse status                               # is every worker well?
  salespulse COMMAND --help                       # each command's options and examples
"""


def package_version() -> str:
    """The installed version of the salespulse distribution."""
    try:
        return version("salespulse")
    except PackageNotFoundError:
        return "unknown (not installed: run `make install` or `pip install -e .`)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="salespulse",
        description="Live sales activity and performance from Kafka (see README.md).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=EPILOG,
    )
    parser.add_argument("--version", action="version", version=f"salespulse {package_version()}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"streams.tools.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"streams.tools.commands.{name}":
                raise
            continue
        module.register(subparsers)
    return parser


def command_name(args: argparse.Namespace) -> str:
    """`targets set` for messages: the command and, when it has one, its action."""
    action = getattr(args, "action", None)
    return f"{args.command} {action}" if action else str(args.command)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    kafka_client_backoff.install()  # every command talks to Kafka through aiokafka
    try:
        result = func(args)
    except BrokenPipeError:
        return _reader_gone()
    except (ValueError, OSError) as exc:
        # a bad value from the user (SettingsError is a ValueError): a message, not a traceback
        print(f"salespulse {command_name(args)}: {exc}{_origin(exc)}", file=sys.stderr)
        return 2
    return int(result or 0)


def _origin(exc: BaseException) -> str:
    """Where a system error that names no file came from: "[Errno 22] Invalid argument"
    alone left an operator nothing to look for (a worker under libfaketime, whose sleep
    fails). Errors about a file name it, and a bad value says what was wrong."""
    if not isinstance(exc, OSError) or exc.filename is not None:
        return ""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return ""
    last = frames[-1]
    return f" ({type(exc).__name__} at {last.filename}:{last.lineno}, in {last.name})"


def _reader_gone() -> int:
    """The command's output went to a reader that stopped reading (`report | head`): the
    reader has what it wanted, so no message and no failure. Standard output is pointed at
    /dev/null first, or the interpreter's own flush at exit would fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return 0


if __name__ == "__main__":
    sys.exit(main())
