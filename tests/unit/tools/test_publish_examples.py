"""The walkthrough's `publish` example files (docs/examples) give what the README shows.

Why: the README ran `salespulse publish crm.jsonl dialer.csv` on files the repository did not
have, so a reader could not run it as written.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from tests.unit.tools.test_cli import run_cli

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "docs" / "examples"
README = (ROOT / "README.md").read_text()


@pytest.fixture
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The two files copied into the working directory, as the README tells the reader."""
    monkeypatch.setenv("KAFKA_BOOTSTRAP", "127.0.0.1:1")  # a dry run never contacts Kafka
    monkeypatch.chdir(tmp_path)
    for name in ("crm.jsonl", "dialer.csv"):
        shutil.copy(EXAMPLES / name, tmp_path / name)
    return tmp_path


def readme_console(command: str) -> list[str]:
    """The output lines of the README's first console block that runs `command`."""
    block = README.split(f"$ {command}\n", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line and not line.startswith("(exit")]


def test_the_example_files_fail_with_the_readmes_two_errors(
    files: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(["publish", "--dry-run", "crm.jsonl", "dialer.csv"]) == 1
    errors = capsys.readouterr().err.splitlines()
    shown = readme_console("salespulse publish crm.jsonl dialer.csv")
    assert errors[:2] == shown[:2]
    assert "2 of 8 records are invalid" in shown[2]
    assert "6 valid records" in errors[2] and "2 invalid" in errors[2]


def test_fixed_as_the_readme_says_they_are_the_eight_records_it_sends(
    files: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    crm = files / "crm.jsonl"
    crm.write_text(crm.read_text().replace('"won","currency"', '"won","amount":12000,"currency"'))
    dialer = files / "dialer.csv"
    dialer.write_text(dialer.read_text().replace(",visit,", ",meeting,"))
    assert run_cli(["publish", "--dry-run", "crm.jsonl", "dialer.csv"]) == 0
    out = capsys.readouterr()
    counts = re.search(r"8 valid records \(([^)]*)\)", out.out + out.err)
    assert counts is not None, out
    assert f"sent 8 records ({counts.group(1)}) to Kafka" in README
