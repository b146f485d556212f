"""The framed changelog (streams.worker.changelog_frames): what recovery rebuilds from it.

A model writer takes checkpoints as streams.worker.write_behind does; the log it writes is
then cut short (a kill), compacted (as Kafka's cleaner may, at any point) and read back by
recovery in batches of any size. Recovery must give the state of the last whole checkpoint.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import msgspec
import rocksdict
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.engine.state import make_key
from streams.worker import changelog_frames
from streams.worker.changelog_frames import (
    DELTA,
    META_KEY,
    SNAPSHOT,
    Frame,
    LogMeta,
    Overlay,
    apply_record,
    checkpoint_frames,
    frame_key,
    frame_seq,
    is_frame_key,
    is_state_key,
)
from streams.worker.framed_store import RocksDBPartition, apply_frames

Record = tuple[bytes, bytes | None]
#: snapshots after a few hundred bytes of deltas, so that runs have several
SNAPSHOT_AFTER = 300
KEYS = [make_key(f"rep:r{i}", "h", 3600 * i) for i in range(12)]


class DictTarget:
    """A partition of a local store, as a dict (reserved keys included)."""

    def __init__(self) -> None:
        self.data: dict[bytes, bytes] = {}

    def get(self, key: bytes) -> bytes | None:
        return self.data.get(key)

    def put(self, key: bytes, value: bytes) -> None:
        self.data[key] = value

    def delete(self, key: bytes) -> None:
        self.data.pop(key, None)

    def state_keys(self) -> Iterable[bytes]:
        return [key for key in self.data if is_state_key(key)]

    def state(self) -> dict[bytes, bytes]:
        return {k: v for k, v in self.data.items() if is_state_key(k)}


def recover(
    log: list[Record], batch: int = 7, meta: LogMeta | None = None
) -> tuple[DictTarget, LogMeta]:
    """Read the log as Faust's recovery would: batches, each applied in one write."""
    target = DictTarget()
    meta = meta or LogMeta()
    for start in range(0, len(log), batch):
        overlay = Overlay(target)
        for key, value in log[start : start + batch]:
            apply_record(overlay, meta, key, value)
        for key, value in overlay.writes.items():
            if value is None:
                target.delete(key)
            else:
                target.put(key, value)
    return target, meta


class Writer:
    """The checkpoints of one partition, as streams.worker.write_behind takes them."""

    def __init__(self, state: dict[bytes, bytes] | None = None, meta: LogMeta | None = None):
        self.state = dict(state or {})
        self.meta = meta or LogMeta()
        self.log: list[Record] = []
        #: the state after each whole checkpoint (the first: before any)
        self.states: list[dict[bytes, bytes]] = [dict(self.state)]

    def checkpoint(self, writes: dict[bytes, bytes | None], keep: int | None = None) -> None:
        """Send one checkpoint; `keep`: only its first records reach Kafka, then a kill."""
        plan = checkpoint_frames(
            self.meta,
            writes,
            iter(self.state.items()),
            max_bytes=60,
            snapshot_min_bytes=SNAPSHOT_AFTER,
        )
        self.log += plan.records[:keep]
        if keep is not None and keep < len(plan.records):
            return  # killed: the local store and meta are not written
        for key, value in writes.items():
            if value is None:
                self.state.pop(key, None)
            else:
                self.state[key] = value
        self.meta = plan.meta
        self.states.append(dict(self.state))


def compact(log: list[Record], upto: int, drop_tombstones_before: int) -> list[Record]:
    """Kafka's cleaner over offsets below `upto`: a record goes when its key appears again
    below `upto`; tombstones below `drop_tombstones_before` (past delete.retention) go too."""
    last: dict[bytes, int] = {}
    for offset, (key, _) in enumerate(log[:upto]):
        last[key] = offset
    kept = []
    for offset, (key, value) in enumerate(log):
        if offset < upto and last[key] > offset:
            continue
        if offset < min(upto, drop_tombstones_before) and value is None:
            continue
        kept.append((key, value))
    return kept


writes_st = st.dictionaries(
    st.sampled_from(KEYS), st.one_of(st.none(), st.binary(min_size=1, max_size=30)), max_size=6
)


@settings(max_examples=300, deadline=None)
@given(
    checkpoints=st.lists(writes_st, min_size=1, max_size=25),
    batch=st.integers(1, 9),
    cut=st.floats(0, 1),
    tomb_cut=st.floats(0, 1),
)
def test_recovery_gives_the_last_checkpoint_however_the_log_was_compacted(
    checkpoints: list[dict[bytes, bytes | None]], batch: int, cut: float, tomb_cut: float
) -> None:
    writer = Writer()
    for writes in checkpoints:
        writer.checkpoint(writes)
    log = compact(writer.log, int(cut * len(writer.log)), int(tomb_cut * len(writer.log)))
    target, meta = recover(log, batch)
    assert target.state() == writer.state
    assert meta.next_seq == writer.meta.next_seq or not checkpoints
    # nothing is left waiting for the rest of a group
    assert not [k for k in target.data if k.startswith(changelog_frames.PENDING_PREFIX)]


