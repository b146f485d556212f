"""The bench names the interpreter build its figures were measured on."""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path

from bench.__main__ import interpreter, versions


def test_names_the_executable_its_version_and_how_libpython_is_linked() -> None:
    text = interpreter()
    assert text.startswith(os.path.realpath(sys.executable) + " (CPython ")
    assert platform.python_version() in text
    shared = "libpython" in Path("/proc/self/maps").read_text()
    assert ("libpython as a shared library" in text) is shared
    assert ("libpython linked in" in text) is not shared


def test_the_results_file_carries_it() -> None:
    assert versions()["interpreter"] == interpreter()


def test_names_no_build_flags_that_sysconfig_may_report_of_another_build() -> None:
    # Debian's python3.11 links libpython in, yet sysconfig gives its shared build's
    # configure arguments: a flag read there may not describe the running binary
    assert "CONFIG_ARGS" not in interpreter()
    assert "optimizations" not in interpreter()
