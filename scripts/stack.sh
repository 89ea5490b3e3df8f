#!/usr/bin/env bash
# Starts the whole stack with demo data (see README, "Run it"). Extra
# arguments go to scripts/stack.ts, e.g. --fresh or --help.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
exec npx tsx scripts/stack.ts "$@"
