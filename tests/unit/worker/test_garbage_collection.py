"""The worker's collector settings: rare collections, the rebuilt state left out of them."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import msgspec
import pytest

from streams.domain import events, satisfaction
from streams.engine import items, state
from streams.worker import garbage_collection


@pytest.fixture(autouse=True)
def restore_collector() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def test_collections_are_rare_and_middle_ones_short() -> None:
    garbage_collection.tune_collector()
    young, middle, old = gc.get_threshold()
    assert young >= 50_000  # allocations per young collection
    assert young * middle <= 250_000  # what a middle collection walks at most: its pause
    assert young * middle * old >= 100_000_000  # allocations per full collection


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


def test_freezing_collects_dropped_cycles_then_leaves_live_objects_out() -> None:
    gc.unfreeze()
    live = [Node() for _ in range(1_000)]
    a, b = Node(), Node()
    a.other, b.other = b, a
    dropped = weakref.ref(a)
    del a, b
    before = gc.get_freeze_count()
    garbage_collection.freeze_long_lived()
    assert dropped() is None, "the cycle dropped before the freeze was collected"
    assert gc.get_freeze_count() >= before + len(live)
    assert all(not gc.is_finalized(node) for node in live)


def test_a_second_freeze_first_collects_what_the_first_froze() -> None:
    gc.unfreeze()
    a, b = Node(), Node()
    a.other, b.other = b, a
    dropped = weakref.ref(a)
    garbage_collection.freeze_long_lived()  # the cycle is alive: frozen
    del a, b
    gc.collect()
    assert dropped() is not None, "a frozen cycle is out of collections"
    garbage_collection.freeze_long_lived()
    assert dropped() is None


def test_state_records_items_and_events_are_not_tracked_by_the_collector() -> None:
    """Every Struct the fold builds per event is left out of the collector's counts and
    scans (``gc=False``); a Struct class added without it shows up here."""
    structs = [
        cls
        for module in (state, items, satisfaction, events)
        for cls in vars(module).values()
        if isinstance(cls, type)
        and issubclass(cls, msgspec.Struct)
        and cls.__module__ == module.__name__
    ]
    assert len(structs) >= 20
    tracked = [cls.__name__ for cls in structs if cls.__struct_config__.gc]
    assert tracked == []
    # an instance holding containers is still untracked (its lists and dicts are not)
    record = state.HourRecord(ids=["a:1"], parts={"t1": items.HourCounts({"call": 1})})
    assert not gc.is_tracked(record)


def test_no_collection_runs_while_a_batch_is_handled_and_the_collector_comes_back() -> None:
    collections: list[int] = []

    def count(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            collections.append(info["generation"])

    gc.callbacks.append(count)
    try:
        with garbage_collection.collections_held():
            assert not gc.isenabled()
            # far more allocations than a young collection waits for
            kept = [[i] for i in range(3 * gc.get_threshold()[0])]
            assert collections == []
        assert gc.isenabled()
        with pytest.raises(ValueError), garbage_collection.collections_held():
            raise ValueError("a batch that failed")
        assert gc.isenabled()
        gc.disable()
        with garbage_collection.collections_held():
            pass
        assert not gc.isenabled()  # a collector that was off stays off
    finally:
        gc.enable()
        gc.callbacks.remove(count)
    assert len(kept) == 3 * gc.get_threshold()[0]
