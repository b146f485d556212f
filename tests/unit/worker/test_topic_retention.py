"""Which topic configurations let Kafka delete records by age or size
(streams.worker.topic_retention), as a broker describes them, and what the start makes of
the internal topic's (purged by the worker when kept for ever)."""

from __future__ import annotations

import logging

import pytest

from streams.tools.commands.worker import _check_internal_retention
from streams.worker.settings import Settings
from streams.worker.topic_retention import (
    changelog_refusal,
    deletes_records,
    internal_refusal,
    internal_warning,
    kept_for_ever,
    reader_warning,
)
from streams.worker.topics import wanted_topics


@pytest.mark.parametrize(
    ("configs", "deletion"),
    [
        # as Faust creates a changelog: compacted, retention.ms ignored by Kafka
        ({"cleanup.policy": "compact", "retention.ms": "604800000"}, None),
        # the broker's default
        (
            {"cleanup.policy": "delete", "retention.ms": "604800000", "retention.bytes": "-1"},
            "cleanup.policy=delete, retention.ms=604800000",
        ),
        (
            {"cleanup.policy": "compact,delete", "retention.ms": "-1", "retention.bytes": "1000"},
            "cleanup.policy=compact,delete, retention.bytes=1000",
        ),
        (
            {"cleanup.policy": "compact, delete", "retention.ms": "1"},
            "cleanup.policy=compact, delete, retention.ms=1",
        ),
        # deleting, but never by age or size: kept for ever
        ({"cleanup.policy": "delete", "retention.ms": "-1", "retention.bytes": "-1"}, None),
        # a broker that described nothing (not allowed to): nothing to refuse
        ({}, None),
    ],
)
def test_deletion_by_age_or_size_is_found(configs: dict[str, str], deletion: str | None) -> None:
    assert deletes_records(configs) == deletion


def test_the_refusal_and_the_warning_name_the_topic_and_the_fix() -> None:
    refusal = changelog_refusal("app-scopes-changelog", "cleanup.policy=delete, retention.ms=1")
    assert refusal.startswith("salespulse worker: the changelog topic app-scopes-changelog has")
    assert "--entity-name app-scopes-changelog --add-config cleanup.policy=compact" in refusal
    warning = reader_warning("sales.performance", "cleanup.policy=delete, retention.ms=1")
    assert "--entity-name sales.performance --add-config cleanup.policy=compact" in warning


@pytest.mark.parametrize(
    ("configs", "kept"),
    [
        ({"cleanup.policy": "delete", "retention.ms": "-1", "retention.bytes": "-1"}, True),
        ({"retention.ms": "-1"}, True),  # delete is Kafka's default policy
        ({"cleanup.policy": "delete", "retention.ms": "604800000"}, False),
        ({"cleanup.policy": "delete", "retention.ms": "-1", "retention.bytes": "10"}, False),
        ({"cleanup.policy": "compact", "retention.ms": "-1"}, False),
        ({"cleanup.policy": "compact,delete", "retention.ms": "-1"}, False),
    ],
)
def test_only_a_topic_neither_deleting_nor_compacting_is_kept_for_ever(
    configs: dict[str, str], kept: bool
) -> None:
    assert kept_for_ever(configs) is kept


def test_the_internal_topic_the_worker_creates_is_kept_for_ever() -> None:
    """What the start's check wants is what ensure_topics creates: its own topic is purged."""
    settings = Settings.from_env({"SALES_APP_ID": "eu"})
    (internal,) = [t for t in wanted_topics(settings) if t.name == "eu.scopes"]
    assert kept_for_ever(internal.topic_configs)


def test_the_internal_topics_warning_and_refusal_name_the_fix() -> None:
    warning = internal_warning("eu.scopes", "cleanup.policy=delete, retention.ms=604800000")
    assert warning.startswith("the internal topic eu.scopes has cleanup.policy=delete")
    assert "--entity-name eu.scopes --add-config retention.ms=-1,retention.bytes=-1" in warning
    refusal = internal_refusal("eu.scopes", "compact")
    assert refusal.startswith("salespulse worker: the internal topic eu.scopes has")
    fix = "--add-config cleanup.policy=delete,retention.ms=-1,retention.bytes=-1"
    assert f"--entity-name eu.scopes {fix}" in refusal


DESCRIBED = {"cleanup.policy": "delete", "retention.ms": "-1", "retention.bytes": "-1"}


def test_the_start_purges_an_internal_topic_kept_for_ever_only(
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = Settings.from_env({"SALES_APP_ID": "eu"})
    assert _check_internal_retention(settings, {"eu.scopes": DESCRIBED}) is True
    assert not caplog.records
    # not described (the worker's user may not DescribeConfigs): left to its retention
    assert _check_internal_retention(settings, {}) is False
    weekly = {**DESCRIBED, "retention.ms": "604800000"}
    with caplog.at_level(logging.WARNING):
        assert _check_internal_retention(settings, {"eu.scopes": weekly}) is False
    (said,) = [r.getMessage() for r in caplog.records]
    assert "eu.scopes has cleanup.policy=delete, retention.ms=604800000" in said
    with pytest.raises(SystemExit, match=r"cleanup\.policy=compact: Kafka refuses"):
        _check_internal_retention(settings, {"eu.scopes": {"cleanup.policy": "compact"}})
