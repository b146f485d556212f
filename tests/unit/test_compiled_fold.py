"""The fold compiled with mypyc (setup.py): what is compiled, that it is what runs, and that
an edited source never runs as its old compiled copy."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import logging
import os
from pathlib import Path

import msgspec
import pytest

import streams
from streams import StaleCompiledModule, stale_compiled_sources
from streams.tools.commands import worker

ROOT = Path(__file__).resolve().parents[2]


def _setup_module() -> object:
    spec = importlib.util.spec_from_file_location("salespulse_setup", ROOT / "setup.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # not as __main__: nothing is built
    return module


def _module_name(source: str) -> str:
    return source.removesuffix(".py").replace("/", ".")


def test_the_build_compiles_the_pure_modules_of_engine_and_domain_and_no_struct_module() -> None:
    setup = _setup_module()
    sources = setup.compiled_sources()  # type: ignore[attr-defined]
    assert "streams/engine/processor.py" in sources
    assert "streams/engine/rollups.py" in sources
    assert "streams/domain/periods.py" in sources
    for source in sources:
        module = importlib.import_module(_module_name(source))
        structs = [
            name
            for name, value in vars(module).items()
            if isinstance(value, type)
            and issubclass(value, msgspec.Struct)
            and value.__module__ == module.__name__
        ]
        # mypyc compiles a class body its own way: msgspec's options (gc=False, array_like)
        # are lost, so modules with Structs must be listed in setup.PURE
        assert structs == [], f"{source} defines msgspec Structs: add it to setup.PURE"
        assert not any(part in source for part in ("/worker/", "/tools/"))


def test_what_make_built_is_what_runs() -> None:
    """`make test` compiles the fold (SALES_COMPILE=0 builds it pure): every compiled module
    is imported from its compiled copy, built from the source as it is now."""
    manifest = Path(streams.__file__).with_name("compiled.json")
    if os.environ.get("SALES_COMPILE") == "0":
        assert not manifest.exists()
        assert not streams.fold_is_compiled()
        return
    assert manifest.exists(), "the fold is not compiled: run `make compile` (needs a C compiler)"
    built = json.loads(manifest.read_text())
    assert sorted(built) == _setup_module().compiled_sources()  # type: ignore[attr-defined]
    for source, digest in built.items():
        module = importlib.import_module(_module_name(source))
        assert module.__file__ is not None and module.__file__.endswith(".so"), source
        assert hashlib.sha256((ROOT / source).read_bytes()).hexdigest() == digest
    assert stale_compiled_sources() == []
    assert streams.fold_is_compiled()


def _package(tmp_path: Path, *, compiled: bool) -> tuple[Path, Path]:
    package = tmp_path / "streams"
    (package / "engine").mkdir(parents=True)
    source = package / "engine" / "rollups.py"
    source.write_text("X = 1\n")
    if compiled:
        (package / "engine" / "rollups.cpython-311-x86_64-linux-gnu.so").write_bytes(b"\x7fELF")
    manifest = package / "compiled.json"
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    manifest.write_text(json.dumps({"streams/engine/rollups.py": digest}))
    return manifest, source


def test_a_source_edited_after_the_build_is_stale(tmp_path: Path) -> None:
    manifest, source = _package(tmp_path, compiled=True)
    assert stale_compiled_sources(manifest) == []
    source.write_text("X = 2\n")
    assert stale_compiled_sources(manifest) == ["streams/engine/rollups.py"]


def test_a_source_without_a_compiled_copy_is_never_stale(tmp_path: Path) -> None:
    """Edited sources with no compiled copy run as they are: nothing to refuse."""
    manifest, source = _package(tmp_path, compiled=False)
    source.write_text("X = 2\n")
    assert stale_compiled_sources(manifest) == []
    assert stale_compiled_sources(tmp_path / "missing.json") == []


def test_importing_the_package_refuses_a_stale_compiled_module(tmp_path: Path) -> None:
    """The refusal names the module and the command that rebuilds it."""
    manifest, source = _package(tmp_path, compiled=True)
    source.write_text("X = 2\n")
    with pytest.raises(StaleCompiledModule, match=r"streams/engine/rollups\.py.*make compile"):
        streams._refuse_stale_compiled(manifest)


def test_a_build_first_drops_the_previous_compiled_copies(tmp_path: Path) -> None:
    """Until a build succeeds the sources run: a failed build never leaves compiled copies
    of other versions of them behind, nor a manifest vouching for them."""
    setup = _setup_module()
    manifest, source = _package(tmp_path, compiled=True)
    shared = tmp_path / "streams" / "fold__mypyc.cpython-311-x86_64-linux-gnu.so"
    shared.write_bytes(b"\x7fELF")
    other = tmp_path / "streams" / "engine" / "state.cpython-311-x86_64-linux-gnu.so"
    other.write_bytes(b"\x7fELF")  # not a compiled source of this build: left alone
    setup.ROOT, setup.MANIFEST = tmp_path, manifest  # type: ignore[attr-defined]
    setup.drop_compiled(["streams/engine/rollups.py"])  # type: ignore[attr-defined]
    assert not manifest.exists()
    assert not shared.exists()
    assert sorted(p.name for p in source.parent.iterdir()) == sorted([other.name, "rollups.py"])


def test_the_worker_says_whether_its_fold_runs_compiled(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.INFO, logger="salespulse.worker")
    monkeypatch.setattr(streams, "fold_is_compiled", lambda: True)
    worker.log_fold_build()
    assert caplog.messages == ["the fold runs compiled (mypyc)"]
    caplog.clear()
    monkeypatch.setattr(streams, "fold_is_compiled", lambda: False)
    worker.log_fold_build()
    assert [r.levelname for r in caplog.records] == ["WARNING"]
    assert "runs as Python, not compiled" in caplog.messages[0]