@settings(max_examples=300, deadline=None)
@given(
    before=st.lists(writes_st, min_size=0, max_size=12),
    last=writes_st.filter(bool),
    keep=st.integers(0, 40),
    after=st.lists(writes_st, min_size=0, max_size=12),
    batch=st.integers(1, 9),
    cut=st.floats(0, 1),
)
def test_a_checkpoint_cut_short_is_all_or_nothing_and_the_next_owner_goes_on(
    before: list[dict[bytes, bytes | None]],
    last: dict[bytes, bytes | None],
    keep: int,
    after: list[dict[bytes, bytes | None]],
    batch: int,
    cut: float,
) -> None:
    writer = Writer()
    for writes in before:
        writer.checkpoint(writes)
    whole = writer.states[-1]
    writer.checkpoint(last, keep)
    target, meta = recover(writer.log, batch)
    # never a part of a checkpoint: the state before it, or after it if all of it arrived
    complete = len(writer.states) == len(before) + 2
    assert target.state() == (writer.states[-1] if complete else whole)
    # the next owner starts from what it recovered, and writes on the same log
    next_owner = Writer(target.state(), meta)
    next_owner.log = writer.log
    for writes in after:
        next_owner.checkpoint(writes)
    log = compact(next_owner.log, int(cut * len(next_owner.log)), int(cut * len(next_owner.log)))
    recovered, _ = recover(log, batch)
    assert recovered.state() == next_owner.state


def test_a_cut_checkpoint_recovers_exactly_the_previous_state() -> None:
    """A group of several frames of which the last never arrived is not applied."""
    writer = Writer()
    writer.checkpoint({KEYS[0]: b"a" * 20, KEYS[1]: b"b" * 20})
    writes: dict[bytes, bytes | None] = {KEYS[2]: b"c" * 40, KEYS[0]: None, KEYS[3]: b"d" * 40}
    plan = checkpoint_frames(writer.meta, writes, iter(writer.state.items()), max_bytes=60)
    assert len(plan.records) >= 2, "the group has several frames"
    for keep in range(len(plan.records)):
        target, _ = recover(writer.log + plan.records[:keep], batch=1)
        assert target.state() == writer.state, keep
    target, _ = recover(writer.log + plan.records, batch=1)
    assert target.state() == {KEYS[1]: b"b" * 20, KEYS[2]: b"c" * 40, KEYS[3]: b"d" * 40}


def test_snapshots_bound_the_log_once_compacted() -> None:
    """Many checkpoints rewriting the same few keys: the compacted log keeps the last
    snapshot and the deltas since, not every checkpoint."""
    writer = Writer()
    for n in range(400):
        writer.checkpoint({KEYS[n % 4]: bytes([n % 256]) * 20})
    frames = [k for k, v in writer.log if is_frame_key(k) and v is not None]
    log = compact(writer.log, len(writer.log), len(writer.log))
    live = [(k, v) for k, v in log if is_frame_key(k) and v is not None]
    assert len(frames) >= 400 and len(live) < 40, (len(frames), len(live))
    assert all(frame_seq(k) >= writer.meta.live_from for k, _ in live)
    kinds = {msgspec.msgpack.decode(v, type=Frame).kind for _, v in live}
    assert SNAPSHOT in kinds
    target, _ = recover(log)
    assert target.state() == writer.state


def test_records_of_the_version_before_frames_are_read_then_replaced() -> None:
    """An upgraded worker recovers plain per-key records, snapshots at its first checkpoint
    and tombstones them, so compaction removes them and they never come back."""
    old = {KEYS[0]: b"zero", KEYS[1]: b"one", KEYS[2]: b"two"}
    legacy: list[Record] = [(k, v) for k, v in old.items()] + [(KEYS[3], b"x"), (KEYS[3], None)]
    target, meta = recover(legacy)
    assert target.state() == old and meta.legacy
    writer = Writer(target.state(), meta)
    writer.log = list(legacy)
    writer.checkpoint({KEYS[1]: None, KEYS[4]: b"four"})
    assert not writer.meta.legacy
    plain_tombstones = {k for k, v in writer.log[len(legacy) :] if not is_frame_key(k)}
    assert {KEYS[0], KEYS[1], KEYS[2], KEYS[4]} <= plain_tombstones
    recovered, _ = recover(writer.log)
    assert recovered.state() == writer.state, "the tombstones after the snapshot are cleanup"
    for n in range(60):
        writer.checkpoint({KEYS[5 + n % 3]: bytes([n]) * 10})
    log = compact(writer.log, len(writer.log), len(writer.log))
    assert not [k for k, _ in log if not is_frame_key(k)], "no plain record left"
    recovered, _ = recover(log)
    assert recovered.state() == writer.state
    assert KEYS[1] not in recovered.state()
    # read before compaction, the plain records and their tombstones change nothing
    recovered, _ = recover(writer.log)
    assert recovered.state() == writer.state


