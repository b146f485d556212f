"""The PromQL of the salespulse Grafana dashboards, for tests and tooling.

`all_panel_exprs()` lists every panel query as (dashboard file name, expr) with Grafana's
variables left in; `substitute_variables()` turns one into plain PromQL that a real Prometheus
accepts (an end-to-end test can query each one). Run as a script, it writes every expression
as a recording rule to a file, so that `promtool check rules FILE` checks their syntax:

    python3 deploy/grafana/panels.py --rules-file /tmp/dashboard_exprs.yml

Standard library only: deploy/prometheus/check.sh runs it with the system python3.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

DASHBOARD_DIR = Path(__file__).resolve().parent / "dashboards"

#: values used for Grafana's variables when an expression is run outside Grafana
DEFAULT_VARIABLES: dict[str, str] = {
    "team": ".*",
    "rep": ".*",
    "period_kind": "month",
    "previous_offset": "31d",
    "datasource": "prometheus",
    "__rate_interval": "5m",
    "__interval": "1m",
    "__range": "1h",
}

_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\[\[(\w+)\]\]|\$(\w+)")


def dashboard_files() -> list[Path]:
    """The dashboard JSON files, sorted by name."""
    return sorted(DASHBOARD_DIR.glob("*.json"))


def load_dashboards() -> dict[str, dict[str, Any]]:
    """Every dashboard, keyed by file name."""
    return {path.name: json.loads(path.read_text("utf-8")) for path in dashboard_files()}


def iter_panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every panel, including those nested in (collapsed) rows."""
    for panel in panels:
        yield panel
        yield from iter_panels(panel.get("panels", []))


def all_panel_exprs() -> list[tuple[str, str]]:
    """(dashboard file name, expr) for every target of every panel, in dashboard order."""
    exprs: list[tuple[str, str]] = []
    for name, dashboard in load_dashboards().items():
        for panel in iter_panels(dashboard.get("panels", [])):
            for target in panel.get("targets", []):
                expr = target.get("expr")
                if expr:
                    exprs.append((name, expr))
    return exprs


def all_variable_queries() -> list[tuple[str, str, str]]:
    """(dashboard file name, variable name, query) for every query-type template variable."""
    queries: list[tuple[str, str, str]] = []
    for name, dashboard in load_dashboards().items():
        for var in dashboard.get("templating", {}).get("list", []):
            if var.get("type") != "query":
                continue
            query = var.get("query")
            if isinstance(query, dict):
                query = query.get("query")
            queries.append((name, var["name"], str(query or var.get("definition", ""))))
    return queries


_STRING = re.compile(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|`[^`]*`')
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_IDENTIFIER = re.compile(r"(?<![\w.:$])([A-Za-z_:][\w:]*)(?![\w:])(?!\s*\()")
_KEYWORDS = frozenset(
    {
        "and",
        "or",
        "unless",
        "bool",
        "offset",
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "inf",
        "nan",
        "atan2",
    }
)


def metric_names(expr: str) -> set[str]:
    """The metric (and recording rule) names an expression selects.

    A small lexer, enough for the dashboards' PromQL: strings, label matchers, ranges,
    grouping clauses and Grafana variables are removed; what is left that is not a function,
    aggregation or keyword is a metric name. `{__name__=...}` selectors are not supported.
    """
    text = _STRING.sub(" ", expr)
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = _VARIABLE.sub(" ", text)
    text = _GROUPING.sub(" ", text)
    return {name for name in _IDENTIFIER.findall(text) if name.lower() not in _KEYWORDS}


def substitute_variables(expr: str, values: Mapping[str, str] | None = None) -> str:
    """Replace $var, ${var} and [[var]] with `values` (default: DEFAULT_VARIABLES)."""
    table = {**DEFAULT_VARIABLES, **(values or {})}

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2) or match.group(3)
        if name not in table:
            raise KeyError(f"no value for Grafana variable ${name} in {expr!r}")
        return table[name]

    return _VARIABLE.sub(replace, expr)


def write_rules_file(path: Path) -> int:
    """Write every panel expression as a recording rule (for promtool check rules)."""
    lines = ["groups:", "  - name: dashboard-exprs", "    rules:"]
    exprs = all_panel_exprs()
    for index, (name, expr) in enumerate(exprs):
        stem = re.sub(r"\W", "_", name.removesuffix(".json"))
        lines.append(f"      - record: dashboard:{stem}:expr{index}")
        lines.append(f"        expr: {json.dumps(substitute_variables(expr))}")
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return len(exprs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rules-file", type=Path, help="write the exprs as recording rules")
    args = parser.parse_args(argv)
    if args.rules_file:
        count = write_rules_file(args.rules_file)
        print(f"{count} dashboard expressions written to {args.rules_file}")
    else:
        for name, expr in all_panel_exprs():
            print(f"{name}\t{substitute_variables(expr)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
