"""bench.store_memory runs both variants and shows the budget holding where Faust's own
options do not."""

from __future__ import annotations

import re

import pytest

from bench import store_memory


def _settled_memtables(out: str, variant: str) -> int:
    (found,) = re.findall(rf"{variant}: flushed: memtables ([\d,]+) MiB", out)
    return int(found.replace(",", ""))


def test_the_store_memory_bench_reports_both_variants(capsys: pytest.CaptureFixture[str]) -> None:
    for variant in ("faust", "budget"):
        store_memory.write(variant, partitions=2, mib=60, budget_mib=8)
    out = capsys.readouterr().out
    assert _settled_memtables(out, "faust") > 16, out
    assert _settled_memtables(out, "budget") <= 8, out
