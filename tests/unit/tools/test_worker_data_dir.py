"""The worker's data dir holds the local state of one app id on one Kafka cluster: another's
is discarded at start (Faust stopped on its changelog offsets), its own is kept."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import pytest

from streams.tools.commands import worker
from streams.worker.settings import Settings


def settings(tmp_path: Path, app_id: str = "sales-a", cluster: str | None = "c1") -> Settings:
    base = Settings.from_env({"SALES_DATA_DIR": str(tmp_path / "w"), "SALES_APP_ID": app_id})
    return replace(base, kafka_cluster_id=cluster)


def started_and_stopped(s: Settings) -> Path:
    """A start, some local state, a clean stop (the marker removed)."""
    marker = worker._prepare_data_dir(s)
    (s.data_dir / "tables").mkdir(exist_ok=True)
    (s.data_dir / "tables" / "scopes-0.db").write_text("state")
    marker.unlink()
    return s.data_dir / "tables" / "scopes-0.db"


def test_the_same_app_on_the_same_cluster_keeps_its_state(tmp_path: Path) -> None:
    state = started_and_stopped(settings(tmp_path))
    worker._prepare_data_dir(settings(tmp_path))
    assert state.read_text() == "state"


@pytest.mark.parametrize(("app_id", "cluster"), [("sales-b", "c1"), ("sales-a", "c2")])
def test_another_app_or_cluster_discards_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, app_id: str, cluster: str
) -> None:
    state = started_and_stopped(settings(tmp_path))
    with caplog.at_level(logging.WARNING):
        marker = worker._prepare_data_dir(settings(tmp_path, app_id, cluster))
    assert not state.exists() and marker.exists()
    assert '"app_id":"sales-a","kafka_cluster":"c1"' in caplog.text, caplog.text
    assert "restored from the changelog" in caplog.text


def test_a_data_dir_of_an_earlier_version_keeps_its_state(tmp_path: Path) -> None:
    state = started_and_stopped(settings(tmp_path))
    (tmp_path / "w" / worker.OWNER_FILE).unlink()  # versions before 2026-12-06 wrote none
    worker._prepare_data_dir(settings(tmp_path))
    assert state.read_text() == "state"
    assert (tmp_path / "w" / worker.OWNER_FILE).exists()


def test_a_killed_worker_not_yet_reaped_does_not_hold_the_data_dir(tmp_path: Path) -> None:
    """A zombie answers kill(pid, 0): the data dir stayed "in use" until its parent reaped it."""
    import subprocess
    import sys
    import time

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.monotonic() + 10
    while Path(f"/proc/{child.pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z":
        assert time.monotonic() < deadline, "the child did not exit"
        time.sleep(0.01)
    try:
        s = settings(tmp_path)
        s.data_dir.mkdir(parents=True)
        (s.data_dir / worker.RUNNING_MARKER).write_text(str(child.pid))
        worker._prepare_data_dir(s)  # the marker of a dead worker: its state is discarded
        assert (s.data_dir / worker.RUNNING_MARKER).read_text() != str(child.pid)
    finally:
        child.wait()
