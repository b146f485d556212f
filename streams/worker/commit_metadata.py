"""What each commit of the group records beside its offset, in the offset's metadata.

Two facts the next worker to read a partition needs and finds nowhere else:
- the changelog offset the partition's state had been written to, checked before a start
  (streams.worker.changelog_watermark);
- the stream time of an input partition as of the records committed: the worker assigned it
  next judges its records late from there (streams.worker.stream_times).

Fields are separated by spaces, each `<name>:<value>`; a field this version does not know is
skipped, so a later one may add fields. A version before the stream time read a metadata of
the changelog offset alone: it reads nothing in one with both, and skips its start's check of
the changelog (README, Upgrading).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: the field of the changelog offset (the whole metadata, before the stream time was added)
CHANGELOG = "salespulse-changelog"
#: the field of the input partition's stream time, epoch seconds
STREAM_TIME = "salespulse-stream-time"


@dataclass(frozen=True)
class CommitMetadata:
    #: the offset of the last changelog record the partition's state was written to
    changelog_offset: int | None = None
    #: the latest event time read from the input partition up to the committed offset
    stream_time: float | None = None


def encode(changelog_offset: int | None = None, stream_time: float | None = None) -> str:
    """The metadata of a commit (None: not known, left out; nothing known: "")."""
    fields = []
    if changelog_offset is not None:
        fields.append(f"{CHANGELOG}:{changelog_offset}")
    if stream_time is not None and math.isfinite(stream_time):
        fields.append(f"{STREAM_TIME}:{stream_time!r}")  # repr: the float reads back exactly
    return " ".join(fields)


def decode(metadata: str | None) -> CommitMetadata:
    """What a commit's metadata recorded; a field missing or unreadable is None."""
    offset: int | None = None
    stream_time: float | None = None
    for field in (metadata or "").split(" "):
        name, _, value = field.partition(":")
        if name == CHANGELOG and value.isascii() and value.isdigit():
            offset = int(value)
        elif name == STREAM_TIME:
            stream_time = _finite(value)
    return CommitMetadata(offset, stream_time)


def _finite(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None
