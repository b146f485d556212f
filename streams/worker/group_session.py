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

from streams.worker.topics import described_configs

log = logging.getLogger("salespulse.worker")

BOUNDS = ("group.min.session.timeout.ms", "group.max.session.timeout.ms")


async def broker_session_bounds(admin: Any, node_id: int) -> tuple[float, float] | None:
    """The broker's (least, greatest) session in seconds; None when it does not say (an
    ACL without DescribeConfigs on the cluster, say): the join then tells."""
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

    try:
        configs = await described_configs(
            admin, ConfigResource(ConfigResourceType.BROKER, str(node_id))
        )
    except KafkaError as exc:
        log.debug("the broker's session bounds are unknown: %r", exc)
        return None
    if configs is None or not all(name in configs for name in BOUNDS):
        log.debug("the broker's session bounds are unknown (not described)")
        return None
    least, greatest = (int(configs[name]) / 1000 for name in BOUNDS)
    return least, greatest


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
