"""Validate deploy/docker-compose.yml without a Docker engine (`make compose-check`).

1. The real Compose validator: `docker-compose -f deploy/docker-compose.yml config -q`
   (Debian package `docker-compose`, Compose 1.29 with the Compose-spec JSON schema; it also
   checks that build contexts exist), or `docker compose config -q` when the Compose v2 plugin
   is installed. Neither needs a running engine. Without either, this script fails and says
   which package to install.
2. Project checks the schema cannot make: the services exist; Kafka is the official
   apache/kafka image of the version deploy/kafka/kafka_local.py runs (KRaft); the worker is
   built from deploy/Dockerfile, which installs deploy/requirements.lock; the worker scales
   (`--scale worker=N`: no fixed host port, container name or host name, no shared data
   volume, no fixed advertised URL); the `topics` service creates exactly the topics of
   streams/worker/topics.py (wanted_topics) with their partitions and cleanup policies;
   Prometheus finds every worker by DNS (deploy/compose/prometheus.yml, otherwise equal to
   deploy/prometheus/prometheus.yml); the `api` proxy reaches the workers by DNS; every
   bind-mounted host path exists.
3. When installed: `promtool check config` on the Prometheus configuration as the container
   sees it, and `nginx -t` on the proxy configuration (skipped, and said, otherwise).

Exit status 0 when everything passes, 1 otherwise.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

DEPLOY = Path(__file__).resolve().parent
ROOT = DEPLOY.parent
COMPOSE_FILE = DEPLOY / "docker-compose.yml"
COMPOSE_PROMETHEUS = DEPLOY / "compose" / "prometheus.yml"
API_PROXY = DEPLOY / "compose" / "api-proxy.conf"
PROMETHEUS = DEPLOY / "prometheus" / "prometheus.yml"
KAFKA_LOCAL = DEPLOY / "kafka" / "kafka_local.py"
LOCK_FILE = DEPLOY / "requirements.lock"
REQUIRED_SERVICES = ("kafka", "topics", "worker", "api", "prometheus", "alertmanager", "grafana")
#: the install steps of deploy/Dockerfile, in this order
DOCKERFILE_STEPS = (
    "COPY deploy/requirements.lock ./deploy/requirements.lock",
    "pip install --no-deps --require-hashes -r deploy/requirements.lock",
    "COPY streams ./streams",
    "pip install --no-deps .",
    "pip check",
)
INSTALL_HINT = (
    "install Debian's docker-compose package without the engine it recommends: "
    "apt-get install -y --no-install-recommends docker-compose"
)


def compose_command() -> list[str] | None:
    """The Compose CLI that can validate the file, or None."""
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    if shutil.which("docker"):
        probe = subprocess.run(
            ["docker", "compose", "version"], capture_output=True, text=True, check=False
        )
        if probe.returncode == 0:
            return ["docker", "compose"]
    return None


def run_validator(path: Path) -> list[str]:
    command = compose_command()
    if command is None:
        return [f"no Compose validator (neither docker-compose nor docker compose): {INSTALL_HINT}"]
    env = {**os.environ, "COMPOSE_PROJECT_NAME": "salespulse"}
    result = subprocess.run(
        [*command, "-f", str(path), "config", "-q"],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        cwd=path.parent,
    )
    if result.returncode != 0:
        output = (result.stderr + result.stdout).strip()
        return [f"`{' '.join(command)} config -q` rejected {path.name}:\n{output}"]
    print(f"ok: {' '.join(command)} -f {path} config -q")
    return []


# ------------------------------------------------------------------------------ helpers


def service_env(service: dict[str, Any]) -> dict[str, str]:
    """A service's environment as a dict, `${NAME:-default}` replaced by its default."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {
        str(k): re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", "" if v is None else str(v))
        for k, v in env.items()
    }


def kafka_version(path: Path = KAFKA_LOCAL) -> str:
    """KAFKA_VERSION of deploy/kafka/kafka_local.py: the broker the tests run."""
    match = re.search(r'^KAFKA_VERSION = "([^"]+)"', path.read_text("utf-8"), re.MULTILINE)
    if not match:
        raise ValueError(f"{path} has no KAFKA_VERSION")
    return match.group(1)


def fixed_host_ports(service: dict[str, Any]) -> list[str]:
    """The `ports` entries of a service that publish on one fixed host port: a second replica
    could not have it. A port Docker picks (`127.0.0.1::6066`) or a range of them scales."""
    fixed = []
    for entry in service.get("ports") or []:
        if isinstance(entry, dict):
            published = str(entry.get("published") or "")
        else:
            # [ip:][host:]container[/protocol]; an empty host part is a port Docker picks
            parts = str(entry).split("/", 1)[0].rsplit(":", 2)
            published = parts[-2] if len(parts) >= 2 else ""
        if published and "-" not in published:
            fixed.append(str(entry))
    return fixed


