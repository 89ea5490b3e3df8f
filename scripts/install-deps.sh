#!/usr/bin/env bash
# Installs the npm dependencies exactly as locked, unless they already are.
# Servers (PostgreSQL, Redis, Neo4j, Kafka) are provisioned later, on first
# use, by packages/devservices.
set -euo pipefail
cd "$(dirname "$0")/.."
stamp=node_modules/.package-lock.json
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ]; then
  echo "[setup] npm ci"
  npm ci --no-audit --no-fund
fi
