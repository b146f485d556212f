"""Input records deleted by a topic's retention before the worker read them, said as such.

aiokafka finds the position it was to fetch from gone (the records before the topic's log
start were deleted), starts again at the earliest offset left, and says so at INFO, in its
own words: "Fetch offset 2340 is out of range for partition TopicPartition(...), resetting
offset". Those records are never counted, and nothing told the operator (the operator
audit: 300 records gone with only that INFO line). The line is made a WARNING that says
what happened and what to do.
"""

from __future__ import annotations

import logging

#: the logger and message template aiokafka (pinned) says it with
FETCHER_LOGGER = "aiokafka.consumer.fetcher"
OUT_OF_RANGE = "Fetch offset %s is out of range for partition %s, resetting offset"


class SkippedRecords(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg == OUT_OF_RANGE:
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.msg = (
                "records of %s from offset %s on were deleted by the topic's retention before "
                "this worker read them: they are skipped, never counted (reading goes on at "
                "the earliest offset left). Keep the consumer lag well below the input "
                "topics' retention.ms, or raise it"
            )
            record.args = tuple(reversed(record.args or ()))  # type: ignore[arg-type]
        return True


def say_skipped_records() -> None:
    logger = logging.getLogger(FETCHER_LOGGER)
    if not any(isinstance(f, SkippedRecords) for f in logger.filters):
        logger.addFilter(SkippedRecords())
