"""The scopes table's changelog as frames: a checkpoint's records of one partition travel as
a few large changelog records, not one record each.

One record per state key and checkpoint made 3.3 changelog records per input event on wide
data (most keys an event touches are new: an hour, a day, a member in four periods), each a
producer append, a broker record and, on recovery, one trip through Faust's per-record path.
Here a checkpoint writes, per partition, one *group* of frames (usually one frame) holding
all its puts and deletes in write order.

- **Groups are atomic.** A group is applied when its last frame arrives; a group cut short by
  a kill is never applied, so recovery sees the state of a whole checkpoint or of the one
  before (the per-key log could show part of one, in an order no batch wrote).
- **Snapshots bound the log.** Once the deltas since the last snapshot outweigh twice its
  size (at least SNAPSHOT_MIN_BYTES), the checkpoint writes the partition's whole state as a
  snapshot group instead. Applying a snapshot replaces the partition's state. The next
  checkpoint tombstones every frame before the snapshot, so compaction removes them: the log
  stays within about three times the state, and records of the version before frames (plain
  per-key records, `legacy`) are ignored once a snapshot was applied.
- Local-store keys that are not state records start with a zero byte (state keys are msgpack
  arrays), and so do the frames' changelog keys.

Pure logic: the Faust stores (streams.worker.framed_store) and the checkpoint
(streams.worker.write_behind) call it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Protocol

import msgspec

#: changelog key of a frame: this prefix, then its sequence number (8 bytes, big-endian)
FRAME_PREFIX = b"\x00f"
#: local-store key of a frame waiting for the rest of its group: this prefix, then its seq
PENDING_PREFIX = b"\x00p"
#: local-store key of the partition's LogMeta
META_KEY = b"\x00meta"

DELTA = 0
SNAPSHOT = 1

#: payload bytes per frame: well below Kafka's default 1 MiB message limit
FRAME_BYTES = 512 * 1024
#: deltas are written until they outweigh max(this, twice the last snapshot)
SNAPSHOT_MIN_BYTES = 8 * 1024 * 1024
#: what a put or delete costs in a frame besides its key and value (msgpack headers)
_OP_OVERHEAD = 8

Op = tuple[bytes, bytes | None]


class Frame(msgspec.Struct, array_like=True):
    kind: int
    #: seq of the group's first frame
    group: int
    #: frames in the group
    parts: int
    #: puts and deletes (value None), in write order
    ops: list[tuple[bytes, bytes | None]]


class LogMeta(msgspec.Struct, array_like=True):
    """Where a partition's changelog stands, kept with its state in the local store."""

    #: seq of the next frame to write
    next_seq: int = 0
    #: frames below this are tombstoned
    live_from: int = 0
    #: frames below this are replaced by a delivered snapshot: the next checkpoint
    #: tombstones them
    retire_below: int = 0
    #: payload bytes of the last snapshot, and of the deltas since
    snapshot_bytes: int = 0
    delta_bytes: int = 0
    #: plain per-key records (written before frames) were applied and no snapshot since
    legacy: bool = False
    #: a snapshot was applied: plain records seen after it are cleanup tombstones
    snapshotted: bool = False


_frame_decoder = msgspec.msgpack.Decoder(Frame)
_meta_decoder = msgspec.msgpack.Decoder(LogMeta)
_encoder = msgspec.msgpack.Encoder()


def frame_key(seq: int) -> bytes:
    return FRAME_PREFIX + seq.to_bytes(8, "big")


def frame_seq(key: bytes) -> int:
    return int.from_bytes(key[len(FRAME_PREFIX) :], "big")


def is_frame_key(key: bytes) -> bool:
    return key.startswith(FRAME_PREFIX)


def is_state_key(key: bytes) -> bool:
    """A state record's key (a msgpack array), not a frame, meta or Faust's offset key."""
    return bool(key) and (0x90 <= key[0] <= 0x9F or key[0] in (0xDC, 0xDD))


def encode_meta(meta: LogMeta) -> bytes:
    return _encoder.encode(meta)


