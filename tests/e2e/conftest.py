"""Fixtures of the end-to-end tests: a real Prometheus and Alertmanager (Debian's packages).

- `prometheus` (function): a factory. `prometheus(target)` starts `/usr/bin/prometheus` on a
  free loopback port with a configuration generated from deploy/prometheus/prometheus.yml:
  the same rule files (deploy/prometheus/recording_rules.yml and alert_rules.yml), scrape and
  evaluation interval 1 s, one static target (job "salespulse", the worker's 127.0.0.1:PORT),
  storage in a temporary folder. `for_overrides={"SalesTargetAtRisk": "2s"}` loads a copy of
  alert_rules.yml whose alerts have that `for:` instead (production keeps 15m);
  `alertmanager="127.0.0.1:PORT"` sends the alerts there. Every server is stopped afterwards.
- `alertmanager` (function): a factory. `alertmanager()` starts `/usr/bin/prometheus-alertmanager`
  with deploy/alertmanager/alertmanager.yml adapted to a test: its webhook receivers point at
  an HTTP server of the test (`server.webhooks` collects what they receive), group waits are
  1 s, storage is temporary, clustering is off. Every server is stopped afterwards.
- `e2e_cluster` (function): a `tests.support.workers.Cluster` whose workers evaluate targets
  every second (SALES_EVALUATION_INTERVAL=1); its workers are stopped afterwards.

The processes get SIGTERM when the test process dies (PR_SET_PDEATHSIG), and run in their own
session so that stopping them never touches anything else.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import load_kafka_local
from tests.support.workers import REPO_ROOT, Cluster, free_port, http_get

PROMETHEUS_DIR = REPO_ROOT / "deploy" / "prometheus"
ALERTMANAGER_CONFIG = REPO_ROOT / "deploy" / "alertmanager" / "alertmanager.yml"
PROMETHEUS_BIN = shutil.which("prometheus") or "/usr/bin/prometheus"
ALERTMANAGER_BIN = (
    shutil.which("prometheus-alertmanager")
    or shutil.which("alertmanager")
    or "/usr/bin/prometheus-alertmanager"
)


@dataclass
class Server:
    """A subprocess serving HTTP on 127.0.0.1:port, its log in a file."""

    name: str
    port: int
    command: list[str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=load_kafka_local().sigterm_when_parent_exits,
            )

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        if self.process is None or not self.alive():
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=20)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    async def wait_ready(self, path: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if not self.alive():
                raise AssertionError(f"{self.name} exited:\n{self.log_tail()}")
            try:
                status, _ = await http_get(self.url + path)
                if status == 200:
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name} never ready:\n{self.log_tail()}")
            await asyncio.sleep(0.2)


@dataclass
class PrometheusServer(Server):
    config_path: Path = Path()

    async def api(self, path: str, **params: str) -> Any:
        """GET /api/v1/<path>; the `data` of a successful answer."""
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        status, body = await http_get(f"{self.url}/api/v1/{path}{query}")
        assert status == 200 and isinstance(body, dict), (path, params, status, body)
        assert body["status"] == "success", body
        return body["data"]

    async def query(self, expr: str) -> list[dict[str, Any]]:
        """An instant query; the result vector (or scalar, as a one-element list)."""
        data = await self.api("query", query=expr)
        if data["resultType"] in ("scalar", "string"):
            return [{"metric": {}, "value": data["result"]}]
        return list(data["result"])

    async def alerts(self) -> list[dict[str, Any]]:
        """Active alerts (pending and firing)."""
        return list((await self.api("alerts"))["alerts"])

    async def ready(self) -> None:
        await self.wait_ready("/-/ready")


@dataclass
class Webhooks:
    """An HTTP server that stores the JSON bodies POSTed to it: (path, body)."""

    received: list[tuple[str, Any]] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None
    thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.server_address[1])

    def start(self) -> Webhooks:
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                try:
                    received.append((self.path, json.loads(body)))
                except ValueError:
                    received.append((self.path, body.decode(errors="replace")))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


@dataclass
class AlertmanagerServer(Server):
    webhooks: Webhooks = field(default_factory=Webhooks)

    async def alerts(self) -> list[dict[str, Any]]:
        """GET /api/v2/alerts: every alert it holds, with `receivers` and `status`."""
        status, body = await http_get(f"{self.url}/api/v2/alerts")
        assert status == 200 and isinstance(body, list), (status, body)
        return body

    async def ready(self) -> None:
        await self.wait_ready("/-/ready")


def prometheus_config(
    target: str, rule_files: list[str], alertmanager: str | None, interval: str
) -> dict[str, Any]:
    """deploy/prometheus/prometheus.yml, adapted: one static worker target, short intervals."""
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text("utf-8"))
    config["global"].update(
        {"scrape_interval": interval, "evaluation_interval": interval, "scrape_timeout": interval}
    )
    config["rule_files"] = rule_files
    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == "salespulse"]
    job.pop("file_sd_configs", None)
    job.update(
        {
            "scrape_interval": interval,
            "scrape_timeout": interval,
            "static_configs": [{"targets": [target]}],
        }
    )
    config["scrape_configs"] = [job]
    if alertmanager:
        (am,) = config["alerting"]["alertmanagers"]
        am.pop("file_sd_configs", None)
        am["static_configs"] = [{"targets": [alertmanager]}]
    else:
        config.pop("alerting", None)
    return config


def rule_files_with(for_overrides: Mapping[str, str], directory: Path) -> list[str]:
    """The rule files of prometheus.yml (absolute), alert `for:`s replaced where asked."""
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text("utf-8"))
    paths: list[str] = []
    unknown = set(for_overrides)
    for name in config["rule_files"]:
        source = (PROMETHEUS_DIR / name).resolve()
        doc = yaml.safe_load(source.read_text("utf-8"))
        changed = False
        for group in doc["groups"]:
            for rule in group["rules"]:
                if rule.get("alert") in for_overrides:
                    rule["for"] = for_overrides[rule["alert"]]
                    unknown.discard(rule["alert"])
                    changed = True
        if changed:
            copy = directory / source.name
            copy.write_text(yaml.safe_dump(doc, sort_keys=False, width=1000), "utf-8")
            paths.append(str(copy))
        else:
            paths.append(str(source))
    assert not unknown, f"no such alert in the rule files: {sorted(unknown)}"
    return paths


@pytest.fixture
def prometheus(tmp_path: Path) -> Iterator[Callable[..., PrometheusServer]]:
    """Factory: start Debian's Prometheus scraping one worker (see the module docstring)."""
    if not Path(PROMETHEUS_BIN).exists():
        pytest.skip("Debian's prometheus package is not installed")
    started: list[PrometheusServer] = []

    def start(
        target: str,
        *,
        for_overrides: Mapping[str, str] | None = None,
        alertmanager: str | None = None,
        interval: str = "1s",
    ) -> PrometheusServer:
        port = free_port()
        base = tmp_path / f"prometheus-{port}"
        base.mkdir()
        rule_files = rule_files_with(for_overrides or {}, base)
        config_path = base / "prometheus.yml"
        config = prometheus_config(target, rule_files, alertmanager, interval)
        config_path.write_text(yaml.safe_dump(config, sort_keys=False), "utf-8")
        server = PrometheusServer(
            name="prometheus",
            port=port,
            command=[
                PROMETHEUS_BIN,
                f"--config.file={config_path}",
                f"--storage.tsdb.path={base / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--log.level=warn",
            ],
            log_path=base / "prometheus.log",
            config_path=config_path,
        )
        started.append(server)
        server.start()
        return server

    try:
        yield start
    finally:
        for server in started:
            server.stop()


