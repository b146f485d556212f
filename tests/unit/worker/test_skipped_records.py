"""aiokafka's INFO line about records deleted before they were read becomes a WARNING that
says they were skipped and what to do."""

from __future__ import annotations

import logging

import pytest

from streams.worker.skipped_records import FETCHER_LOGGER, say_skipped_records


def test_records_deleted_before_they_were_read_are_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    say_skipped_records()
    say_skipped_records()  # once only
    logger = logging.getLogger(FETCHER_LOGGER)
    with caplog.at_level(logging.INFO, logger=FETCHER_LOGGER):
        # as aiokafka's fetcher logs it
        logger.info(
            "Fetch offset %s is out of range for partition %s, resetting offset",
            2340,
            "TopicPartition(topic='sales.activities', partition=3)",
        )
        logger.info("something else %s", 1)
    skipped, other = caplog.records
    assert skipped.levelno == logging.WARNING
    text = skipped.getMessage()
    assert "sales.activities', partition=3) from offset 2340 on were deleted" in text
    assert "retention.ms" in text and "never counted" in text
    assert other.levelno == logging.INFO and other.getMessage() == "something else 1"
