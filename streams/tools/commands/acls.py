"""`salespulse acls`: the Kafka ACLs a worker's user needs, printed or created.

The list comes from the worker's own settings (SALES_APP_ID, SALES_TOPIC_*), so run it with
the environment the workers get. `--apply` creates the ACLs as the user of the KAFKA_*
variables, which must be allowed to (an admin, or a super user).
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from aiokafka.errors import KafkaError

from streams.worker.kafka_acls import create_grants, kafka_acls_commands, worker_grants
from streams.worker.settings import Settings, SettingsError

EPILOG = """\
examples:
  salespulse acls --principal User:salespulse            # kafka-acls.sh commands to run
  SALES_APP_ID=eu salespulse acls --principal User:eu-worker --apply   # as an admin
"""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "acls",
        help="the Kafka ACLs a worker's user needs (print, or --apply them)",
        description="List the ACLs a worker with this environment's settings needs on a "
        "cluster that authorizes requests, as kafka-acls.sh commands; or create them.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--principal",
        required=True,
        help="the workers' Kafka principal, e.g. User:salespulse (their SASL user name)",
    )
    parser.add_argument(
        "--apply",
        action="store_true",
        help="create the ACLs on the cluster of KAFKA_BOOTSTRAP, as the user of the KAFKA_* "
        "variables (it needs the right to: an admin)",
    )
    parser.set_defaults(func=run_acls)


async def apply(settings: Settings, principal: str) -> int:
    from aiokafka.admin import AIOKafkaAdminClient

    from streams.worker.kafka_options import kafka_options

    admin = AIOKafkaAdminClient(**kafka_options(settings))
    try:
        await admin.start()
        return await create_grants(admin, worker_grants(settings), principal)
    finally:
        await admin.close()


def run_acls(args: argparse.Namespace) -> int:
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"salespulse acls: {exc}", file=sys.stderr)
        return 2
    principal = args.principal.strip()
    if ":" not in principal or not principal.split(":", 1)[1]:
        print(
            f"salespulse acls: --principal {args.principal!r} is not TYPE:NAME, "
            "e.g. User:salespulse",
            file=sys.stderr,
        )
        return 2
    grants = worker_grants(settings)
    if not args.apply:
        print(f"# the ACLs of a worker of SALES_APP_ID={settings.app_id}, as {principal}:")
        for grant, line in zip(
            grants, kafka_acls_commands(grants, principal, settings.kafka_bootstrap), strict=True
        ):
            print(f"# {grant.why}")
            print(line)
        return 0
    try:
        created = asyncio.run(apply(settings, principal))
    except KafkaError as exc:
        print(f"salespulse acls: Kafka refused: {exc!r}", file=sys.stderr)
        return 1
    print(f"created {created} ACLs for {principal} (SALES_APP_ID={settings.app_id})")
    return 0
