"""SALES_SESSION_TIMEOUT against the broker's bounds, checked before the worker joins.

Why: a broker refuses a JoinGroup whose session lies outside its
`group.min.session.timeout.ms` and `group.max.session.timeout.ms` (6 s and 30 min unless
set). The Kafka client logs that once and the worker then waits for ever without
partitions, never ready; asked first, the worker stops at start naming the setting.
"""

from __future__ import annotations

import logging
from typing import Any

from aiokafka.errors import KafkaError

log = logging.getLogger("salespulse.worker")

BOUNDS = ("group.min.session.timeout.ms", "group.max.session.timeout.ms")


async def broker_session_bounds(admin: Any, node_id: int) -> tuple[float, float] | None:
    """The broker's (least, greatest) session in seconds; None when it does not say (an
    ACL without DescribeConfigs on the cluster, say): the join then tells."""
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

    try:
        response = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.BROKER, str(node_id))]
        )
    except KafkaError as exc:
        log.debug("the broker's session bounds are unknown: %r", exc)
        return None
    found: dict[str, float] = {}
    for result in response:
        for resource in result.resources:
            if resource[0] != 0:  # an error code: not allowed, say
                log.debug("the broker's session bounds are unknown: error %s", resource[0])
                return None
            for entry in resource[4]:
                if entry[0] in BOUNDS and entry[1] is not None:
                    found[entry[0]] = int(entry[1]) / 1000
    if len(found) < len(BOUNDS):
        return None
    return found[BOUNDS[0]], found[BOUNDS[1]]


def session_refusal(session_timeout: float, bounds: tuple[float, float] | None) -> str | None:
    """What to tell the operator when the broker would refuse the session, else None."""
    if bounds is None:
        return None
    least, greatest = bounds
    if least <= session_timeout <= greatest:
        return None
    return (
        f"SALES_SESSION_TIMEOUT={session_timeout:g} lies outside what the broker allows "
        f"({least:g} to {greatest:g} s: its group.min.session.timeout.ms and "
        "group.max.session.timeout.ms), and it would refuse the worker's join to the "
        "consumer group. Set a session within them."
    )
