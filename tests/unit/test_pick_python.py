"""`.ci/pick-python.sh`, which chooses the interpreter `make install` makes the venv with:
fake interpreters answer its probe, so each rule is exercised whatever this machine has."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / ".ci" / "pick-python.sh"


def fake_python(path: Path, probe_answer: str | None) -> Path:
    """An executable that reads the probe from stdin and prints `probe_answer` (or fails)."""
    body = f'echo "{probe_answer}"' if probe_answer is not None else "exit 1"
    path.write_text(f"#!/bin/sh\ncat >/dev/null\n{body}\n")
    path.chmod(0o755)
    return path


def run_picker(bindir: Path, candidates: list[str]) -> tuple[str, str]:
    """The script's choice and its `--explain`, with `bindir` (holding a `python3`) first on
    PATH and only `candidates` tried besides."""
    env = {
        **os.environ,
        "PATH": f"{bindir}:{os.environ['PATH']}",
        "PICK_PYTHON_CANDIDATES": " ".join(candidates),
    }
    done = subprocess.run(
        ["bash", str(SCRIPT), "--explain"], env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip(), done.stderr


def pick(tmp_path: Path, default: str | None, *candidates: str | None) -> tuple[str, str]:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    fake_python(bindir / "python3", default)
    paths = [
        str(fake_python(tmp_path / f"candidate{i}", answer)) for i, answer in enumerate(candidates)
    ]
    return run_picker(bindir, paths)


@pytest.mark.parametrize(
    ("default", "candidates", "chosen"),
    [
        # python3 links libpython in: nothing to gain
        ("3.11 linked ok", ["3.11 linked ok"], "python3"),
        # python3 is a shared-library build: the first linked-in build of its version wins
        ("3.11 shared ok", ["3.11 shared ok", "3.11 linked ok", "3.11 linked ok"], "candidate1"),
        # never another version, nor a build that could not make the venv or the fold
        ("3.11 shared ok", ["3.12 linked ok"], "python3"),
        ("3.11 shared ok", ["3.11 linked no-Python.h"], "python3"),
        ("3.11 shared ok", ["3.11 linked no-venv,no-ensurepip"], "python3"),
        ("3.11 shared ok", [None], "python3"),
        # no other candidate at all
        ("3.11 shared ok", [], "python3"),
        # python3 that does not run: make reports it, not the picker
        (None, ["3.11 linked ok"], "python3"),
    ],
)
def test_pick_prefers_a_linked_in_build_of_the_same_version(
    tmp_path: Path, default: str | None, candidates: list[str | None], chosen: str
) -> None:
    out, why = pick(tmp_path, default, *candidates)
    assert out == (chosen if chosen == "python3" else str(tmp_path / chosen))
    assert why.startswith("pick-python: ")


def test_probe_reads_this_interpreter(tmp_path: Path) -> None:
    """The real probe, run by this test's interpreter as `python3`: its version, and a
    linking that /proc/self/maps shows."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "python3").symlink_to(sys.executable)
    out, why = run_picker(bindir, [])
    assert out == "python3"
    shared = "libpython" in Path("/proc/self/maps").read_text()
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    if shared:
        assert f"no other python{version} links libpython in" in why
    else:
        assert f"python3 ({version}) links libpython in (linked)" in why
