"""The layout holds: pure layers stay pure, no import cycles, short functions.

streams.domain (the contract's pure logic) and streams.engine (state, fold, queries) import
no Kafka, Faust, HTTP or Prometheus library; each layer imports only the layers below it
(domain < engine < worker < tools); no module imports itself back through others.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "streams"
LAYERS = ("domain", "engine", "worker", "tools")
FORBIDDEN_IN_PURE = ("faust", "aiokafka", "aiohttp", "prometheus_client", "mode", "yarl")
MAX_FUNCTION_LINES = 60


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports(path: Path) -> set[str]:
    """Every module imported at run time (function-level imports too; not TYPE_CHECKING)."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text()))
    return found


def internal_imports(name: str) -> set[str]:
    return {m for m in imports(MODULES[name]) if m in MODULES and m != name}


def layer(name: str) -> int | None:
    parts = name.split(".")
    return LAYERS.index(parts[1]) if len(parts) > 1 and parts[1] in LAYERS else None


@pytest.mark.parametrize(
    "name",
    [n for n in MODULES if layer(n) is not None and layer(n) <= 1],  # type: ignore[operator]
)
def test_domain_and_engine_import_no_kafka_faust_http_or_prometheus(name: str) -> None:
    bad = {m for m in imports(MODULES[name]) if m.split(".")[0] in FORBIDDEN_IN_PURE}
    assert not bad, f"{name} imports {sorted(bad)}"


@pytest.mark.parametrize("name", [n for n in MODULES if layer(n) is not None])
def test_layers_import_only_layers_below(name: str) -> None:
    own = layer(name)
    assert own is not None
    above = {m for m in internal_imports(name) if (other := layer(m)) is not None and other > own}
    assert not above, f"{name} ({LAYERS[own]}) imports from a layer above it: {sorted(above)}"


def test_no_import_cycles() -> None:
    graph = {name: internal_imports(name) for name in MODULES}
    state: dict[str, int] = {}  # 1 visiting, 2 done
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycle = [*stack[stack.index(nxt) :], nxt]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name)


def test_no_function_is_longer_than_the_limit() -> None:
    long = []
    for name, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{name}.{node.name}: {lines} lines")
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines: {long}"


def test_the_checks_see_the_whole_package() -> None:
    """Guards the tests above against a path mistake that would make them vacuous."""
    assert {layer(n) for n in MODULES} >= {0, 1, 2, 3}
    assert "streams.engine.processor" in MODULES
    assert "faust" in imports(MODULES["streams.worker.runtime"])
