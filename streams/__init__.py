"""salespulse: live sales activity and sales performance from Kafka streams."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

__version__ = "0.1.0"

#: written by the build (setup.py) when it compiled the fold with mypyc: source -> sha256
_COMPILED = Path(__file__).with_name("compiled.json")


class StaleCompiledModule(ImportError):
    """A module's compiled copy was built from another version of its source."""


def stale_compiled_sources(manifest: Path = _COMPILED) -> list[str]:
    """The compiled modules whose source changed since the build (Python would import the
    compiled copy, not the source: an edit would silently not run)."""
    if not manifest.exists():
        return []
    root = manifest.parent.parent
    built: dict[str, str] = json.loads(manifest.read_text())
    stale = []
    for source, digest in sorted(built.items()):
        path = root / source
        compiled = list(path.parent.glob(path.stem + ".*.so")) + list(
            path.parent.glob(path.stem + ".*.pyd")
        )
        if compiled and hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            stale.append(source)
    return stale


def _refuse_stale_compiled(manifest: Path = _COMPILED) -> None:
    stale = stale_compiled_sources(manifest)
    if stale:
        raise StaleCompiledModule(
            f"{', '.join(stale)} changed since the fold was compiled, so Python would run "
            "the old compiled code: run `make compile` (or `python setup.py build_ext "
            "--inplace`), or delete the .so files next to them to run the sources"
        )


def fold_is_compiled() -> bool:
    """Does the fold run as the C extension setup.py builds with mypyc (not as Python)?"""
    from streams.engine import processor

    return not str(processor.__file__).endswith(".py")


_refuse_stale_compiled()
