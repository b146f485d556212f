"""Which topic configurations let Kafka delete records by age or size
(streams.worker.topic_retention), as a broker describes them."""

from __future__ import annotations

import pytest

from streams.worker.topic_retention import changelog_refusal, deletes_records, reader_warning


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
