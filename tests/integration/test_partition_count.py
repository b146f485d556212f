"""The app's state topics keep the partition count they were created with: a worker whose
SALES_TOPIC_PARTITIONS differs refuses to start and says which count to set, instead of
looking for every scope on the wrong partition (it used to stop on each batch with
"AssertionError: Unrecognized partition")."""

from __future__ import annotations

import pytest

from streams.worker.settings import Settings
from streams.worker.topics import changelog_topic
from tests.support.topics import create_topic
from tests.support.workers import Cluster, Worker, eventually


@pytest.mark.parametrize("which", ["internal topic", "changelog"])
async def test_a_worker_refuses_another_partition_count(cluster: Cluster, which: str) -> None:
    env = cluster.env(6066)  # only its app id and topic names are read here
    name = (
        cluster.topic("scopes")
        if which == "internal topic"
        else changelog_topic(Settings.from_env(env))
    )
    await create_topic(name, 4, bootstrap_servers=cluster.bootstrap)

    worker = cluster.start_worker()  # SALES_TOPIC_PARTITIONS: 8, the default

    async def stopped(w: Worker = worker) -> None:
        assert not w.alive(), w.log_tail()

    await eventually(stopped, timeout=60)
    assert worker.process is not None and worker.process.returncode not in (0, None)
    log = worker.log_tail()
    assert f"{name} has 4 partitions, but SALES_TOPIC_PARTITIONS is 8" in log, log
    assert "set SALES_TOPIC_PARTITIONS=4" in log, log
