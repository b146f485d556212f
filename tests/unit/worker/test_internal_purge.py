"""Which folded records of the internal topic a purge deletes (streams.worker.internal_purge;
tests/integration/test_ingestion.py runs it against a broker)."""

from __future__ import annotations

import pytest

from streams.worker.internal_purge import InternalPurge, purge_due
from streams.worker.settings import Settings, SettingsError


def test_a_purge_deletes_where_the_committed_offset_moved_past_the_last_deletion() -> None:
    committed = {0: 10, 1: 4, 2: 0, 3: 7}
    deleted = {1: 4, 3: 5}
    # partition 1 did not move, partition 2 holds nothing folded
    assert purge_due(committed, deleted) == {0: 10, 3: 7}
    assert purge_due(committed, committed) == {}
    # a lower committed offset (another worker's older commit) never deletes less or more
    assert purge_due({0: 3}, {0: 10}) == {}


async def test_a_purge_without_partitions_asks_no_broker() -> None:
    purge = InternalPurge(Settings.from_env({"KAFKA_BOOTSTRAP": "127.0.0.1:1"}))
    assert await purge.run([]) == {}


def test_the_purge_interval_is_a_setting() -> None:
    assert Settings.from_env({}).internal_purge_interval == 30.0
    assert (
        Settings.from_env({"SALES_INTERNAL_PURGE_INTERVAL": "0.5"}).internal_purge_interval == 0.5
    )
    with pytest.raises(SettingsError, match=r"SALES_INTERNAL_PURGE_INTERVAL='0' must be >= 0\.1"):
        Settings.from_env({"SALES_INTERNAL_PURGE_INTERVAL": "0"})
