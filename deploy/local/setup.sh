#!/usr/bin/env bash
# Prepare a bare Debian machine (root, Python 3.11) for spendstream: system packages from apt
# when missing, then a virtualenv in .venv with pinned Python packages (constraints.txt).
# Usage: deploy/local/setup.sh [--test]   (--test also installs victoria-metrics, stunnel4, chromium and
# the manifest validators' npm packages for the tests)
set -euo pipefail
cd "$(dirname "$0")/../.."

want=()
command -v javac >/dev/null || want+=(openjdk-17-jdk-headless)  # Flink, and javac for jobs/java
command -v influxd >/dev/null || want+=(influxdb)
command -v prometheus-pushgateway >/dev/null || want+=(prometheus-pushgateway)
[[ "${1:-}" == "--test" ]] && ! command -v victoria-metrics >/dev/null && want+=(victoria-metrics)
[[ "${1:-}" == "--test" ]] && ! command -v stunnel4 >/dev/null && want+=(stunnel4)
[[ "${1:-}" == "--test" ]] && ! command -v chromium >/dev/null && want+=(chromium)
[[ "${1:-}" == "--test" ]] && ! command -v npm >/dev/null && want+=(nodejs npm)
python3 -c 'import ensurepip, venv' 2>/dev/null || want+=(python3-venv)
command -v gcc >/dev/null || want+=(gcc python3-dev)
if ((${#want[@]})); then
  echo "==> apt-get install ${want[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${want[@]}" >/dev/null
fi
# The Debian packages enable system services; spendstream runs its own instances instead.
for service in influxdb victoria-metrics stunnel4 prometheus-pushgateway; do
  if command -v systemctl >/dev/null && systemctl is-active --quiet "$service" 2>/dev/null; then
    systemctl stop "$service" || true
  fi
done

stamp=.venv/.spendstream-installed
if [[ ! -f $stamp || constraints.txt -nt $stamp || pyproject.toml -nt $stamp ]]; then
  echo "==> creating .venv and installing Python packages (about a minute)"
  python3 -m venv .venv
  log=$(mktemp)
  if ! { .venv/bin/pip install --upgrade pip && .venv/bin/pip install -c constraints.txt -e '.[dev]'; } >"$log" 2>&1; then
    tail -40 "$log"; echo "pip install failed (full log: $log)" >&2; exit 1
  fi
  rm -f "$log"
  touch "$stamp"
fi

# The cost job's Java functions (jobs/java) into Flink's lib/: rebuilt only when they or the schemas change.
.venv/bin/python -m spendstream.java_functions

# The FlinkDeployment validator's npm packages (pinned by tests/manifests/package-lock.json).
if [[ "${1:-}" == "--test" && ! -d tests/manifests/node_modules ]]; then
  echo "==> npm ci in tests/manifests (manifest schema validators)"
  (cd tests/manifests && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi
