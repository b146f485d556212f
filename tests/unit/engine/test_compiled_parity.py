"""The compiled fold answers exactly what its source does, down to the JSON types.

mypyc keeps Python's semantics but for a few documented corners: a value typed `float`
becomes a native float, so a count that passes a `float | int` annotation comes out `2.0`
(the leaderboard did, and only a check of JSON text sees it: `2 == 2.0`). The scenario runs
in two interpreters, one importing the compiled modules and one their sources."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import streams

ROOT = Path(__file__).resolve().parents[3]


def _run(*args: str) -> bytes:
    done = subprocess.run(
        [sys.executable, "-m", "tests.unit.engine.fold_output", *args],
        cwd=ROOT,
        capture_output=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout


def test_compiled_and_source_modules_give_the_same_json() -> None:
    compiled, pure = _run(), _run("--pure")
    as_built, as_source = json.loads(compiled), json.loads(pure)
    assert as_source.pop("compiled") is False
    # `make test` builds the fold (test_compiled_fold checks it), so both sides are exercised
    built = Path(streams.__file__).with_name("compiled.json").exists()
    assert as_built.pop("compiled") is built
    assert as_built["alerts"] and as_built["deadletters"] and as_built["duplicates"]
    assert len(as_built["shown"]) > 100
    for name in sorted(as_built):  # name the first part that differs, then the whole
        left = json.dumps(as_built[name], sort_keys=True)
        right = json.dumps(as_source.get(name), sort_keys=True)
        assert left == right, f"{name}: compiled {left[:300]} != source {right[:300]}"
    assert as_built.keys() == as_source.keys()
