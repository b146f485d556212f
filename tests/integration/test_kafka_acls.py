"""A worker on a broker that authorizes every request, with the ACLs `salespulse acls`
lists and nothing more.

The broker (deploy/kafka/kafka_local.py `--acls`) allows nothing without an ACL; its own
user is a super user. `salespulse acls --apply`, run as that user, grants the worker's user
what the list says; the worker then creates its topics, joins its group, folds events,
answers for them and deletes the internal topic's folded records. Without the grants it
stops at start, naming what Kafka refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.conftest import load_kafka_local
from tests.integration.test_ingestion import activity
from tests.support.workers import (
    Cluster,
    eventually,
    folded_records_deleted,
    free_port,
    http_get,
    salespulse,
)

pytestmark = pytest.mark.integration

WORKER_USER = "sales-worker"


@pytest.fixture(scope="module")
def authorizing_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    kafka_local = load_kafka_local()
    broker = kafka_local.start_broker(
        kafka_local.free_port(),
        tmp_path_factory.mktemp("kafka-acls"),
        die_with_parent=True,
        security=kafka_local.SecuredListener(users={WORKER_USER: None}, acls=True),
    )
    try:
        yield broker
    finally:
        broker.stop()


def secured_cluster(broker: Any, name: str, base: Path) -> Cluster:
    """Workers of app id `name` that connect as the worker's user."""
    return Cluster(broker.bootstrap, name, base, extra_env=broker.connection(WORKER_USER).env())


async def test_a_worker_with_the_listed_acls_folds_and_answers(
    authorizing_broker: Any, unique_name: str, tmp_path: Path
) -> None:
    cluster = secured_cluster(authorizing_broker, unique_name, tmp_path)
    cluster.extra_env = {**cluster.extra_env, "SALES_INTERNAL_PURGE_INTERVAL": "0.5"}
    admin_env = {
        **cluster.env(free_port()),
        **authorizing_broker.connection(load_kafka_local().ADMIN_USER).env(),
    }
    granted = await salespulse(admin_env, "acls", "--principal", f"User:{WORKER_USER}", "--apply")
    assert granted.returncode == 0, granted.stderr
    assert f"for User:{WORKER_USER} (SALES_APP_ID={unique_name})" in granted.stdout
    try:
        worker = cluster.start_worker()
        call = activity("e1", "r1", datetime.now(UTC))
        # a won deal's figure crosses the internal topic, which the worker then purges
        won = {**call, "event_id": "d1", "deal_id": "D1", "outcome": "won", "amount": 5,
               "currency": "USD"}  # fmt: skip
        for kind, event in (("activities", call), ("deals", won)):
            events = tmp_path / f"{kind}.jsonl"
            events.write_bytes(orjson.dumps(event) + b"\n")
            sent = await salespulse(admin_env, "publish", "--kind", kind, str(events))
            assert sent.returncode == 0, sent.stderr

        async def counted() -> None:
            status, body = await http_get(f"{worker.url}/v1/reps/r1/performance")
            assert status == 200 and body["activities"]["total"] == 1, body
            assert body["deals"]["won"] == 1, body

        await eventually(counted, timeout=90)
        admin = authorizing_broker.connection(load_kafka_local().ADMIN_USER).aiokafka_options()
        bootstrap, internal = admin.pop("bootstrap_servers"), cluster.topic("scopes")
        await eventually(lambda: folded_records_deleted(bootstrap, unique_name, internal, **admin))
        assert "Authorization" not in worker.log_tail(400), worker.log_tail(400)
    finally:
        cluster.stop()


async def test_a_worker_without_acls_stops_at_start_naming_what_was_refused(
    authorizing_broker: Any, tmp_path: Path
) -> None:
    cluster = secured_cluster(authorizing_broker, "no-grants", tmp_path)
    done = await salespulse(cluster.env(free_port()), "worker", "--wait-for-kafka", "60")
    assert done.returncode != 0
    assert f"refused the worker's user {WORKER_USER} (" in done.stderr, done.stderr
    assert "AuthorizationFailedError" in done.stderr, done.stderr
    assert f"`salespulse acls --principal User:{WORKER_USER}` lists them" in done.stderr
    assert "give it longer" not in done.stderr, "waiting does not grant a right"


async def test_applying_the_acls_as_a_user_without_the_right_is_refused_clearly(
    authorizing_broker: Any, tmp_path: Path
) -> None:
    cluster = secured_cluster(authorizing_broker, "not-an-admin", tmp_path)
    done = await salespulse(
        cluster.env(free_port()), "acls", "--principal", f"User:{WORKER_USER}", "--apply"
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "salespulse acls: Kafka refused" in done.stderr, done.stderr
    assert "created" not in done.stdout
