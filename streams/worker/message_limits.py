"""Topics whose records must fit: the changelog's frames and the internal topic's envelopes
against the topics' max.message.bytes, checked at start.

The worker writes a checkpoint's state as frames of up to FRAME_BYTES, and forwards records
and contributions in envelopes of up to ENVELOPE_BYTES (a single record up to
SALES_MAX_PAYLOAD_BYTES and its key, each at most 256 KiB). Kafka's default limit (1 MiB)
carries both. A topic made with less (a lowered broker `message.max.bytes`, or a platform's
policy for topics made beforehand) refused the first large frame or envelope: the worker
stopped without committing, and each restart stopped again at the same batch, its log
naming MessageSizeTooLargeError and advising to report a record. So the worker refuses to
start on such a topic, naming the limit it needs. (Dead letters are cut to their topic's
limit instead: they can be, streams.domain.deadletter.)
"""

from __future__ import annotations

from streams.worker.changelog_frames import FRAME_BYTES
from streams.worker.topic_retention import alter_command

#: the largest envelope of the internal topic (streams.worker.batch_handler)
ENVELOPE_BYTES = 512 * 1024
#: room for the record batch's header, the record's key and its headers
RECORD_OVERHEAD = 1024
#: what each topic's max.message.bytes must be at least
NEEDED = max(FRAME_BYTES, ENVELOPE_BYTES) + RECORD_OVERHEAD
#: Kafka's default max.message.bytes: what the refusal advises
KAFKA_DEFAULT = 1_048_588


def too_small(topic: str, limit: int | None, role: str) -> str | None:
    """Why the worker cannot start on `topic` (its `role`: "changelog", "internal"), or None
    when its limit is enough or unknown (the broker did not say)."""
    if limit is None or limit >= NEEDED:
        return None
    return (
        f"salespulse worker: the {role} topic {topic} takes records of at most {limit} bytes "
        f"(max.message.bytes), and the worker writes records of up to {NEEDED} there: the "
        "first large one would be refused, and the worker would stop at it at every start. "
        f"Raise it to Kafka's default: {alter_command(topic, f'max.message.bytes={KAFKA_DEFAULT}')}"
    )
