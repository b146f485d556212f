"""The Kafka ACLs a worker needs, as one list: printed for `kafka-acls.sh`, or created.

Why: on a cluster that authorizes requests (ACLs, as most secured production clusters do),
an operator has to grant the worker's user its rights before it starts, and had no list:
`salespulse acls` prints it from the worker's own settings (its app id and topic names),
and `--apply` creates it (tests/integration/test_kafka_acls.py starts a worker that has
exactly these rights and nothing more).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import for_code
from aiokafka.protocol.admin import CreateAclsRequest

from streams.worker.settings import Settings

#: Kafka's codes (org.apache.kafka.common.resource / acl): resource types, pattern types,
#: operations and the one permission used
RESOURCE_TYPES = {"topic": 2, "group": 3, "cluster": 4}
PATTERN_TYPES = {"literal": 3, "prefixed": 4}
OPERATIONS = {
    "Read": 3,
    "Write": 4,
    "Create": 5,
    "Delete": 6,
    "Describe": 8,
    "DescribeConfigs": 10,
}
ALLOW = 3
#: the name Kafka gives the cluster resource
CLUSTER = "kafka-cluster"


@dataclass(frozen=True)
class Grant:
    """Operations on one resource (a topic, a group, or the cluster)."""

    resource: str  # a key of RESOURCE_TYPES
    name: str
    operations: tuple[str, ...]
    pattern: str = "literal"  # or "prefixed": every name that begins with `name`
    why: str = ""


def worker_grants(settings: Settings) -> list[Grant]:
    """What one worker of `settings` needs: it creates its topics when missing, so Create."""
    t = settings.topics
    app_prefix = f"{settings.app_id}-"  # Faust names its topics so (topics.changelog_topic)
    return [
        *(
            Grant("topic", name, ("Read", "Create"), why="an input")
            for name in (t.activities, t.deals, t.feedback)
        ),
        Grant(
            "topic",
            t.targets,
            ("Read", "Create", "DescribeConfigs"),
            why="an input, compacted: its cleanup policy is checked at start",
        ),
        Grant("topic", t.alerts, ("Write", "Create"), why="an output"),
        Grant(
            "topic",
            t.performance,
            ("Write", "Create", "DescribeConfigs"),
            why="an output, compacted: its cleanup policy is checked at start",
        ),
        Grant(
            "topic",
            t.deadletter,
            ("Write", "Create", "DescribeConfigs"),
            why="dead letters, cut to the topic's max.message.bytes",
        ),
        Grant(
            "topic",
            t.scopes,
            ("Read", "Write", "Create", "Delete", "DescribeConfigs"),
            why="the internal topic: its records deleted once folded, its configuration "
            "checked at start",
        ),
        Grant(
            "topic",
            app_prefix,
            ("Read", "Write", "Create", "DescribeConfigs"),
            pattern="prefixed",
            why="Faust's topics: the changelog, the assignor's leader topic",
        ),
        Grant("group", settings.app_id, ("Read",), why="the consumer group"),
        Grant(
            "cluster",
            CLUSTER,
            ("Describe", "DescribeConfigs"),
            why="the cluster id, and the broker's session bounds",
        ),
    ]


def kafka_acls_commands(grants: list[Grant], principal: str, bootstrap: str) -> list[str]:
    """One `kafka-acls.sh --add` command per grant (add `--command-config` for a secured
    cluster)."""
    lines = []
    for grant in grants:
        words = [
            "kafka-acls.sh",
            "--bootstrap-server",
            bootstrap,
            "--add",
            "--allow-principal",
            principal,
        ]
        for operation in grant.operations:
            words += ["--operation", operation]
        if grant.resource == "cluster":
            words.append("--cluster")
        else:
            words += [f"--{grant.resource}", grant.name]
        if grant.pattern != "literal":
            words += ["--resource-pattern-type", grant.pattern]
        lines.append(" ".join(shlex.quote(word) for word in words))
    return lines


async def create_grants(admin: AIOKafkaAdminClient, grants: list[Grant], principal: str) -> int:
    """Create the ACLs (CreateAcls, one request per ACL: aiokafka has no admin call for it);
    returns how many. An ACL that exists already is created again, which Kafka accepts."""
    created = 0
    for grant in grants:
        for operation in grant.operations:
            request = CreateAclsRequest(
                RESOURCE_TYPES[grant.resource],
                grant.name,
                PATTERN_TYPES[grant.pattern],
                principal,
                "*",
                OPERATIONS[operation],
                ALLOW,
            )
            response = await admin._send_request(request)
            for code, message in response.creation_responses:
                if code != 0:
                    raise for_code(code)(
                        f"creating {operation} on {grant.resource} {grant.name!r} for "
                        f"{principal}: {message or 'no message'}"
                    )
            created += 1
    return created