def alertmanager_config(webhook_port: int) -> dict[str, Any]:
    """deploy/alertmanager/alertmanager.yml with its webhooks on the test's loopback server and
    1 s group waits (the routes, receivers and inhibitions are unchanged)."""
    config = yaml.safe_load(ALERTMANAGER_CONFIG.read_text("utf-8"))

    def shorten(route: dict[str, Any]) -> None:
        route["group_wait"] = "1s"
        route["group_interval"] = "1s"
        for sub in route.get("routes", []):
            shorten(sub)

    shorten(config["route"])
    for receiver in config["receivers"]:
        for hook in receiver.get("webhook_configs", []):
            path = urllib.parse.urlsplit(hook["url"]).path
            hook["url"] = f"http://127.0.0.1:{webhook_port}{path}"
    return config


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[Callable[[], AlertmanagerServer]]:
    """Factory: start Debian's Alertmanager (see the module docstring)."""
    if not Path(ALERTMANAGER_BIN).exists():
        pytest.skip("Debian's prometheus-alertmanager package is not installed")
    started: list[AlertmanagerServer] = []

    def start() -> AlertmanagerServer:
        webhooks = Webhooks().start()
        port = free_port()
        base = tmp_path / f"alertmanager-{port}"
        base.mkdir()
        config_path = base / "alertmanager.yml"
        config_path.write_text(
            yaml.safe_dump(alertmanager_config(webhooks.port), sort_keys=False), "utf-8"
        )
        server = AlertmanagerServer(
            name="alertmanager",
            port=port,
            command=[
                ALERTMANAGER_BIN,
                f"--config.file={config_path}",
                f"--storage.path={base / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--cluster.listen-address=",
                "--log.level=warn",
            ],
            log_path=base / "alertmanager.log",
            webhooks=webhooks,
        )
        started.append(server)
        server.start()
        return server

    try:
        yield start
    finally:
        for server in started:
            server.stop()
            server.webhooks.stop()


@pytest.fixture
def e2e_cluster(kafka_bootstrap: str, unique_name: str, tmp_path: Path) -> Iterator[Cluster]:
    """Workers that evaluate targets every second; stopped afterwards."""
    cluster = Cluster(
        bootstrap=kafka_bootstrap,
        name=unique_name,
        base_dir=tmp_path,
        extra_env={"SALES_EVALUATION_INTERVAL": "1"},
    )
    try:
        yield cluster
    finally:
        cluster.stop()