def volume_target(volume: str | dict[str, Any]) -> tuple[str | None, str]:
    """(source, target) of a volume entry; source None for an anonymous volume."""
    if isinstance(volume, dict):
        return volume.get("source"), str(volume.get("target", ""))
    parts = volume.split(":")
    if len(parts) == 1:
        return None, parts[0]
    return parts[0], parts[1]


def mounts(service: dict[str, Any]) -> dict[str, str | None]:
    """{container path: host source (None: anonymous)} of a service's volumes."""
    return dict(reversed(volume_target(v)) for v in service.get("volumes") or [])


def topics_script(service: dict[str, Any]) -> str:
    """The shell script of the one-shot `topics` service, `$$` unescaped."""
    command = service.get("command") or []
    text = command if isinstance(command, str) else "\n".join(str(c) for c in command)
    return text.replace("$$", "$")


def script_topics(script: str) -> dict[str, dict[str, str]]:
    """{topic: configs} the `topics` script creates (`topic NAME`, `compacted NAME` and
    `purged NAME` lines: the last, the internal topic the workers purge)."""
    from streams.worker.topics import purged_by_the_worker

    kinds = {
        "topic": {},
        "compacted": {"cleanup.policy": "compact"},
        "purged": purged_by_the_worker(),
    }
    found: dict[str, dict[str, str]] = {}
    pattern = r"^\s*(topic|compacted|purged)\s+([\w.-]+)\s*$"
    for kind, name in re.findall(pattern, script, re.MULTILINE):
        found[name] = dict(kinds[kind])
    return found


def script_int_option(script: str, option: str) -> int | None:
    values = set(re.findall(rf"--{option}\s+(\d+)", script))
    return int(values.pop()) if len(values) == 1 else None


def worker_topics(env: dict[str, str]) -> tuple[dict[str, dict[str, str]], int, int]:
    """What the worker with this environment creates: ({topic: configs}, partitions, RF)."""
    from streams.worker.settings import Settings
    from streams.worker.topics import wanted_topics

    settings = Settings.from_env(env)
    topics = {t.name: dict(t.topic_configs or {}) for t in wanted_topics(settings)}
    return topics, settings.topic_partitions, settings.replication_factor