def decode_meta(raw: bytes | None) -> LogMeta:
    return _meta_decoder.decode(raw) if raw else LogMeta()


def _chunks(
    ops: Iterable[Op], max_bytes: int, oversized: list[tuple[bytes, int]] | None = None
) -> Iterator[list[Op]]:
    """`oversized` collects (key, size) of each op larger than a frame: alone in its frame."""
    chunk: list[Op] = []
    size = 0
    for key, value in ops:
        op_size = len(key) + (len(value) if value is not None else 0) + _OP_OVERHEAD
        if op_size > max_bytes and oversized is not None:
            oversized.append((key, op_size))
        if chunk and size + op_size > max_bytes:
            yield chunk
            chunk, size = [], 0
        chunk.append((key, value))
        size += op_size
    yield chunk  # a group has at least one frame, even an empty snapshot


def group_frames(
    kind: int,
    first_seq: int,
    ops: Iterable[Op],
    max_bytes: int = FRAME_BYTES,
    oversized: list[tuple[bytes, int]] | None = None,
) -> list[tuple[bytes, bytes]]:
    """The changelog records (key, value) of one group starting at `first_seq`."""
    chunks = list(_chunks(ops, max_bytes, oversized))
    parts = len(chunks)
    return [
        (frame_key(first_seq + i), _encoder.encode(Frame(kind, first_seq, parts, chunk)))
        for i, chunk in enumerate(chunks)
    ]


def payload_bytes(records: list[tuple[bytes, bytes]]) -> int:
    return sum(len(value) for _, value in records)


def snapshot_due(meta: LogMeta, delta_bytes: int, min_bytes: int = SNAPSHOT_MIN_BYTES) -> bool:
    """Write a snapshot instead of this delta? (Always right after an upgrade: it lets the
    plain records of the earlier version be tombstoned.)"""
    if meta.legacy:
        return True
    return meta.delta_bytes + delta_bytes > max(min_bytes, 2 * meta.snapshot_bytes)


class Writable(Protocol):
    """Anything that takes puts and deletes: a store partition, a RocksDB WriteBatch."""

    def put(self, key: bytes, value: bytes) -> None: ...

    def delete(self, key: bytes) -> None: ...


class PartitionTarget(Writable, Protocol):
    """One partition of a local store, as recovery writes it."""

    def get(self, key: bytes) -> bytes | None: ...

    def state_keys(self) -> Iterable[bytes]: ...


def apply_ops(target: Writable, ops: Iterable[Op]) -> None:
    """Puts, and deletes where the value is None, in order."""
    for key, value in ops:
        if value is None:
            target.delete(key)
        else:
            target.put(key, value)


def apply_record(target: PartitionTarget, meta: LogMeta, key: bytes, value: bytes | None) -> None:
    """Apply one changelog record to a partition's store on recovery; updates `meta`."""
    if not is_frame_key(key):
        if meta.snapshotted:
            return  # a cleanup tombstone of a record from before frames
        meta.legacy = True
        apply_ops(target, [(key, value)])
        return
    seq = frame_seq(key)
    if value is None:  # tombstones come in ascending order
        meta.live_from = max(meta.live_from, seq + 1)
        target.delete(PENDING_PREFIX + key[len(FRAME_PREFIX) :])
        return
    meta.next_seq = max(meta.next_seq, seq + 1)
    frame = _frame_decoder.decode(value)
    if frame.parts == 1:
        _apply_group(target, meta, frame.kind, [frame], len(value))
        return
    target.put(_pending_key(seq), value)
    if seq != frame.group + frame.parts - 1:
        return
    raws = [target.get(_pending_key(s)) for s in range(frame.group, seq + 1)]
    for s in range(frame.group, seq + 1):
        target.delete(_pending_key(s))
    if any(raw is None for raw in raws):
        return  # the group's first frames were cut short: never applied
    frames = [_frame_decoder.decode(raw) for raw in raws if raw is not None]
    if any(f.group != frame.group for f in frames):
        return  # frames of another group under these seqs: an older, unfinished write
    _apply_group(target, meta, frame.kind, frames, sum(len(raw or b"") for raw in raws))


