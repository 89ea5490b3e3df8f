#!/usr/bin/env bash
# The full test suite (see README, "The two commands"): static checks, generated-file
# drift, unit, integration and end-to-end tests against real servers, which
# are provisioned from the package registries on first use. Writes JUnit XML and
# whole-repo coverage (floor: 80 % lines and branches, vitest.config.ts) under
# reports/, then the release evidence bundle from them (npm run evidence,
# docs/adr/0032-release-evidence.md), also when a test failed. Ends with one
# plain "N passed, N failed" line read from Vitest's JSON report.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
npm run check
status=0
npx vitest run --coverage --reporter=default --reporter=json --outputFile.json=reports/vitest.json \
  --reporter=junit --outputFile.junit=reports/junit.xml || status=$?
npm run -s evidence || status=$((status == 0 ? 1 : status))
node -e '
  const r = require("./reports/vitest.json");
  console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped`);
' || true
exit "$status"
