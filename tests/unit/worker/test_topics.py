"""Topic creation's answers, against an admin client that plays the broker's replies: the
worker, the tools and the benches all create topics through `create_topics`."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka.admin import NewTopic
from aiokafka.errors import PolicyViolationError, TopicAlreadyExistsError

from streams.worker.settings import Settings
from streams.worker.topics import create_topics, durability, wait_for_leaders, wanted_topics


class Admin:
    """Answers create_topics with `errors` and describe_topics with leaders once `ready`."""

    def __init__(self, errors: dict[str, int], ready_after: int) -> None:
        self.errors = errors
        self.ready_after = ready_after
        self.described = 0

    async def create_topics(self, topics: list[NewTopic]) -> Any:
        return SimpleNamespace(
            topic_errors=[(t.name, self.errors.get(t.name, 0), None) for t in topics]
        )

    async def describe_topics(self, names: list[str]) -> list[dict[str, Any]]:
        self.described += 1
        leader = 0 if self.described > self.ready_after else -1
        return [
            {"topic": n, "error_code": 0, "partitions": [{"partition": 0, "leader": leader}]}
            for n in names
        ]


async def test_a_topic_that_exists_already_is_fine_and_leaders_are_waited_for() -> None:
    admin = Admin({"b": TopicAlreadyExistsError.errno}, ready_after=2)
    assert await create_topics(admin, [NewTopic("a", 1, 1), NewTopic("b", 1, 1)])
    assert admin.described == 3  # twice without a leader, then with


async def test_a_refused_topic_raises_the_brokers_error() -> None:
    admin = Admin({"b": PolicyViolationError.errno}, ready_after=0)
    with pytest.raises(PolicyViolationError, match="cannot create topic b"):
        await create_topics(admin, [NewTopic("a", 1, 1), NewTopic("b", 1, 1)])


async def test_partitions_without_a_leader_past_the_timeout_answer_false() -> None:
    admin = Admin({}, ready_after=10**6)
    assert not await wait_for_leaders(admin, ["a"], timeout=0.3)
    assert admin.described >= 2


def test_three_replicas_or_more_make_every_created_topic_need_two_in_sync() -> None:
    replicated = Settings.from_env({"SALES_TOPIC_REPLICATION": "3"})
    topics = wanted_topics(replicated)
    assert {t.replication_factor for t in topics} == {3}
    for topic in topics:
        assert topic.topic_configs["min.insync.replicas"] == "2", topic.name
    compacted = {t.name for t in topics if t.topic_configs.get("cleanup.policy") == "compact"}
    assert compacted == {replicated.topics.targets, replicated.topics.performance}
    assert durability(replicated) == {"min.insync.replicas": "2"}


@pytest.mark.parametrize("replicas", ["1", "2"])
def test_fewer_replicas_leave_the_brokers_default(replicas: str) -> None:
    """With two, requiring both would stop every write while one broker restarts."""
    settings = Settings.from_env({"SALES_TOPIC_REPLICATION": replicas})
    assert durability(settings) == {}
    for topic in wanted_topics(settings):
        assert "min.insync.replicas" not in (topic.topic_configs or {}), topic.name
