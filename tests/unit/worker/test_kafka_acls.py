"""The ACL list of `salespulse acls`, from the worker's own settings
(tests/integration/test_kafka_acls.py runs a worker with exactly these rights)."""

from __future__ import annotations

import shlex

import pytest

from streams.tools import cli
from streams.worker.kafka_acls import (
    CLUSTER,
    OPERATIONS,
    kafka_acls_commands,
    worker_grants,
)
from streams.worker.settings import Settings
from streams.worker.topics import changelog_topic, wanted_topics


def test_every_topic_group_and_the_cluster_the_worker_uses_are_granted() -> None:
    env = {"SALES_APP_ID": "eu", "SALES_TOPIC_ACTIVITIES": "crm.calls"}
    settings = Settings.from_env(env)
    grants = worker_grants(settings)
    literal = {g.name: g for g in grants if g.resource == "topic" and g.pattern == "literal"}
    # every topic the worker creates, by its configured name
    assert {t.name for t in wanted_topics(settings)} == set(literal)
    assert "crm.calls" in literal and literal["crm.calls"].operations == ("Read", "Create")
    assert {"Read", "Write"} <= set(literal["eu.scopes"].operations)
    # the worker deletes the internal topic's folded records, and no other topic's
    assert [name for name, g in literal.items() if "Delete" in g.operations] == ["eu.scopes"]
    # the topics whose configuration the start checks (message limits, cleanup policies)
    t = settings.topics
    for topic in (t.deadletter, t.scopes, t.targets, t.performance):
        assert "DescribeConfigs" in literal[topic].operations, topic
    (faust,) = [g for g in grants if g.pattern == "prefixed"]
    assert changelog_topic(settings).startswith(faust.name) and faust.name == "eu-"
    assert [g.name for g in grants if g.resource == "group"] == ["eu"]
    assert [g.name for g in grants if g.resource == "cluster"] == [CLUSTER]
    assert all(op in OPERATIONS for g in grants for op in g.operations)


def test_the_commands_are_kafka_acls_sh_lines() -> None:
    settings = Settings.from_env({})
    grants = worker_grants(settings)
    lines = kafka_acls_commands(grants, "User:sales worker", "k1:9092")
    assert len(lines) == len(grants)
    for grant, line in zip(grants, lines, strict=True):
        words = shlex.split(line)
        assert words[:6] == [
            "kafka-acls.sh",
            "--bootstrap-server",
            "k1:9092",
            "--add",
            "--allow-principal",
            "User:sales worker",
        ]
        assert [words[i + 1] for i, w in enumerate(words) if w == "--operation"] == list(
            grant.operations
        )
        if grant.resource == "cluster":
            assert "--cluster" in words
        else:
            assert words[words.index(f"--{grant.resource}") + 1] == grant.name
        assert ("--resource-pattern-type" in words) == (grant.pattern == "prefixed")


def test_the_command_prints_the_list_and_refuses_a_principal_without_its_type(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP", "127.0.0.1:1")  # printing contacts no broker
    monkeypatch.setenv("SALES_APP_ID", "eu")
    assert cli.main(["acls", "--principal", "User:eu-worker"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# the ACLs of a worker of SALES_APP_ID=eu, as User:eu-worker:")
    assert out.count("kafka-acls.sh ") == len(
        worker_grants(Settings.from_env({"SALES_APP_ID": "eu"}))
    )
    for bad in ("eu-worker", "User:"):
        assert cli.main(["acls", "--principal", bad]) == 2
        assert "is not TYPE:NAME" in capsys.readouterr().err
