#!/usr/bin/env bash
# Prints the interpreter `make install` builds the venv with (the Makefile's PYTHON default;
# `make install PYTHON=...` overrides it). The worker's compiled fold spends much of its time
# inside the interpreter, and the build of the interpreter shows: Debian's python3.11 (libpython
# linked in) ran the worker 5 to 22 % more events per CPU-second than a pyenv build of 3.11
# (libpython a shared library, no --enable-optimizations); Quix Streams 0 to 3 % (README,
# Performance). A shared libpython is the sign of such a build that can be read here (the
# official Docker image has one too, with PGO, but no second build to choose from).
# So: `python3` itself when it links libpython in; else the first other candidate of the
# same major.minor version that links it in, can make a venv (venv, ensurepip) and can build
# the fold (Python.h); else `python3`. The version never changes, only the build.
# Usage: bash .ci/pick-python.sh [--explain]     (--explain: why, on stderr)
# PICK_PYTHON_CANDIDATES (space-separated paths) replaces the list of other interpreters tried.
set -uo pipefail

explain=0
[[ "${1:-}" == "--explain" ]] && explain=1
say() { [[ "$explain" == 1 ]] && echo "pick-python: $*" >&2; return 0; }

# One line per interpreter: "<major.minor> <linked|shared|unknown> <ok|why not>"
probe() {
    "$1" - <<'PY' 2>/dev/null
import os, re, sys, sysconfig
version = "%d.%d" % sys.version_info[:2]
try:
    maps = open("/proc/self/maps").read()
except OSError:
    linking = "unknown"
else:
    linking = "shared" if re.search(r"libpython[0-9.]*\.so", maps) else "linked"
missing = []
if sys.version_info < (3, 11):
    missing.append("older-than-3.11")
for module in ("venv", "ensurepip"):
    try:
        __import__(module)
    except ImportError:
        missing.append("no-" + module)
if not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")):
    missing.append("no-Python.h")
print(version, linking, ",".join(missing) or "ok")
PY
}

default=python3
if ! read -r want default_linking default_ok < <(probe "$default"); then
    say "$default does not run; leaving it to make to say so"
    echo "$default"
    exit 0
fi
if [[ "$default_linking" != shared ]]; then
    say "$default ($want) links libpython in ($default_linking): taking it"
    echo "$default"
    exit 0
fi
read -r -a candidates <<<"${PICK_PYTHON_CANDIDATES-/usr/bin/python$want /usr/local/bin/python$want /usr/bin/python3}"
for candidate in "${candidates[@]}"; do
    [[ -x "$candidate" ]] || continue
    read -r version linking ok < <(probe "$candidate") || continue
    if [[ "$version" == "$want" && "$linking" == linked && "$ok" == ok ]]; then
        say "$default ($want) loads libpython as a shared library; $candidate links it in: taking it"
        echo "$candidate"
        exit 0
    fi
    say "$candidate: version $version, libpython $linking, $ok: not taken"
done
say "no other python$want links libpython in; taking $default ($default_ok)"
echo "$default"