def rel(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def scrape_job(config: dict[str, Any], name: str) -> dict[str, Any]:
    return next((j for j in config.get("scrape_configs") or [] if j["job_name"] == name), {})


# ------------------------------------------------------------------------------- checks


def check_kafka(services: dict[str, Any]) -> list[str]:
    errors = []
    want = f"apache/kafka:{kafka_version()}"
    for name in ("kafka", "topics"):
        image = str(services[name].get("image", ""))
        if image != want:
            errors.append(
                f"{name} must use {want} (KAFKA_VERSION of deploy/kafka/kafka_local.py), "
                f"not {image!r}"
            )
    if "controller" not in service_env(services["kafka"]).get("KAFKA_PROCESS_ROLES", ""):
        errors.append("kafka must run in KRaft mode (KAFKA_PROCESS_ROLES with controller)")
    return errors


def check_image(path: Path, worker: dict[str, Any]) -> list[str]:
    errors = []
    build = worker.get("build") or {}
    context = (path.parent / build.get("context", ".")).resolve()
    dockerfile = context / build.get("dockerfile", "Dockerfile")
    if dockerfile != DEPLOY / "Dockerfile":
        return [f"worker must be built from deploy/Dockerfile, not {dockerfile}"]
    if not (context / "pyproject.toml").is_file():
        return [f"worker build context {context} has no pyproject.toml"]
    text = dockerfile.read_text("utf-8")
    if "FROM python:3.11-slim" not in text:
        errors.append("deploy/Dockerfile must start FROM python:3.11-slim")
    if 'CMD ["salespulse", "worker"]' not in text:
        errors.append('deploy/Dockerfile must end with CMD ["salespulse", "worker"]')
    if not LOCK_FILE.is_file():
        errors.append("deploy/requirements.lock is missing (make lock)")
    code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    positions = [code.find(step) for step in DOCKERFILE_STEPS]
    if -1 in positions or positions != sorted(positions):
        errors.append(
            "deploy/Dockerfile must install the lock, then the package alone, in this order: "
            + "; ".join(DOCKERFILE_STEPS)
        )
    return errors


def check_worker(worker: dict[str, Any]) -> list[str]:
    errors = []
    env = service_env(worker)
    for key, want in (("KAFKA_BOOTSTRAP", "kafka:9092"), ("SALES_API_HOST", "0.0.0.0")):
        if env.get(key) != want:
            errors.append(f"worker environment {key} must be {want}, not {env.get(key)!r}")
    if env.get("SALES_API_ADVERTISED_URL"):
        errors.append(
            "worker must not set SALES_API_ADVERTISED_URL: every replica would advertise the "
            "same URL (unset, each derives it from its own host name)"
        )
    if "topics" not in (worker.get("depends_on") or {}):
        errors.append("worker must depend on the one-shot topics service")
    # `docker compose up --scale worker=N`
    for key in ("container_name", "hostname"):
        if key in worker:
            errors.append(f"worker must not set {key}: every replica would have the same")
    for entry in fixed_host_ports(worker):
        errors.append(f"worker publishes the fixed host port {entry!r}: a second replica fails")
    replicas = (worker.get("deploy") or {}).get("replicas", worker.get("scale", 1))
    if int(replicas) < 2:
        errors.append(f"the stack must run two or more workers (deploy.replicas), not {replicas}")
    data_dir = env.get("SALES_DATA_DIR", "/var/lib/salespulse/data")
    for volume in worker.get("volumes") or []:
        source, target = volume_target(volume)
        if target.rstrip("/") == data_dir.rstrip("/") and source is not None:
            errors.append(
                f"worker mounts {source!r} at SALES_DATA_DIR: every replica would share it "
                "(an anonymous volume is one per replica)"
            )
    return errors


def check_topics(services: dict[str, Any]) -> list[str]:
    try:
        wanted, partitions, replication = worker_topics(service_env(services["worker"]))
    except ImportError as exc:
        return [f"cannot import streams.worker.topics ({exc}): run `make install`"]
    errors = []
    script = topics_script(services["topics"])
    created = script_topics(script)
    for name in sorted(wanted.keys() | created.keys()):
        if name not in created:
            errors.append(f"the topics service does not create {name} (see wanted_topics)")
        elif name not in wanted:
            errors.append(f"the topics service creates {name}, which wanted_topics lacks")
        elif created[name] != wanted[name]:
            errors.append(
                f"the topics service creates {name} with configs {created[name]}, the worker "
                f"with {wanted[name]} (streams/worker/topics.py, wanted_topics)"
            )
    if script_int_option(script, "partitions") != partitions:
        errors.append(f"the topics service must create {partitions} partitions per topic")
    if script_int_option(script, "replication-factor") != replication:
        errors.append(f"the topics service must use replication factor {replication}")
    if shutil.which("bash"):
        syntax = subprocess.run(
            ["bash", "-n", "-c", script], capture_output=True, text=True, check=False
        )
        if syntax.returncode != 0:
            errors.append(f"the topics script is not valid bash: {syntax.stderr.strip()}")
    return errors


def check_prometheus(services: dict[str, Any], port: str) -> list[str]:
    import yaml

    errors = []
    mounted = mounts(services["prometheus"])
    if mounted.get("/etc/prometheus/prometheus.yml") != "./compose/prometheus.yml":
        errors.append("prometheus must mount ./compose/prometheus.yml at /etc/prometheus")
    if mounted.get("/etc/prometheus/targets") != "./prometheus/targets-compose":
        errors.append("prometheus must mount ./prometheus/targets-compose over targets/")
    config = yaml.safe_load(COMPOSE_PROMETHEUS.read_text("utf-8"))
    job = scrape_job(config, "salespulse")
    want = {"names": ["worker"], "type": "A", "port": int(port)}
    sd = job.get("dns_sd_configs") or []
    if not any(want.items() <= c.items() for c in sd):
        errors.append(
            f"{rel(COMPOSE_PROMETHEUS)}: job salespulse must find every worker "
            f"replica by DNS: dns_sd_configs with {want}"
        )
    if job.get("static_configs") or job.get("file_sd_configs"):
        errors.append("job salespulse must take its targets from DNS only")
    # the rest as deploy/prometheus/prometheus.yml
    main = yaml.safe_load(PROMETHEUS.read_text("utf-8"))
    for key in ("global", "rule_files", "alerting"):
        if config.get(key) != main.get(key):
            errors.append(f"{COMPOSE_PROMETHEUS.name}: {key} differs from {PROMETHEUS.name}")
    names = [j["job_name"] for j in config.get("scrape_configs") or []]
    if names != [j["job_name"] for j in main.get("scrape_configs") or []]:
        errors.append(f"{COMPOSE_PROMETHEUS.name}: scrape jobs differ from {PROMETHEUS.name}")
    discovery = {"static_configs", "file_sd_configs", "dns_sd_configs", "relabel_configs"}
    for name in names:
        ours, theirs = scrape_job(config, name), scrape_job(main, name)
        if name == "salespulse":  # all but where the targets come from
            ours = {k: v for k, v in ours.items() if k not in discovery}
            theirs = {k: v for k, v in theirs.items() if k not in discovery}
        if ours != theirs:
            errors.append(f"{COMPOSE_PROMETHEUS.name}: job {name} differs from {PROMETHEUS.name}")
    return errors


def check_api_proxy(services: dict[str, Any], port: str) -> list[str]:
    errors = []
    if mounts(services["api"]).get("/etc/nginx/conf.d/default.conf") != "./compose/api-proxy.conf":
        errors.append("api must mount ./compose/api-proxy.conf at /etc/nginx/conf.d/default.conf")
    if f"127.0.0.1:{port}:{port}" not in (services["api"].get("ports") or []):
        errors.append(f"api must publish 127.0.0.1:{port}:{port}")
    text = API_PROXY.read_text("utf-8")
    # a variable in proxy_pass: resolved at Docker's DNS per request, every replica
    variable = re.search(r"set \$(\w+) worker;", text)
    if not re.search(r"^resolver 127\.0\.0\.11\b", text, re.MULTILINE) or not (
        variable and f"proxy_pass http://${variable.group(1)}:{port};" in text
    ):
        errors.append(
            f"{rel(API_PROXY)} must proxy to http://$var:{port} with $var = worker, "
            "resolved by Docker's DNS (resolver 127.0.0.11)"
        )
    return errors


def check_bind_mounts(path: Path, services: dict[str, Any]) -> list[str]:
    errors = []
    for name, service in services.items():
        for volume in service.get("volumes") or []:
            source, _ = volume_target(volume)
            if source and source.startswith((".", "/")) and not (path.parent / source).exists():
                errors.append(f"{name}: bind-mounted path {source} does not exist")
    return errors


def project_checks(path: Path) -> list[str]:
    try:
        import yaml
    except ImportError:
        return ["PyYAML is missing: run `make install` (it is a test dependency)"]
    doc = yaml.safe_load(path.read_text("utf-8"))
    services: dict[str, Any] = doc.get("services") or {}
    errors = [f"service {name!r} is missing" for name in REQUIRED_SERVICES if name not in services]
    if errors:
        return errors
    port = service_env(services["worker"]).get("SALES_API_PORT", "6066")
    return [
        *check_kafka(services),
        *check_image(path, services["worker"]),
        *check_worker(services["worker"]),
        *check_topics(services),
        *check_prometheus(services, port),
        *check_api_proxy(services, port),
        *check_bind_mounts(path, services),
    ]


# -------------------------------------------------------------------- optional tools


def tool_checks() -> list[str]:
    """promtool and nginx on the files as the containers see them, when installed."""
    errors = []
    with tempfile.TemporaryDirectory() as tmp:
        etc = Path(tmp) / "prometheus"
        # the mounts of the prometheus service
        shutil.copytree(DEPLOY / "prometheus", etc)
        shutil.copy(COMPOSE_PROMETHEUS, etc / "prometheus.yml")
        shutil.rmtree(etc / "targets")
        shutil.copytree(DEPLOY / "prometheus" / "targets-compose", etc / "targets")
        config = str(etc / "prometheus.yml")
        errors += _run_tool("promtool", ["promtool", "check", "config", config])
        conf = Path(tmp) / "nginx.conf"
        conf.write_text(
            f"pid {tmp}/nginx.pid;\nerror_log stderr;\nevents {{}}\n"
            f"http {{\n    access_log off;\n    include {API_PROXY};\n}}\n"
        )
        errors += _run_tool("nginx", ["nginx", "-t", "-q", "-p", tmp, "-c", str(conf)])
    return errors


def _run_tool(tool: str, command: list[str]) -> list[str]:
    if not shutil.which(tool):
        print(f"skipped: {tool} is not installed ({' '.join(command[1:3])})")
        return []
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        return [f"`{' '.join(command)}` failed:\n{(result.stdout + result.stderr).strip()}"]
    print(f"ok: {' '.join(command[:3])}")
    return []


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    path = Path(args[0]).resolve() if args else COMPOSE_FILE
    errors = run_validator(path) + project_checks(path) + tool_checks()
    for error in errors:
        print(f"compose check: {error}", file=sys.stderr)
    if errors:
        return 1
    print(f"ok: {rel(path)}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))  # streams, when the package is not installed
    sys.exit(main())
