"""Prometheus, Alertmanager, Grafana, Compose and Kubernetes files: parse, required alerts,
runbook links, routing, notification templates, manifests, conventions."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from streams.worker.settings import Settings
from streams.worker.topics import purged_by_the_worker, wanted_topics

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
PROM = DEPLOY / "prometheus"
ALERTMANAGER = DEPLOY / "alertmanager"
K8S = DEPLOY / "kubernetes"
README = ROOT / "README.md"
REQUIRED_ALERTS = {
    "SalesTargetAtRisk",
    "SalesTargetMissed",
    "RepInactive",
    "StreamProcessorDown",
    "KafkaUnreachable",
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
        *K8S.rglob("*.yaml"),
        *K8S.rglob("*.yml"),
    ]
)


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text("utf-8"))


def load_all(path: Path) -> list[Any]:
    return [doc for doc in yaml.safe_load_all(path.read_text("utf-8")) if doc is not None]


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
    assert load_all(path)


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
        "kubernetes/kustomization.yaml",
        "kubernetes/statefulset.yaml",
        "kubernetes/monitoring/prometheus-kubernetes-sd.yml",
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
    for name in ("salespulse.yml", "alertmanager.yml"):
        assert load(PROM / "targets" / name)[0]["targets"], f"targets/{name}"
    # compose: only Alertmanager from a file (deploy/compose/prometheus.yml finds workers by DNS)
    assert load(PROM / "targets-compose" / "alertmanager.yml")[0]["targets"]


def alertmanager_config() -> dict[str, Any]:
    return load(ALERTMANAGER / "alertmanager.yml")


def test_alertmanager_routes_by_category_then_team() -> None:
    config = alertmanager_config()
    receivers = {r["name"]: r for r in config["receivers"]}
    route = config["route"]
    assert route["receiver"] in receivers
    assert {"category", "team"} <= set(route["group_by"])
    by_category = {
        m.group(1): sub
        for sub in route["routes"]
        for matcher in sub["matchers"]
        if (m := re.fullmatch(r'category="(\w+)"', matcher))
    }
    assert set(by_category) == {"business", "pipeline"}
    # the stream processor: by severity
    pipeline = {
        m.group(1): sub["receiver"]
        for sub in by_category["pipeline"]["routes"]
        for matcher in sub["matchers"]
        if (m := re.fullmatch(r'severity="(\w+)"', matcher))
    }
    assert pipeline == {"page": "pager", "ticket": "ticket"}
    # sales performance: by team first (Slack and e-mail examples), then severity
    business = by_category["business"]["routes"]
    team_routes = [sub for sub in business if any(m.startswith("team") for m in sub["matchers"])]
    assert {sub["receiver"] for sub in team_routes} == {"sales-slack", "sales-email"}
    assert business.index(team_routes[-1]) < len(business) - 1, "team routes come first"
    for sub in route["routes"] + business:
        assert sub["receiver"] in receivers
        assert not sub.get("continue"), "one receiver per alert (tests/e2e checks the names)"


def test_every_alert_has_a_category_the_routes_know() -> None:
    for name, rule in alerts().items():
        assert rule["labels"]["category"] in {"business", "pipeline"}, name


def test_alertmanager_receivers_keep_secrets_out_of_the_file() -> None:
    config = alertmanager_config()
    receivers = {r["name"]: r for r in config["receivers"]}
    for name in ("default", "pager", "ticket"):
        for hook in receivers[name]["webhook_configs"]:
            assert re.match(r"http://(127\.0\.0\.1|localhost)[:/]", hook["url"]), hook["url"]
    (slack,) = receivers["sales-slack"]["slack_configs"]
    assert "api_url" not in slack and slack["api_url_file"].startswith("/")
    assert "{{ .CommonLabels.team }}" in slack["channel"]
    (email,) = receivers["sales-email"]["email_configs"]
    assert "auth_password" not in email and email["auth_password_file"].startswith("/")
    assert "smtp_auth_password" not in config["global"]
    assert re.match(r"(127\.0\.0\.1|localhost):\d+$", config["global"]["smtp_smarthost"])


def test_notification_templates_exist_and_are_defined() -> None:
    config = alertmanager_config()
    files = [p for glob in config["templates"] for p in ALERTMANAGER.glob(glob)]
    assert files, config["templates"]
    text = "".join(p.read_text("utf-8") for p in files)
    defined = set(re.findall(r'{{-?\s*define\s+"([^"]+)"', text))
    used = set(re.findall(r'template\s+"([^"]+)"', yaml.safe_dump(config["receivers"])))
    used |= set(re.findall(r'template\s+"([^"]+)"', text))
    assert used and used <= defined, sorted(used - defined)
    # the rep, its team, the target metric, attainment, the drill-down dashboard, the runbook
    for needle in (
        ".Labels.rep",
        '.Labels.scope "rep"',
        ".Labels.team",
        ".Labels.metric",
        ".Annotations.attainment",
        ".Annotations.runbook_url",
        "/d/salespulse-rep/",
        "var-rep=",
    ):
        assert needle in text, needle
    samples = sorted((ALERTMANAGER / "tests").glob("*.json"))
    assert samples, "sample notifications for amtool template render (check.sh)"


def test_alertmanager_inhibits_at_risk_when_missed() -> None:
    (inhibit,) = [
        rule
        for rule in alertmanager_config()["inhibit_rules"]
        if 'alertname="SalesTargetMissed"' in rule["source_matchers"]
    ]
    assert inhibit["target_matchers"] == ['alertname="SalesTargetAtRisk"']
    assert {"scope", "id", "metric", "period"} <= set(inhibit["equal"])


def test_business_alerts_keep_the_team_label() -> None:
    # the worker exports `team` on rep-level business series; the alerts keep it for routing
    def grouping(expr: str) -> set[str]:
        (by,) = re.findall(r"max by \(([^)]*)\)", expr)
        return {label.strip() for label in by.split(",")}

    for name in ("SalesTargetAtRisk", "SalesTargetMissed"):
        assert "team" in grouping(alerts()[name]["expr"]), name
    # RepInactive: rep:sales_inactive_business_hours keeps team from this rule
    assert "team" in grouping(recording_rules()["rep:sales_last_activity_timestamp_seconds:max"])


TEAM_LABELLED = (
    "sales_target_attainment_ratio",
    "sales_target_pace_ratio",
    "sales_target_status",
    "sales_target_alerts_total",
    "sales_revenue_won",
    "sales_deals",
)


def test_promtool_tests_feed_the_team_label() -> None:
    with_team = without_team = 0
    business_alerts_with_team: set[str] = set()
    for path in PROM.glob("tests/*.yml"):
        for test in load(path)["tests"]:
            for series in test.get("input_series", []):
                name, _, labels = series["series"].partition("{")
                if name not in TEAM_LABELLED:
                    continue
                pairs = dict(re.findall(r'(\w+)="([^"]*)"', labels))
                if "team" not in pairs:
                    without_team += 1
                    continue
                with_team += 1
                if pairs.get("scope") == "team":
                    assert pairs["team"] == pairs["id"], series["series"]
            for case in test.get("alert_rule_test", []):
                for alert in case.get("exp_alerts") or []:
                    labels = alert["exp_labels"]
                    if labels.get("category") == "business" and "team" in labels:
                        business_alerts_with_team.add(case["alertname"])
    # one series deliberately lacks it (a worker that does not export it yet)
    assert with_team >= 10 and without_team <= 1
    assert business_alerts_with_team >= {"SalesTargetAtRisk", "SalesTargetMissed", "RepInactive"}


# ------------------------------------------------------------------------ runbook


def github_anchor(heading: str) -> str:
    """The id GitHub gives a Markdown heading (before de-duplication)."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # links: their text
    text = re.sub(r"<[^>]+>", "", text)  # inline HTML
    text = text.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)  # punctuation (and backticks, *, ...) go
    return text.replace(" ", "-")