def test_frame_keys_never_look_like_state_keys() -> None:
    assert not is_state_key(frame_key(0)) and not is_state_key(META_KEY)
    assert not is_state_key(b"__faust\0offset__")
    assert all(is_state_key(k) and not is_frame_key(k) for k in KEYS)
    assert frame_seq(frame_key(2**40 + 5)) == 2**40 + 5


def test_a_delta_is_written_until_snapshots_are_due() -> None:
    plan = checkpoint_frames(LogMeta(), {KEYS[0]: b"v"}, iter(()))
    ((_, value),) = plan.records
    frame = msgspec.msgpack.decode(value, type=Frame)
    assert frame.kind == DELTA and frame.parts == 1 and frame.ops == [(KEYS[0], b"v")]
    assert plan.meta.next_seq == 1 and plan.meta.delta_bytes == len(value)


def _messages(log: list[Record], partition: int) -> Iterator[object]:
    from types import SimpleNamespace

    from faust.types import TP

    for offset, (key, value) in enumerate(log):
        message = SimpleNamespace(
            key=key, value=value, partition=partition, offset=offset, tp=TP("cl", partition)
        )
        yield SimpleNamespace(message=message)


def test_rocksdb_partitions_recover_frames_with_their_meta_in_one_write(tmp_path: Path) -> None:
    writer = Writer()
    for n in range(40):
        writer.checkpoint({KEYS[n % 5]: bytes([n]) * 25, KEYS[(n + 2) % 7]: None})
    db = rocksdict.Rdict(str(tmp_path / "p3"), options=rocksdict.Options(raw_mode=True))
    persisted: dict[object, int] = {}
    partition = RocksDBPartition(db)
    messages = list(_messages(writer.log, 3))
    for start in range(0, len(messages), 5):
        apply_frames(messages[start : start + 5], lambda _: partition, persisted.__setitem__)
    assert dict(partition.state_items()) == writer.state
    assert partition.meta().next_seq == writer.meta.next_seq
    assert list(persisted.values()) == [len(messages) - 1]
    db.close()


def test_the_memory_store_recovers_frames_and_keeps_each_partition_apart() -> None:
    """memory:// recovers as RocksDB does: its state records in the dict Faust's table reads,
    its meta and pending frames beside it, per partition."""
    import faust

    from streams.worker.framed_store import FramedMemoryStore

    app = faust.App("frames-memory-test", store="memory://")
    store = FramedMemoryStore("memory://", app, app.Table("scopes", key_type=bytes))
    writers = {3: Writer(), 5: Writer()}
    for n in range(30):
        writers[3].checkpoint({KEYS[n % 5]: bytes([n]) * 25, KEYS[(n + 2) % 7]: None})
        writers[5].checkpoint({KEYS[7 + n % 4]: bytes([n]) * 30})  # keys of its own
    messages = [m for p, w in writers.items() for m in _messages(w.log, p)]
    for start in range(0, len(messages), 4):
        store.apply_changelog_batch(messages[start : start + 4], lambda k: k, lambda v: v)
    for p, writer in writers.items():
        assert dict(store.partition(p).state_items()) == writer.state
        assert store.partition(p).meta().next_seq == writer.meta.next_seq
    assert store.data == {**writers[3].state, **writers[5].state}


def test_records_larger_than_a_frame_are_reported_with_their_size() -> None:
    """A deal reported to many long account ids outgrew a frame: alone in its frame, it is a
    changelog record past what the topic may take, and the operator must learn which one
    (write_behind.say_oversized)."""
    big, small = KEYS[0], KEYS[1]
    writes: dict[bytes, bytes | None] = {big: b"x" * 100, small: b"y", KEYS[2]: None}
    plan = checkpoint_frames(LogMeta(), writes, iter(()), max_bytes=60)
    assert plan.oversized == [(big, len(big) + 100 + 8)]
    # a snapshot says every record of the state that is too large, not only the written ones
    due = LogMeta(delta_bytes=10**9)
    state = iter([(KEYS[3], b"z" * 100)])
    plan = checkpoint_frames(due, {small: b"y"}, state, max_bytes=60, snapshot_min_bytes=0)
    assert [key for key, _ in plan.oversized] == [KEYS[3]]
    assert checkpoint_frames(LogMeta(), {small: b"y"}, iter(())).oversized == []