def _pending_key(seq: int) -> bytes:
    return PENDING_PREFIX + seq.to_bytes(8, "big")


def _apply_group(
    target: PartitionTarget, meta: LogMeta, kind: int, frames: list[Frame], size: int
) -> None:
    if kind == SNAPSHOT:
        kept = {key for frame in frames for key, _ in frame.ops}
        for key in [key for key in target.state_keys() if key not in kept]:
            target.delete(key)
        meta.snapshot_bytes = size
        meta.delta_bytes = 0
        meta.snapshotted = True
        meta.legacy = False
    else:
        meta.delta_bytes += size
    for frame in frames:
        apply_ops(target, frame.ops)


class Overlay:
    """A PartitionTarget over a store partition's reads, collecting the writes of one
    recovery batch so they land in one write (a WriteBatch) with the meta."""

    def __init__(self, read: PartitionTarget) -> None:
        self.read = read
        #: key -> new value (None: deleted), in write order
        self.writes: dict[bytes, bytes | None] = {}

    def get(self, key: bytes) -> bytes | None:
        if key in self.writes:
            return self.writes[key]
        return self.read.get(key)

    def put(self, key: bytes, value: bytes) -> None:
        self.writes[key] = value

    def delete(self, key: bytes) -> None:
        self.writes[key] = None

    def state_keys(self) -> Iterable[bytes]:
        stored = (key for key in self.read.state_keys() if key not in self.writes)
        written = [key for key, value in self.writes.items() if value is not None]
        return [*stored, *(key for key in written if is_state_key(key))]


class CheckpointFrames(msgspec.Struct):
    """What one checkpoint sends for one partition, and the meta once it is delivered."""

    records: list[tuple[bytes, bytes | None]]
    meta: LogMeta
    #: (state key, bytes) of each record larger than a frame: each goes alone, in a changelog
    #: record its topic's max.message.bytes must take (said to the operator: write_behind)
    oversized: list[tuple[bytes, int]] = []


def checkpoint_frames(
    meta: LogMeta,
    writes: dict[bytes, bytes | None],
    state: Iterable[tuple[bytes, bytes]],
    max_bytes: int = FRAME_BYTES,
    snapshot_min_bytes: int = SNAPSHOT_MIN_BYTES,
) -> CheckpointFrames:
    """The changelog records of one partition's checkpoint.

    `state` is the partition's state before `writes` (read only when a snapshot is due).
    Tombstones of frames a delivered snapshot replaced go first; then the delta group, or,
    when one is due, a snapshot of the state with `writes` applied. After the first
    snapshot of an upgraded partition come tombstones for every plain record it may hold.
    """
    records: list[tuple[bytes, bytes | None]] = []
    oversized: list[tuple[bytes, int]] = []
    new = msgspec.structs.replace(meta)
    if meta.retire_below > meta.live_from:
        records += [(frame_key(s), None) for s in range(meta.live_from, meta.retire_below)]
        new.live_from = meta.retire_below
    seq = meta.next_seq
    delta = group_frames(DELTA, seq, writes.items(), max_bytes, oversized)
    delta_bytes = payload_bytes(delta)
    if not snapshot_due(meta, delta_bytes, snapshot_min_bytes):
        records += delta
        new.next_seq = seq + len(delta)
        new.delta_bytes = meta.delta_bytes + delta_bytes
        return CheckpointFrames(records, new, oversized)
    merged = dict(state)
    for key, value in writes.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    oversized.clear()  # the snapshot holds every record: it says them all
    snapshot = group_frames(SNAPSHOT, seq, merged.items(), max_bytes, oversized)
    records += snapshot
    if meta.legacy:
        deleted = [key for key, value in writes.items() if value is None]
        records += [(key, None) for key in [*merged, *deleted]]
    new.next_seq = seq + len(snapshot)
    new.retire_below = seq
    new.snapshot_bytes = payload_bytes(snapshot)
    new.delta_bytes = 0
    new.legacy = False
    new.snapshotted = True
    return CheckpointFrames(records, new, oversized)
