"""Topics whose records Kafka must keep: checked at start against their cleanup policy.

The scopes table's changelog is the state: a worker restores from it. Faust creates it
compacted, but a topic made beforehand (a platform that pre-creates topics, with the
broker's default `cleanup.policy=delete` and its 7 days of `retention.ms`) keeps running
fine for a week; then Kafka deletes the oldest frames, the snapshot of a quiet partition
among them, and the next restore rebuilds figures with events missing, without a word. So
the worker refuses to start on a changelog Kafka may delete by age or size.

The internal topic is kept for ever and purged by the worker once folded
(streams.worker.internal_purge). One that deletes by age or size is left to its retention,
and a record every worker was stopped too long to fold is lost with it: said, not refused
(streams.worker.internal_loss refuses once that happened). One that compacts would refuse
every record (its records carry no key): refused.

`sales.targets` and `sales.performance` are compacted for their readers (the latest target,
the latest document of each key); deleted by age, a reader from the start misses the keys
that did not change within the retention: said, not refused (the worker keeps its targets
in its state).
"""

from __future__ import annotations

from collections.abc import Mapping

#: the configuration that makes Kafka delete records by age or size (with "delete" among
#: the cleanup policies); -1 keeps them
UNLIMITED = "-1"


def deletes_records(configs: Mapping[str, str]) -> str | None:
    """How Kafka would delete this topic's records by age or size ("cleanup.policy=delete,
    retention.ms=604800000"), or None when it only compacts or keeps them for ever."""
    policy = configs.get("cleanup.policy", "delete")
    if "delete" not in policies(configs):
        return None
    limits = [
        f"{name}={configs[name]}"
        for name in ("retention.ms", "retention.bytes")
        if configs.get(name, UNLIMITED) != UNLIMITED
    ]
    if not limits:
        return None
    return ", ".join([f"cleanup.policy={policy}", *limits])


def policies(configs: Mapping[str, str]) -> set[str]:
    """The topic's cleanup policies ("delete", "compact")."""
    return {p.strip() for p in configs.get("cleanup.policy", "delete").split(",")}


def kept_for_ever(configs: Mapping[str, str]) -> bool:
    """Whether Kafka neither deletes nor compacts this topic's records: what the worker's
    own purge of the internal topic needs."""
    return policies(configs) == {"delete"} and deletes_records(configs) is None


def alter_command(topic: str, config: str) -> str:
    """The kafka-configs call that sets one of the topic's configurations ("name=value"):
    what every refusal about a topic's settings tells the operator to run."""
    return (
        "kafka-configs.sh --bootstrap-server <KAFKA_BOOTSTRAP> --alter --entity-type topics "
        f"--entity-name {topic} --add-config {config}"
    )


def fix_command(topic: str) -> str:
    """The kafka-configs call that makes the topic compacted."""
    return alter_command(topic, "cleanup.policy=compact")


def changelog_refusal(topic: str, deletion: str) -> str:
    """What the operator reads when the changelog may lose the state."""
    return (
        f"salespulse worker: the changelog topic {topic} has {deletion}: Kafka would delete "
        "the state's oldest records, and a worker restoring from it afterwards would answer "
        "figures with events missing. Make it compacted, as Faust creates it: "
        f"{fix_command(topic)}"
    )


def reader_warning(topic: str, deletion: str) -> str:
    """What the operator reads for a compacted output or targets topic that deletes."""
    return (
        f"{topic} has {deletion}: a reader from its start misses the keys that did not "
        f"change within that retention. Make it compacted: {fix_command(topic)}"
    )


def internal_warning(topic: str, deletion: str) -> str:
    """What the operator reads for an internal topic that deletes by age or size."""
    return (
        f"the internal topic {topic} has {deletion}: a record not folded by then (every "
        "worker stopped, or behind, that long) is deleted unread, and the worker then refuses "
        "to start. Let it keep records for ever, and workers started after that delete them "
        "once folded: "
        f"{alter_command(topic, 'retention.ms=-1,retention.bytes=-1')}"
    )


def internal_refusal(topic: str, policy: str) -> str:
    """What the operator reads for an internal topic that compacts."""
    return (
        f"salespulse worker: the internal topic {topic} has cleanup.policy={policy}: Kafka "
        "refuses its records, which carry no key, and would drop unfolded ones. Make it "
        "delete records as the worker creates it: "
        f"{alter_command(topic, 'cleanup.policy=delete,retention.ms=-1,retention.bytes=-1')}"
    )
