"""Options several commands share, and how their help names environment variables.

A flag that overrides an environment variable says so in `--help` with ``(env NAME)``; the
settings of a command are the environment's with such flags applied (:func:`settings_from`).
"""

from __future__ import annotations

import argparse
import os
from urllib.parse import urlsplit

from streams.worker.settings import Settings

#: the levels a --loglevel accepts, in any case
LOG_LEVELS = ("critical", "error", "warning", "info", "debug")


def env_note(*names: str) -> str:
    """``(env KAFKA_BOOTSTRAP)``: appended to the help of a flag with a variable counterpart."""
    return f"(env {', '.join(names)})"


def add_bootstrap_argument(parser: argparse.ArgumentParser) -> None:
    """`--bootstrap HOST:PORT[,HOST:PORT]`, which overrides KAFKA_BOOTSTRAP."""
    parser.add_argument(
        "--bootstrap",
        metavar="HOST:PORT",
        help="Kafka brokers, host:port[,host:port] (default 127.0.0.1:9092) "
        + env_note("KAFKA_BOOTSTRAP"),
    )


def worker_url(text: str) -> str:
    """An --api value: an http(s) URL with a host (`notaurl` was asked for as
    `notaurl/v1/leaderboard`, `ftp://x` ended in a traceback)."""
    url = urlsplit(text.strip())
    try:
        port_ok = url.port is None or url.port > 0
    except ValueError:
        port_ok = False
    if url.scheme not in ("http", "https") or not url.hostname or not port_ok:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a worker URL such as http://127.0.0.1:6066"
        )
    return text.strip().rstrip("/")


def seconds(text: str) -> float:
    """A duration flag: a number of seconds, 0 or more."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds (0 or more)")
    return value


def add_api_argument(parser: argparse.ArgumentParser) -> None:
    """`--api URL`: the worker to ask (default: this machine's, on SALES_API_PORT)."""
    parser.add_argument(
        "--api",
        type=worker_url,
        help="worker URL (default http://127.0.0.1:<port>) " + env_note("SALES_API_PORT"),
    )


def api_url(args: argparse.Namespace, settings: Settings) -> str:
    """The worker URL `--api` names, or this machine's worker."""
    return str(args.api or f"http://127.0.0.1:{settings.api_port}")


def add_loglevel_argument(parser: argparse.ArgumentParser, default: str = "info") -> None:
    """`--loglevel LEVEL`, checked by argparse in any case (`--loglevel DEBUG` works)."""
    parser.add_argument(
        "--loglevel",
        type=str.lower,
        choices=LOG_LEVELS,
        default=default,
        metavar="LEVEL",
        help=f"{', '.join(LOG_LEVELS)} (default {default})",
    )


def environment(args: argparse.Namespace) -> dict[str, str]:
    """The process environment with the command's overriding flags applied."""
    env = dict(os.environ)
    bootstrap = getattr(args, "bootstrap", None)
    if bootstrap:
        env["KAFKA_BOOTSTRAP"] = bootstrap
    return env


def settings_from(args: argparse.Namespace) -> Settings:
    """Settings from the environment and the command's flags (SettingsError if unusable)."""
    return Settings.from_env(environment(args))
