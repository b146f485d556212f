"""bench.retention_state runs and measures a cut that deletes what lies before the horizon."""

from __future__ import annotations

import re

import pytest

from bench import retention_state


def test_the_retention_bench_reports_a_smaller_state(capsys: pytest.CaptureFixture[str]) -> None:
    retention_state.main(["6", "2", "250", "100"])  # the horizon is at most 192 days back
    out = capsys.readouterr().out
    before, after = (int(n.replace(",", "")) for n in re.findall(r"table ([\d,]+) records", out))
    deleted = int(re.findall(r"Tick deleted ([\d,]+) records", out)[0].replace(",", ""))
    assert deleted > 0 and after == before - deleted, out
