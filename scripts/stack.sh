#!/usr/bin/env bash
# Starts the whole stack with demo data (see README, "Run it"). Extra
# arguments go to scripts/stack.ts, e.g. --fresh or --help.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
# node itself, with tsx as a loader, replaces this shell: the pid that started
# the script is then the stack, so `kill -TERM`/`-INT` of it stops everything
# as Ctrl-C does. (With `exec npx tsx` that pid was npx's, and killing it left
# tsx and the stack running, orphaned.)
exec node --import tsx scripts/stack.ts "$@"
