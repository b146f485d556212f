"""Prometheus, Alertmanager, Grafana and Compose files: parse, required alerts, conventions."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
PROM = DEPLOY / "prometheus"
REQUIRED_ALERTS = {
    "SalesTargetAtRisk",
    "SalesTargetMissed",
    "RepInactive",
    "StreamProcessorDown",
    "ConsumerLagHigh",
    "DeadLetterRateHigh",
}
SEVERITIES = {"page", "ticket", "info"}

YAML_FILES = sorted(
    [
        *PROM.glob("*.yml"),
        *PROM.glob("tests/*.yml"),
        *PROM.glob("targets*/*.yml"),
        *(DEPLOY / "alertmanager").glob("*.yml"),
        *(DEPLOY / "grafana" / "provisioning").rglob("*.yml"),
        DEPLOY / "docker-compose.yml",
    ]
)


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text("utf-8"))


def alerts() -> dict[str, dict[str, Any]]:
    doc = load(PROM / "alert_rules.yml")
    rules = [rule for group in doc["groups"] for rule in group["rules"]]
    assert all("alert" in rule for rule in rules), "alert_rules.yml holds alerts only"
    return {rule["alert"]: rule for rule in rules}


def recording_rules() -> dict[str, str]:
    doc = load(PROM / "recording_rules.yml")
    return {rule["record"]: rule["expr"] for group in doc["groups"] for rule in group["rules"]}


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda p: str(p.relative_to(DEPLOY)))
def test_yaml_parses(path: Path) -> None:
    assert load(path) is not None


def test_yaml_files_found() -> None:
    names = {p.relative_to(DEPLOY).as_posix() for p in YAML_FILES}
    assert {
        "prometheus/prometheus.yml",
        "prometheus/recording_rules.yml",
        "prometheus/alert_rules.yml",
        "alertmanager/alertmanager.yml",
        "grafana/provisioning/datasources/prometheus.yml",
        "grafana/provisioning/dashboards/dashboards.yml",
        "docker-compose.yml",
    } <= names
    assert any(n.startswith("prometheus/tests/") for n in names)


def test_required_alerts_exist() -> None:
    assert set(alerts()) >= REQUIRED_ALERTS


@pytest.mark.parametrize("name", sorted(REQUIRED_ALERTS))
def test_alert_has_severity_summary_description_and_for(name: str) -> None:
    rule = alerts()[name]
    assert rule["labels"]["severity"] in SEVERITIES
    assert rule["annotations"]["summary"].strip()
    assert rule["annotations"]["description"].strip()
    assert "{{" in rule["annotations"]["summary"] + rule["annotations"]["description"]
    assert re.fullmatch(r"\d+[smhd]", str(rule["for"])), rule.get("for")


def test_every_alert_is_labelled() -> None:
    for name, rule in alerts().items():
        assert rule.get("labels", {}).get("severity") in SEVERITIES, name
        assert {"summary", "description"} <= set(rule.get("annotations", {})), name


def test_alerts_use_defined_recording_rules() -> None:
    defined = set(recording_rules())
    for name, rule in alerts().items():
        for used in re.findall(r"[A-Za-z_]\w*:[\w:]+", rule["expr"]):
            assert used in defined, f"{name} uses undefined recording rule {used}"


def test_rep_inactive_is_parametrised_and_limited_to_business_hours() -> None:
    rules = recording_rules()
    assert "salespulse:rep_inactive_threshold_business_hours" in rules
    business = rules["salespulse:business_hours"]
    assert "day_of_week()" in business and "hour()" in business
    expr = alerts()["RepInactive"]["expr"]
    assert "salespulse:rep_inactive_threshold_business_hours" in expr
    assert "salespulse:business_hours" in expr
    assert "sales_rep_target_active" in expr


def test_each_alert_is_unit_tested_firing_and_quiet() -> None:
    firing: set[str] = set()
    quiet: set[str] = set()
    for path in PROM.glob("tests/*.yml"):
        doc = load(path)
        assert set(doc["rule_files"]) >= {"../recording_rules.yml", "../alert_rules.yml"}
        for test in doc["tests"]:
            for case in test.get("alert_rule_test", []):
                (firing if case.get("exp_alerts") else quiet).add(case["alertname"])
    assert firing >= REQUIRED_ALERTS, f"never tested firing: {REQUIRED_ALERTS - firing}"
    assert quiet >= REQUIRED_ALERTS, f"never tested quiet: {REQUIRED_ALERTS - quiet}"


def test_reject_ratio_is_rejected_over_read() -> None:
    # sales_events_processed_total counts every record read (valid, rejected, duplicates)
    rules = recording_rules()
    ratio = rules["topic:sales_events_reject_ratio:rate5m"]
    assert "topic:sales_events_rejected:rate5m" in ratio
    assert "topic:sales_events_processed:rate5m" in ratio
    assert "duplicate" not in ratio
    assert "topic:sales_events_reject_ratio:rate5m" in alerts()["DeadLetterRateHigh"]["expr"]


def test_target_missed_comes_from_the_alerts_counter() -> None:
    # past periods are never exported: a "missed" status is never visible in sales_target_status
    expr = alerts()["SalesTargetMissed"]["expr"]
    assert 'sales_target_alerts_total{kind="target_missed"}' in expr
    assert "increase(" in expr
    assert "sales_target_status" not in expr
    at_risk = alerts()["SalesTargetAtRisk"]
    assert 'sales_target_status{status="at_risk"}' in at_risk["expr"]
    assert at_risk["for"] != "0m"


def test_key_recording_rules_are_unit_tested() -> None:
    tested: set[str] = set()
    for path in PROM.glob("tests/*.yml"):
        for test in load(path)["tests"]:
            for case in test.get("promql_expr_test", []):
                tested.update(re.findall(r"[A-Za-z_]\w*:[\w:]+", case["expr"]))
    assert {
        "team_activity:sales_activities:rate5m",
        "topic:sales_events_processed:rate5m",
        "topic:sales_events_applied:rate5m",
        "topic:sales_events_reject_ratio:rate5m",
        "rep:sales_inactive_business_hours",
        "salespulse:business_hours",
        "topic:sales_consumer_lag_records:sum",
    } <= tested


def test_prometheus_config() -> None:
    config = load(PROM / "prometheus.yml")
    for rule_file in config["rule_files"]:
        assert (PROM / rule_file).is_file(), rule_file
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert "salespulse" in jobs
    interval = jobs["salespulse"].get("scrape_interval", config["global"]["scrape_interval"])
    assert re.fullmatch(r"\d+s", interval) and int(interval[:-1]) <= 30
    assert config["alerting"]["alertmanagers"]
    for directory in ("targets", "targets-compose"):
        for name in ("salespulse.yml", "alertmanager.yml"):
            assert load(PROM / directory / name)[0]["targets"], f"{directory}/{name}"


def test_alertmanager_routes_and_inhibits() -> None:
    config = load(DEPLOY / "alertmanager" / "alertmanager.yml")
    receivers = {r["name"]: r for r in config["receivers"]}
    route = config["route"]
    assert route["receiver"] in receivers
    by_severity = {}
    for sub in route["routes"]:
        for matcher in sub["matchers"]:
            m = re.fullmatch(r'severity="(\w+)"', matcher)
            if m:
                by_severity[m.group(1)] = sub["receiver"]
    assert set(by_severity) == {"page", "ticket"}
    assert by_severity["page"] != by_severity["ticket"]
    for receiver in receivers.values():
        for hook in receiver["webhook_configs"]:
            assert re.match(r"http://(127\.0\.0\.1|localhost)[:/]", hook["url"]), hook["url"]
    (inhibit,) = [
        rule
        for rule in config["inhibit_rules"]
        if 'alertname="SalesTargetMissed"' in rule["source_matchers"]
    ]
    assert inhibit["target_matchers"] == ['alertname="SalesTargetAtRisk"']
    assert {"scope", "id", "metric", "period"} <= set(inhibit["equal"])


def test_compose_services() -> None:
    services = load(DEPLOY / "docker-compose.yml")["services"]
    assert {"kafka", "topics", "worker", "prometheus", "alertmanager", "grafana"} <= set(services)
    assert services["kafka"]["image"].startswith("apache/kafka:")
    assert services["worker"]["build"]["dockerfile"] == "deploy/Dockerfile"
    env = services["worker"]["environment"]
    assert env["KAFKA_BOOTSTRAP"] == "kafka:9092"
    assert env["SALES_API_HOST"] == "0.0.0.0"
    dockerfile = (DEPLOY / "Dockerfile").read_text("utf-8")
    assert dockerfile.startswith("#") or dockerfile.startswith("FROM")
    assert "FROM python:3.11-slim" in dockerfile
    assert 'CMD ["salespulse", "worker"]' in dockerfile