def readme_anchors(text: str) -> set[str]:
    anchors: set[str] = set()
    seen: dict[str, int] = {}
    fenced = False
    for line in text.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
            continue
        match = re.match(r"(#{1,6})\s+(.*?)\s*#*\s*$", line)
        if fenced or not match:
            continue
        anchor = github_anchor(match.group(2))
        count = seen.get(anchor, 0)
        seen[anchor] = count + 1
        anchors.add(anchor if count == 0 else f"{anchor}-{count}")
    return anchors


def test_github_anchors() -> None:
    assert github_anchor("Alerts and runbook") == "alerts-and-runbook"
    assert github_anchor("Observability: Prometheus, Alertmanager, Grafana") == (
        "observability-prometheus-alertmanager-grafana"
    )
    assert github_anchor("5. `salespulse report`: the figures") == "5-salespulse-report-the-figures"
    assert github_anchor("Notifications: routing, Slack and e-mail") == (
        "notifications-routing-slack-and-e-mail"
    )
    assert readme_anchors("# A\n## A\n```\n# not a heading\n```\n### B b\n") == {
        "a",
        "a-1",
        "b-b",
    }


RUNBOOK_BASE = "https://github.com/your-org/salespulse/blob/main/README.md"


@pytest.mark.parametrize("name", sorted(alerts()))
def test_every_alert_links_its_runbook_entry(name: str) -> None:
    url = alerts()[name].get("annotations", {}).get("runbook_url", "")
    assert url, f"{name} has no runbook_url annotation"
    base, _, anchor = url.partition("#")
    # one documented base for all (README.md, "Alerts and runbook", says how to change it)
    assert base == RUNBOOK_BASE, url
    assert RUNBOOK_BASE in README.read_text("utf-8")
    assert anchor in readme_anchors(README.read_text("utf-8")), (
        f"{name}: README.md has no heading with the anchor #{anchor}"
    )
    assert anchor == name.lower()


