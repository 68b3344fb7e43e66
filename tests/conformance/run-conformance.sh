#!/usr/bin/env bash
# ctest entry of the SDK conformance suites: the official @trigger.dev/sdk
# (pinned in package.json) against a real sessionscope-server. Exits 77 (ctest
# SKIP_RETURN_CODE) when node or the installed packages are missing; CI has
# both (scripts/test runs `npm ci` here).
set -uo pipefail
cd "$(dirname "$0")" || exit 1
if ! command -v node >/dev/null 2>&1; then
  echo "SKIP: node is not installed; the SDK conformance suites need Node.js >= 18.20"
  exit 77
fi
for pkg in sdk core; do
  if [ ! -f "node_modules/@trigger.dev/$pkg/package.json" ]; then
    echo "SKIP: node_modules/@trigger.dev/$pkg is missing; run 'npm ci' in tests/conformance (scripts/test does)"
    exit 77
  fi
done
if [ -z "${SESSIONSCOPE_SERVER_BIN:-}" ] || [ ! -x "$SESSIONSCOPE_SERVER_BIN" ]; then
  echo "FAIL: SESSIONSCOPE_SERVER_BIN does not name the sessionscope-server binary" >&2
  exit 1
fi
exec node --test --test-reporter=spec sessions.test.mjs channels.test.mjs
