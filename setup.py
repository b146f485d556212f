"""Build hook: the fold's pure modules compiled to C with mypyc; everything else is in
pyproject.toml.

Why: the fold is the worker's hot path (issue 9), and mypyc compiles the same typed source
the tests and mypy read, with no second implementation to keep in step. The compiled
modules are the pure ones of streams/engine and streams/domain, minus those that define
msgspec Structs (their class options must stay as msgspec reads them). The build falls back
to pure Python, with a warning, when there is no C compiler or SALES_COMPILE=0; the
package behaves the same either way, only slower.

An in-place build (`make compile`, an editable install) records each compiled module's
source hash in streams/compiled.json: streams/__init__.py refuses to import a compiled
module whose source changed since. A wheel needs no such record (its sources and compiled
modules come from one build) and has none: build_py copies package data before build_ext.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import sysconfig
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent
MANIFEST = ROOT / "streams" / "compiled.json"
#: modules that define msgspec Structs (or classes mypyc cannot compile natively) stay Python
PURE = {
    "streams/domain/checked_events.py",
    "streams/domain/events.py",
    "streams/domain/money.py",
    "streams/domain/satisfaction.py",
    "streams/engine/items.py",
    "streams/engine/state.py",
}


def compiled_sources() -> list[str]:
    found = sorted(
        path.relative_to(ROOT).as_posix()
        for package in ("streams/domain", "streams/engine")
        for path in (ROOT / package).glob("*.py")
        if path.name != "__init__.py"
    )
    return [path for path in found if path not in PURE]


def can_compile() -> str | None:
    """Why the build stays pure Python, or None when it can compile."""
    if os.environ.get("SALES_COMPILE", "1") == "0":
        return "SALES_COMPILE=0"
    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(compiler) is None:
        return f"no C compiler ({compiler!r} is not on PATH)"
    return None


def drop_compiled(sources: list[str]) -> None:
    """Remove an earlier in-place build: until this one has succeeded, the sources run, never
    compiled copies of other versions of them."""
    MANIFEST.unlink(missing_ok=True)
    for path in ["streams/fold__mypyc.py", *sources]:
        for built in (ROOT / path).parent.glob(Path(path).stem + ".*.so"):
            built.unlink()


def extensions(sources: list[str]) -> list[Extension]:
    drop_compiled(sources)
    reason = can_compile()
    if reason is not None:
        print(f"salespulse: the fold stays pure Python: {reason}", file=sys.stderr)
        return []
    from mypyc.build import mypycify

    return list(mypycify(sources, group_name="streams.fold"))


class BuildFold(build_ext):
    """build_ext that records the hashes of the sources it compiled, once it succeeded."""

    sources: list[str] = []

    def run(self) -> None:
        super().run()
        if self.extensions:
            digests = {p: hashlib.sha256((ROOT / p).read_bytes()).hexdigest() for p in self.sources}
            MANIFEST.write_text(json.dumps(digests, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":  # as pip and setuptools run it; tests import the functions
    BuildFold.sources = compiled_sources()
    setup(ext_modules=extensions(BuildFold.sources), cmdclass={"build_ext": BuildFold})
