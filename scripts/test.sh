#!/usr/bin/env bash
# The full test suite (see README, "The two commands"): static checks, generated-file
# drift, unit, integration and end-to-end tests against real servers, which
# are provisioned from the package registries on first use. Ends with one
# plain "N passed, N failed" line read from Vitest's JSON report.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
npm run check
status=0
npx vitest run --reporter=default --reporter=json --outputFile.json=reports/vitest.json || status=$?
node -e '
  const r = require("./reports/vitest.json");
  console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped`);
' || true
exit "$status"
