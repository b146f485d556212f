"""The changelog offsets the group's commits record, and what a start makes of them."""

from __future__ import annotations

from aiokafka.structs import OffsetAndMetadata, TopicPartition

from streams.worker.changelog_watermark import Loss, lost_partitions, recorded, refusal
from streams.worker.commit_metadata import CommitMetadata, decode, encode
from streams.worker.delivery import with_metadata


def test_an_offset_and_a_stream_time_read_back_and_other_metadata_is_nothing() -> None:
    assert (
        decode(encode(0)) == CommitMetadata(0) and decode(encode(12345)).changelog_offset == 12345
    )
    assert encode(None) == "" and encode(None, float("-inf")) == ""
    assert encode(7) == "salespulse-changelog:7"  # what an earlier version wrote and reads
    time = 1764547200.123456
    assert decode(encode(7, time)) == CommitMetadata(7, time)
    assert decode(encode(None, time)) == CommitMetadata(None, time)
    for other in (None, "", "something else", "salespulse-changelog:", "salespulse-changelog:-1"):
        assert decode(other) == CommitMetadata(), other
    for bad in ("x", "nan", "inf", "-inf", ""):
        assert decode(f"salespulse-stream-time:{bad}").stream_time is None, bad
    # a field a later version adds is skipped
    assert decode(f"salespulse-next:1 {encode(3, time)}") == CommitMetadata(3, time)


def test_the_furthest_offset_recorded_per_partition() -> None:
    commits = [(0, encode(5)), (0, encode(9)), (0, ""), (1, encode(3)), (2, None), (3, "x")]
    assert recorded(commits) == {0: 9, 1: 3}


def test_a_changelog_that_ends_at_or_before_a_recorded_offset_lost_records() -> None:
    furthest = {0: 9, 1: 3, 2: 7}
    # partition 0 ends after 9 (its next offset is 10): whole; 1 was made anew; 2 truncated
    ends = {0: 10, 1: 0, 2: 7}
    assert lost_partitions(furthest, ends) == [Loss(1, 3, 0), Loss(2, 7, 7)]
    assert lost_partitions(furthest, {0: 10, 1: 4, 2: 50}) == []
    message = refusal("app-scopes-changelog", "app", lost_partitions(furthest, ends))
    assert "partition 1 ends at offset 0, a commit recorded 3" in message
    assert "SALES_APP_ID" in message and "Reprocessing" in message


def test_commits_carry_the_metadata_of_their_partition_only() -> None:
    offsets = {
        TopicPartition("in", 0): OffsetAndMetadata(10, ""),
        TopicPartition("in", 5): OffsetAndMetadata(7, ""),
    }
    sent = with_metadata(offsets, {("in", 0): encode(42)})
    assert sent[TopicPartition("in", 0)] == OffsetAndMetadata(10, encode(42))
    assert sent[TopicPartition("in", 5)] == OffsetAndMetadata(7, "")