def test_runbook_anchor_check_fails_on_a_missing_heading() -> None:
    anchors = readme_anchors(README.read_text("utf-8"))
    assert "alerts-and-runbook" in anchors
    assert "nosuchalert" not in anchors


# --------------------------------------------------------------------- Kubernetes


def k8s_resources() -> dict[tuple[str, str], dict[str, Any]]:
    kustomization = load(K8S / "kustomization.yaml")
    found = {}
    for name in kustomization["resources"]:
        for doc in load_all(K8S / name):
            found[(doc["kind"], doc["metadata"]["name"])] = doc
    return found


def test_kustomization_lists_every_manifest() -> None:
    listed = set(load(K8S / "kustomization.yaml")["resources"])
    on_disk = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == on_disk


def test_workers_are_a_statefulset_with_volumes_probes_and_port() -> None:
    res = k8s_resources()
    sts = res[("StatefulSet", "salespulse")]
    config = res[("ConfigMap", "salespulse-config")]["data"]
    headless = res[("Service", sts["spec"]["serviceName"])]
    assert headless["spec"]["clusterIP"] == "None"
    pod = sts["spec"]["template"]
    assert sts["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    (container,) = pod["spec"]["containers"]
    (port,) = container["ports"]
    assert port == {"name": "http", "containerPort": 6066, "protocol": "TCP"}
    assert config["SALES_API_PORT"] == "6066" and config["SALES_API_HOST"] == "0.0.0.0"
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    # persistent local state in SALES_DATA_DIR
    (claim,) = sts["spec"]["volumeClaimTemplates"]
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert claim["spec"]["resources"]["requests"]["storage"]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert mounts[claim["metadata"]["name"]] == config["SALES_DATA_DIR"]
    # environment from the ConfigMap, Kafka credentials from an optional Secret
    sources = container["envFrom"]
    assert {"configMapRef": {"name": "salespulse-config"}} in sources
    assert any(s.get("secretRef", {}).get("optional") for s in sources)
    assert config["KAFKA_BOOTSTRAP"]
    # each pod advertises its stable DNS name through the headless Service
    env = [e["name"] for e in container["env"]]
    url = next(e["value"] for e in container["env"] if e["name"] == "SALES_API_ADVERTISED_URL")
    assert url.startswith(f"http://$(POD_NAME).{headless['metadata']['name']}.")
    assert url.endswith(":6066")
    assert env.index("POD_NAME") < env.index("SALES_API_ADVERTISED_URL")
    pod_name = next(e for e in container["env"] if e["name"] == "POD_NAME")
    assert pod_name["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    # each pod a static member of the group under its own (stable) name
    instance = next(e for e in container["env"] if e["name"] == "SALES_GROUP_INSTANCE_ID")
    assert instance["value"] == "$(POD_NAME)"
    assert env.index("POD_NAME") < env.index("SALES_GROUP_INSTANCE_ID")
    # the image's user (deploy/Dockerfile) is the pod's
    security = pod["spec"]["securityContext"]
    assert security["runAsNonRoot"] is True
    uid = security["runAsUser"]
    assert f"--uid {uid}" in (DEPLOY / "Dockerfile").read_text("utf-8")
    assert security["fsGroup"] == uid


def test_services_expose_port_6066() -> None:
    res = k8s_resources()
    pod_labels = res[("StatefulSet", "salespulse")]["spec"]["template"]["metadata"]["labels"]
    services = [doc for (kind, _), doc in res.items() if kind == "Service"]
    assert {s["metadata"]["name"] for s in services} == {"salespulse", "salespulse-headless"}
    for service in services:
        assert service["spec"]["selector"].items() <= pod_labels.items()
        (port,) = service["spec"]["ports"]
        assert port["port"] == 6066 and port["targetPort"] == "http"
    headless = res[("Service", "salespulse-headless")]
    assert headless["spec"]["publishNotReadyAddresses"] is True


def test_prometheus_scrapes_the_pods_as_job_salespulse() -> None:
    res = k8s_resources()
    annotations = res[("StatefulSet", "salespulse")]["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == "6066"
    assert annotations["prometheus.io/path"] == "/metrics"
    config = load(K8S / "monitoring" / "prometheus-kubernetes-sd.yml")
    (job,) = config["scrape_configs"]
    assert job["job_name"] == "salespulse"  # the alert rules select up{job="salespulse"}
    assert job["kubernetes_sd_configs"][0]["role"] == "pod"
    kept = {tuple(r["source_labels"]) for r in job["relabel_configs"] if r.get("action") == "keep"}
    assert ("__meta_kubernetes_pod_annotation_prometheus_io_scrape",) in kept
    (monitor,) = load_all(K8S / "monitoring" / "servicemonitor.yaml")
    assert monitor["kind"] == "ServiceMonitor"
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] == "http" and endpoint["path"] == "/metrics"
    assert {"targetLabel": "job", "replacement": "salespulse"} in endpoint["relabelings"]


def test_compose_services() -> None:
    services = load(DEPLOY / "docker-compose.yml")["services"]
    assert {"kafka", "topics", "worker", "api", "prometheus", "alertmanager", "grafana"} <= set(
        services
    )
    assert services["kafka"]["image"].startswith("apache/kafka:")
    assert services["worker"]["build"]["dockerfile"] == "deploy/Dockerfile"
    env = services["worker"]["environment"]
    assert env["KAFKA_BOOTSTRAP"] == "kafka:9092"
    assert env["SALES_API_HOST"] == "0.0.0.0"
    dockerfile = (DEPLOY / "Dockerfile").read_text("utf-8")
    assert dockerfile.startswith("#") or dockerfile.startswith("FROM")
    assert "FROM python:3.11-slim" in dockerfile
    assert 'CMD ["salespulse", "worker"]' in dockerfile


# ------------------------------------------------------------ Compose: scaling, topics, lock


def _compose_check() -> ModuleType:
    """deploy/compose_check.py (`make compose-check`) as a module: its parsers and checks."""
    spec = importlib.util.spec_from_file_location("compose_check", DEPLOY / "compose_check.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("compose_check", module)
    spec.loader.exec_module(module)
    return module


compose_check = _compose_check()


def compose_services() -> dict[str, Any]:
    return load(DEPLOY / "docker-compose.yml")["services"]


def test_compose_project_checks_pass() -> None:
    # all of `make compose-check` but the Compose CLI and the optional promtool / nginx runs
    assert compose_check.project_checks(DEPLOY / "docker-compose.yml") == []


def test_compose_kafka_is_the_version_the_tests_run() -> None:
    text = (DEPLOY / "kafka" / "kafka_local.py").read_text("utf-8")
    (version,) = re.findall(r'^KAFKA_VERSION = "([^"]+)"', text, re.MULTILINE)
    services = compose_services()
    for name in ("kafka", "topics"):
        assert services[name]["image"] == f"apache/kafka:{version}", name
    env = compose_check.service_env(services["kafka"])
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == "1@kafka:9093"
    # one node: every internal topic with replication factor 1, as kafka_local.py
    assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "1"
    assert env["KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR"] == "1"
    assert env["KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR"] == "1"
    assert env["KAFKA_DEFAULT_REPLICATION_FACTOR"] == "1"
    # nothing but the topics service and the workers creates a topic (with its cleanup policy)
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"


def test_compose_worker_scales_without_edits() -> None:
    worker = compose_services()["worker"]
    assert worker["deploy"]["replicas"] >= 2
    assert compose_check.fixed_host_ports(worker) == []
    assert not {"container_name", "hostname"} & set(worker)
    env = compose_check.service_env(worker)
    # each replica derives its advertised URL from its own host name (bound to 0.0.0.0)
    assert env["SALES_API_HOST"] == "0.0.0.0"
    assert "SALES_API_ADVERTISED_URL" not in env
    assert Settings.from_env(env).advertised_url.startswith("http://")
    assert "0.0.0.0" not in Settings.from_env(env).advertised_url
    # local state: an anonymous volume per replica, never one shared by name
    data = [compose_check.volume_target(v) for v in worker.get("volumes") or []]
    assert (None, env["SALES_DATA_DIR"]) in data
    assert all(source is None for source, target in data if target == env["SALES_DATA_DIR"])
    assert compose_check.check_worker(worker) == []


@pytest.mark.parametrize(
    ("ports", "fixed"),
    [
        (["6066"], []),
        (["127.0.0.1::6066"], []),
        (["127.0.0.1:6066-6075:6066"], []),
        ([{"target": 6066}], []),
        (["127.0.0.1:6066:6066"], ["127.0.0.1:6066:6066"]),
        (["6066:6066/tcp"], ["6066:6066/tcp"]),
        ([{"target": 6066, "published": 6066}], ["{'target': 6066, 'published': 6066}"]),
    ],
)
def test_fixed_host_ports(ports: list[Any], fixed: list[str]) -> None:
    assert compose_check.fixed_host_ports({"ports": ports}) == fixed


def test_worker_check_refuses_what_does_not_scale() -> None:
    worker = compose_services()["worker"]
    bad = {
        **worker,
        "ports": ["127.0.0.1:6066:6066"],
        "container_name": "worker",
        "volumes": ["worker-data:/var/lib/salespulse/data"],
        "environment": {**worker["environment"], "SALES_API_ADVERTISED_URL": "http://worker:6066"},
    }
    errors = "\n".join(compose_check.check_worker(bad))
    for needle in ("fixed host port", "container_name", "share", "SALES_API_ADVERTISED_URL"):
        assert needle in errors


def test_api_proxy_has_the_fixed_port_and_reaches_every_worker() -> None:
    services = compose_services()
    assert services["api"]["ports"] == ["127.0.0.1:6066:6066"]
    assert compose_check.check_api_proxy(services, "6066") == []
    text = (DEPLOY / "compose" / "api-proxy.conf").read_text("utf-8")
    assert "resolver 127.0.0.11" in text  # Docker's DNS, re-resolved: scaled workers are found
    assert "proxy_pass http://$workers:6066;" in text


def test_compose_prometheus_scrapes_every_worker_by_dns() -> None:
    services = compose_services()
    config = load(DEPLOY / "compose" / "prometheus.yml")
    job = compose_check.scrape_job(config, "salespulse")
    (sd,) = job["dns_sd_configs"]
    assert sd["names"] == ["worker"] and sd["type"] == "A" and sd["port"] == 6066
    assert "static_configs" not in job and "file_sd_configs" not in job
    mounts = [compose_check.volume_target(v) for v in services["prometheus"]["volumes"]]
    assert ("./compose/prometheus.yml", "/etc/prometheus/prometheus.yml") in mounts
    # otherwise deploy/prometheus/prometheus.yml: rules, alerting, jobs, intervals
    assert compose_check.check_prometheus(services, "6066") == []


def test_prometheus_check_refuses_a_single_static_worker(tmp_path: Path) -> None:
    config = load(DEPLOY / "compose" / "prometheus.yml")
    job = compose_check.scrape_job(config, "salespulse")
    del job["dns_sd_configs"]
    job["static_configs"] = [{"targets": ["worker:6066"]}]
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(config), "utf-8")
    original = compose_check.COMPOSE_PROMETHEUS
    compose_check.COMPOSE_PROMETHEUS = path
    try:
        errors = compose_check.check_prometheus(compose_services(), "6066")
    finally:
        compose_check.COMPOSE_PROMETHEUS = original
    assert any("dns_sd_configs" in e for e in errors)
    assert any("DNS only" in e for e in errors)


def worker_wanted_topics() -> dict[str, dict[str, str]]:
    env = compose_check.service_env(compose_services()["worker"])
    return {t.name: dict(t.topic_configs or {}) for t in wanted_topics(Settings.from_env(env))}


def test_compose_creates_the_topics_as_the_worker_does() -> None:
    wanted = worker_wanted_topics()
    compacted = {n for n, configs in wanted.items() if configs.get("cleanup.policy") == "compact"}
    assert {"sales.targets", "sales.performance"} <= compacted
    assert wanted["salespulse.scopes"] == purged_by_the_worker()
    script = compose_check.topics_script(compose_services()["topics"])
    assert compose_check.script_topics(script) == wanted
    assert compose_check.script_int_option(script, "partitions") == Settings().topic_partitions


def test_compose_topics_script_creates_and_compacts(tmp_path: Path) -> None:
    """The script of the topics service, run against stand-ins of the Kafka tools."""
    log = tmp_path / "calls.log"
    for tool in ("kafka-topics.sh", "kafka-configs.sh"):
        stub = tmp_path / tool
        stub.write_text(f'#!/bin/sh\necho "{tool} $*" >> "{log}"\n')
        stub.chmod(0o755)
    script = compose_check.topics_script(compose_services()["topics"])
    assert "bin=/opt/kafka/bin\n" in script
    script = script.replace("bin=/opt/kafka/bin\n", f"bin={tmp_path}\n", 1)
    subprocess.run(["bash", "-ec", script], check=True, capture_output=True, timeout=30)
    created: dict[str, dict[str, str]] = {}
    altered: dict[str, str] = {}
    for line in log.read_text().splitlines():
        tool, *args = line.split()
        opts = dict(zip(args, [*args[1:], ""], strict=True))
        if tool == "kafka-topics.sh" and "--create" in args:
            assert "--if-not-exists" in args
            assert opts["--partitions"] == str(Settings().topic_partitions)
            assert opts["--replication-factor"] == "1"
            configs = [args[i + 1] for i, a in enumerate(args) if a == "--config"]
            created[opts["--topic"]] = dict(c.split("=", 1) for c in configs)
        elif tool == "kafka-configs.sh":
            altered[opts["--entity-name"]] = opts["--add-config"]
    wanted = worker_wanted_topics()
    assert created == wanted
    # a topic left by an older stack (created without them) gets its configurations
    assert altered == {
        n: ",".join(f"{k}={v}" for k, v in c.items()) for n, c in wanted.items() if c
    }


# --------------------------------------------------------------------- requirements.lock

LOCK = DEPLOY / "requirements.lock"


def runtime_requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    return [Requirement(spec) for spec in project["dependencies"]]


def lock_pins(text: str) -> dict[str, tuple[str, list[str]]]:
    """{canonical name: (version, hashes)} of a pip-compile lock; anything else is an error."""
    pins: dict[str, tuple[str, list[str]]] = {}
    current = ""
    for line in text.splitlines():
        stripped = line.strip().rstrip("\\").strip()
        if not stripped or stripped.startswith("#"):
            continue
        if line[0].isspace():
            assert current and stripped.startswith("--hash=sha256:"), line
            pins[current][1].append(stripped.removeprefix("--hash="))
            continue
        match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;]+)", stripped)
        assert match, f"not an exact pin: {line!r}"
        current = canonicalize_name(match.group(1))
        assert current not in pins, f"{current} pinned twice"
        pins[current] = (match.group(2), [])
    return pins


