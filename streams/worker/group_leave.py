"""A stopping worker leaves its consumer group at once, even in the middle of a rebalance.

aiokafka's `AIOKafkaConsumer.stop` first awaits its coordination task, and that task may be
in a JoinGroup the broker holds until every member has rejoined or the session of a member
that died without leaving (SIGKILL, OOM, a lost node) has ended: up to the session timeout
(60 s). A SIGTERM then waited out SALES_STOP_TIMEOUT and the worker exited as a crash, its
local state discarded at the next start, and the group waited one more session for it.

By then the stop has taken its last checkpoint and commit (Faust's consumer stops before
its thread); only the leaving is left. Past LEAVE_WAIT, a LeaveGroup sent on a connection
of its own (the held JoinGroup occupies the coordination connection, and a broker answers
a connection's requests in order) takes the member out: the broker answers the held join
with an error, the coordination task ends, and the close goes on as usual.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiokafka.client import ConnectionGroup
from aiokafka.errors import KafkaError, for_code
from aiokafka.protocol.group import LeaveGroupRequest

log = logging.getLogger(__name__)

#: seconds a stopping consumer may take to leave its group the usual way
LEAVE_WAIT = 5.0


async def stop_consumer(consumer: Any, wait: float = LEAVE_WAIT) -> None:
    """Stop an aiokafka consumer; past `wait`, leave its group with a LeaveGroup of our own."""
    stopping = asyncio.ensure_future(consumer.stop())
    done, _ = await asyncio.wait({stopping}, timeout=wait)
    if not done:
        coordinator = consumer._coordinator
        log.warning(
            "leaving consumer group %r waits for a rebalance (the broker holds it until every "
            "member rejoins, or until the session of a member that stopped without leaving "
            "ends): the last commit is done, so this worker leaves the group at once",
            coordinator.group_id,
        )
        await send_leave_group(consumer)
    await stopping


async def send_leave_group(consumer: Any) -> None:
    """Send a LeaveGroup for the consumer's member on the default connection to the group's
    coordinator (a failure is logged: the group then drops the member once its session
    ends)."""
    coordinator = consumer._coordinator
    node = coordinator.coordinator_id
    if node is None or not coordinator.member_id:
        return  # never joined, or the coordinator is unknown: nothing to leave
    request = LeaveGroupRequest(coordinator.group_id, coordinator.member_id)
    try:
        response = await consumer._client.send(node, request, group=ConnectionGroup.DEFAULT)
    except KafkaError as exc:
        failure: object = exc
    else:
        if not response.error_code:
            return
        failure = for_code(response.error_code)
    log.warning(
        "LeaveGroup for consumer group %r failed: %r; the group drops this worker once its "
        "session ends",
        coordinator.group_id,
        failure,
    )
