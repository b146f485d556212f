"""Validate deploy/docker-compose.yml without a Docker engine (`make compose-check`).

1. The real Compose validator: `docker-compose -f deploy/docker-compose.yml config -q`
   (Debian package `docker-compose`, Compose 1.29 with the Compose-spec JSON schema; it also
   checks that build contexts exist), or `docker compose config -q` when the Compose v2 plugin
   is installed. Neither needs a running engine. Without either, this script fails and says
   which package to install.
2. Project checks the schema cannot make: the services exist, Kafka is the official
   apache/kafka image, the worker is built from deploy/Dockerfile with the right environment,
   every bind-mounted host path exists, and Prometheus scrapes the worker's port.

Exit status 0 when everything passes, 1 otherwise.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

DEPLOY = Path(__file__).resolve().parent
COMPOSE_FILE = DEPLOY / "docker-compose.yml"
REQUIRED_SERVICES = ("kafka", "topics", "worker", "prometheus", "alertmanager", "grafana")
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


def _env(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(k): str(v) for k, v in env.items()}


def project_checks(path: Path) -> list[str]:
    try:
        import yaml
    except ImportError:
        return ["PyYAML is missing: run `make install` (it is a test dependency)"]
    errors: list[str] = []
    doc = yaml.safe_load(path.read_text("utf-8"))
    services: dict[str, Any] = doc.get("services") or {}
    for name in REQUIRED_SERVICES:
        if name not in services:
            errors.append(f"service {name!r} is missing")
    if errors:
        return errors

    if not str(services["kafka"].get("image", "")).startswith("apache/kafka:"):
        errors.append("kafka must use the official apache/kafka image")
    if "controller" not in _env(services["kafka"]).get("KAFKA_PROCESS_ROLES", ""):
        errors.append("kafka must run in KRaft mode (KAFKA_PROCESS_ROLES with controller)")

    worker = services["worker"]
    build = worker.get("build") or {}
    context = (path.parent / build.get("context", ".")).resolve()
    dockerfile = context / build.get("dockerfile", "Dockerfile")
    if dockerfile != DEPLOY / "Dockerfile":
        errors.append(f"worker must be built from deploy/Dockerfile, not {dockerfile}")
    elif not (context / "pyproject.toml").is_file():
        errors.append(f"worker build context {context} has no pyproject.toml")
    else:
        text = dockerfile.read_text("utf-8")
        if "FROM python:3.11-slim" not in text:
            errors.append("deploy/Dockerfile must start FROM python:3.11-slim")
        if 'CMD ["salespulse", "worker"]' not in text:
            errors.append('deploy/Dockerfile must end with CMD ["salespulse", "worker"]')
    env = _env(worker)
    for key, want in (("KAFKA_BOOTSTRAP", "kafka:9092"), ("SALES_API_HOST", "0.0.0.0")):
        if env.get(key) != want:
            errors.append(f"worker environment {key} must be {want}, not {env.get(key)!r}")
    depends = worker.get("depends_on") or {}
    if "topics" not in depends:
        errors.append("worker must depend on the one-shot topics service")

    for name, service in services.items():
        for volume in service.get("volumes") or []:
            source = volume.split(":", 1)[0] if isinstance(volume, str) else volume.get("source")
            if source and source.startswith((".", "/")) and not (path.parent / source).exists():
                errors.append(f"{name}: bind-mounted path {source} does not exist")

    port = env.get("SALES_API_PORT", "6066")
    targets = DEPLOY / "prometheus" / "targets-compose" / "salespulse.yml"
    groups = yaml.safe_load(targets.read_text("utf-8")) if targets.exists() else []
    wanted = f"worker:{port}"
    if not any(wanted in group.get("targets", []) for group in groups or []):
        errors.append(f"{targets.relative_to(DEPLOY.parent)} must list {wanted}")
    return errors


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    path = Path(args[0]).resolve() if args else COMPOSE_FILE
    errors = run_validator(path) + project_checks(path)
    for error in errors:
        print(f"compose check: {error}", file=sys.stderr)
    if errors:
        return 1
    print(f"ok: {path.relative_to(DEPLOY.parent) if path.is_relative_to(DEPLOY.parent) else path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