def lock_problems(
    requirements: list[Requirement], pins: dict[str, tuple[str, list[str]]]
) -> list[str]:
    """What the lock gets wrong about these requirements: missing, or a version outside."""
    problems = []
    for req in requirements:
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        name = canonicalize_name(req.name)
        if name not in pins:
            problems.append(f"{name} is not in the lock")
        elif not req.specifier.contains(Version(pins[name][0]), prereleases=True):
            problems.append(f"{name}=={pins[name][0]} does not satisfy {req}")
    return problems


def test_lock_pins_every_runtime_dependency() -> None:
    requirements = runtime_requirements()
    assert requirements
    assert lock_problems(requirements, lock_pins(LOCK.read_text("utf-8"))) == []


def test_lock_is_hashed_for_the_python_of_the_image() -> None:
    text = LOCK.read_text("utf-8")
    pins = lock_pins(text)
    assert all(hashes for _, hashes in pins.values()), "pip install --require-hashes needs all"
    assert "--find-links" not in text and "--index-url" not in text
    (python,) = re.findall(r"autogenerated by pip-compile with Python (\d+\.\d+)", text)
    assert f"FROM python:{python}-slim" in (DEPLOY / "Dockerfile").read_text("utf-8")


def test_lock_check_catches_a_missing_or_unsatisfying_pin() -> None:
    requirements = [Requirement("orjson>=3.9"), Requirement("rich>=13"), Requirement("Mode==1")]
    pins = {"orjson": ("3.8.0", ["sha256:0"]), "mode": ("1", ["sha256:1"])}
    assert lock_problems(requirements, pins) == [
        "orjson==3.8.0 does not satisfy orjson>=3.9",
        "rich is not in the lock",
    ]
    with pytest.raises(AssertionError, match="not an exact pin"):
        lock_pins("orjson>=3.9 \\\n    --hash=sha256:0\n")


def test_dockerfile_installs_the_lock_then_the_package_alone() -> None:
    code = [
        line
        for line in (DEPLOY / "Dockerfile").read_text("utf-8").splitlines()
        if not line.lstrip().startswith("#")
    ]
    text = "\n".join(code)
    steps = [text.find(step) for step in compose_check.DOCKERFILE_STEPS]
    assert -1 not in steps and steps == sorted(steps), compose_check.DOCKERFILE_STEPS
    for line in code:
        if "pip install" in line:
            assert "--no-deps" in line, line
