"""Validate the Kubernetes manifests of deploy/kubernetes offline (`make k8s-check`).

Every resource listed in kustomization.yaml is checked against the Kubernetes OpenAPI schemas
that the PyPI package kubernetes-validate ships (strict: unknown fields are errors), for the
oldest Kubernetes version the manifests support (KUBERNETES_VERSION). The Prometheus Operator's
ServiceMonitor in monitoring/ has no schema there: its kind, apiVersion and the fields the
example relies on are checked instead. Exit status 0 when everything passes, 1 otherwise.

    .venv/bin/python deploy/kubernetes/check.py [--kubernetes-version 1.30.0]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import yaml

HERE = Path(__file__).resolve().parent
KUBERNETES_VERSION = "1.30.0"


def documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text("utf-8")) if doc]


def resource_files() -> list[Path]:
    kustomization = yaml.safe_load((HERE / "kustomization.yaml").read_text("utf-8"))
    return [HERE / name for name in kustomization["resources"]]


def check_service_monitor(path: Path) -> list[str]:
    errors = []
    for doc in documents(path):
        where = f"{path.relative_to(HERE)}: {doc.get('kind')}"
        if doc.get("apiVersion") != "monitoring.coreos.com/v1" or doc.get("kind") != (
            "ServiceMonitor"
        ):
            errors.append(f"{where}: expected a monitoring.coreos.com/v1 ServiceMonitor")
            continue
        spec = doc.get("spec", {})
        if not spec.get("selector", {}).get("matchLabels"):
            errors.append(f"{where}: spec.selector.matchLabels is empty")
        if not any(e.get("port") and e.get("path") for e in spec.get("endpoints", [])):
            errors.append(f"{where}: no endpoint with a port and a path")
    return errors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kubernetes-version", default=KUBERNETES_VERSION)
    args = parser.parse_args(argv)
    errors: list[str] = []
    checked = 0
    for path in resource_files():
        if not path.is_file():
            errors.append(f"kustomization.yaml lists {path.name}, which does not exist")
            continue
        for doc in documents(path):
            name = f"{path.name}: {doc.get('kind')}/{doc.get('metadata', {}).get('name')}"
            try:
                kubernetes_validate.validate(doc, args.kubernetes_version, strict=True)
            except kubernetes_validate.ValidationError as exc:  # a jsonschema error
                path_in_doc = ".".join(str(p) for p in exc.absolute_path)
                errors.append(f"{name}: {path_in_doc}: {exc.message}")
            except kubernetes_validate.SchemaNotFoundError as exc:
                errors.append(f"{name}: {exc.message}")
            else:
                checked += 1
                print(f"  valid: {name}")
    for path in sorted((HERE / "monitoring").glob("servicemonitor*.yaml")):
        found = check_service_monitor(path)
        errors += found
        if not found:
            print(f"  plausible: {path.relative_to(HERE)} (CRD, no schema)")
    for error in errors:
        print(f"error: {error}", file=sys.stderr)
    if errors:
        return 1
    print(f"{checked} Kubernetes resources valid for Kubernetes {args.kubernetes_version}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
