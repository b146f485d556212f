"""A stopping consumer leaves its group at once while the broker holds a rebalance for a
member that died without leaving (streams.worker.group_leave).

The dead member is a consumer in a child process killed with SIGKILL; a third consumer
joining starts a rebalance the broker holds until the dead member's session ends. The
consumer stopped meanwhile must be out of the group while the dead one is still in it: the
usual close only returned once the dead member's session had ended.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import uuid
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from streams.worker.group_leave import send_leave_group, stop_consumer

pytestmark = pytest.mark.integration

#: the dead member's session: long enough that every step below ends within it
DEAD_SESSION_MS = 30_000

CHILD = textwrap.dedent(
    """
    import asyncio, sys
    from aiokafka import AIOKafkaConsumer, TopicPartition

    async def main():
        consumer = AIOKafkaConsumer(
            sys.argv[2], bootstrap_servers=sys.argv[1], group_id=sys.argv[3],
            session_timeout_ms=int(sys.argv[4]), heartbeat_interval_ms=1000,
            enable_auto_commit=False,
        )
        await consumer.start()
        while not consumer.assignment():
            await consumer.getmany(timeout_ms=200)
        print("joined", flush=True)
        while True:
            await consumer.getmany(timeout_ms=200)

    asyncio.run(main())
    """
)


def consumer(bootstrap: str, topic: str, group: str) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        session_timeout_ms=10_000,
        heartbeat_interval_ms=500,
        request_timeout_ms=2 * DEAD_SESSION_MS,  # a held JoinGroup is not cut short
        enable_auto_commit=False,
    )


async def members(admin: AIOKafkaAdminClient, group: str) -> set[str]:
    (response,) = await admin.describe_consumer_groups([group])
    # DescribeGroups v2: groups of (error, group, state, protocol type, protocol, members),
    # each member (member_id, client_id, host, metadata, assignment)
    (described,) = response.groups
    return {member[0] for member in described[5]}


async def poll_until(check: Any, what: str, seconds: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, what
        await asyncio.sleep(0.2)


async def test_a_consumer_stopped_during_a_held_rebalance_leaves_before_the_dead_member(
    kafka_bootstrap: str,
) -> None:
    topic, group = f"leave-{uuid.uuid4().hex[:8]}", f"leave-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])
    stopping = consumer(kafka_bootstrap, topic, group)
    joining = consumer(kafka_bootstrap, topic, group)
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, kafka_bootstrap, topic, group, str(DEAD_SESSION_MS)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert await asyncio.to_thread(child.stdout.readline) == "joined\n"
        await stopping.start()

        async def both_in() -> bool:
            await stopping.getmany(timeout_ms=100)
            return bool(stopping.assignment()) and len(await members(admin, group)) == 2

        await poll_until(both_in, "the stopping consumer and the child share the group")
        dead = (await members(admin, group)) - {stopping._coordinator.member_id}
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        # its join starts a rebalance held for the dead member (start returns once joined)
        starting = asyncio.ensure_future(joining.start())

        async def rejoining() -> bool:
            await stopping.getmany(timeout_ms=100)
            return bool(stopping._coordinator._performed_join_prepare)

        await poll_until(rejoining, "the stopping consumer was asked to rejoin")
        await asyncio.sleep(0.5)  # its JoinGroup on its way, held by the broker

        mine = stopping._coordinator.member_id
        await stop_consumer(stopping, wait=2.0)

        left = await members(admin, group)
        assert dead <= left, "the dead member's session was still running"
        assert mine not in left
        await starting  # the rebalance ends once the dead member's session does
        assert joining.assignment() == {TopicPartition(topic, p) for p in range(3)}
    finally:
        if child.poll() is None:
            child.kill()
        await joining.stop()
        await admin.close()


async def test_a_refused_leave_group_is_logged_and_the_stop_goes_on(
    kafka_bootstrap: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A member the broker no longer knows (here: it left already) is refused; the worker
    says so and stops anyway."""
    topic, group = f"leave-{uuid.uuid4().hex[:8]}", f"leave-{uuid.uuid4().hex[:8]}"
    member = consumer(kafka_bootstrap, topic, group)
    await member.start()
    try:
        while not member.assignment():
            await member.getmany(timeout_ms=200)
        await send_leave_group(member)
        assert not [r for r in caplog.records if r.name == "streams.worker.group_leave"]
        await send_leave_group(member)
        (refusal,) = [r for r in caplog.records if r.name == "streams.worker.group_leave"]
        assert "UnknownMemberIdError" in refusal.getMessage()
    finally:
        await member.stop()
