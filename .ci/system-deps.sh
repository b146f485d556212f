#!/usr/bin/env bash
# System packages salespulse needs besides the Python venv (idempotent, quiet, starts nothing):
#   prometheus, prometheus-alertmanager   promtool / prometheus / prometheus-alertmanager binaries
#   docker-compose (1.29, Debian)           `docker-compose config` validates deploy/docker-compose.yml; no engine
#   default-jre-headless, maven           only when java / mvn are missing (local Kafka broker)
#   openssl                               only when missing (throwaway CA of the SASL_SSL broker)
#   gcc, libc6-dev                        only when gcc is missing (setup.py compiles the fold)
# Debian's prometheus packages would start their services on install; a policy-rc.d that
# answers 101 ("action forbidden") keeps invoke-rc.d / deb-systemd-invoke from doing so.
# Usage: bash .ci/system-deps.sh               (root, or passwordless sudo)
#        bash .ci/system-deps.sh --kafka-only  only what a local broker needs (java, maven):
#                                              what `make run` and `make kafka-up` use
set -euo pipefail

log_file="$(mktemp -t system-deps.XXXXXX.log)"
policy=/usr/sbin/policy-rc.d
policy_backup=""
policy_created=0

die() {
    echo "system-deps: error: $*" >&2
    exit 1
}

cleanup() {
    if [[ -n "$policy_backup" ]]; then
        $SUDO mv -f "$policy_backup" "$policy"
    elif [[ "$policy_created" == 1 ]]; then
        $SUDO rm -f "$policy"
    fi
    rm -f "$log_file"
}

installed() { # installed PACKAGE -> 0 when dpkg has it fully installed
    [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" == "install ok installed" ]]
}

missing=()
kafka_only=0
[[ "${1:-}" == "--kafka-only" ]] && kafka_only=1
if [[ "$kafka_only" == 0 ]]; then
    for pkg in prometheus prometheus-alertmanager docker-compose; do
        installed "$pkg" || missing+=("$pkg")
    done
fi
command -v java >/dev/null 2>&1 || missing+=(default-jre-headless)
command -v mvn >/dev/null 2>&1 || missing+=(maven)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
if [[ "$kafka_only" == 0 ]]; then
    command -v gcc >/dev/null 2>&1 || missing+=(gcc libc6-dev)
fi

if [[ ${#missing[@]} -eq 0 ]]; then
    exit 0
fi

command -v apt-get >/dev/null 2>&1 || die "apt-get not found; install by hand: ${missing[*]}"
if [[ $(id -u) -eq 0 ]]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo -n"
else
    die "need root (or passwordless sudo) to install: ${missing[*]}"
fi
trap cleanup EXIT

# Forbid service starts during the installation (restored afterwards).
if [[ -e "$policy" ]]; then
    policy_backup="$(mktemp -t policy-rc.d.XXXXXX)"
    $SUDO cp -p "$policy" "$policy_backup"
else
    policy_created=1
fi
printf '#!/bin/sh\n# written by salespulse .ci/system-deps.sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
$SUDO chmod 0755 "$policy"

export DEBIAN_FRONTEND=noninteractive
apt_opts=(-q -y -o DPkg::Lock::Timeout=300 -o Dpkg::Use-Pty=0)

# apt-get update once, and only when a missing package has no install candidate yet.
need_update=0
for pkg in "${missing[@]}"; do
    candidate="$(apt-cache policy "$pkg" 2>/dev/null | awk '/Candidate:/ {print $2}')"
    if [[ -z "$candidate" || "$candidate" == "(none)" ]]; then
        need_update=1
        break
    fi
done
if [[ "$need_update" == 1 ]]; then
    echo "system-deps: apt-get update"
    if ! $SUDO apt-get "${apt_opts[@]}" update >"$log_file" 2>&1; then
        tail -n 20 "$log_file" >&2
        die "apt-get update failed"
    fi
fi

echo "system-deps: installing ${missing[*]}"
if ! $SUDO apt-get "${apt_opts[@]}" install --no-install-recommends "${missing[@]}" \
    >"$log_file" 2>&1; then
    tail -n 30 "$log_file" >&2
    die "apt-get install ${missing[*]} failed"
fi

bins=(java mvn openssl)
[[ "$kafka_only" == 1 ]] || bins+=(promtool prometheus prometheus-alertmanager docker-compose gcc)
for bin in "${bins[@]}"; do
    command -v "$bin" >/dev/null 2>&1 || die "$bin is still missing after the installation"
done
echo "system-deps: done"
