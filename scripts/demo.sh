#!/usr/bin/env bash
# Runs the product on an embedded SQLite with demo data: FastAGI on 127.0.0.1:4573, the site on :5000.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export CALLCARDS_DEVELOPMENT=1
# The workspace's "Your day" shows the time left of these pause allowances (README).
export CALLCARDS_PAUSE_ALLOWANCES="${CALLCARDS_PAUSE_ALLOWANCES:-lunch=60,break=20}"
.venv/bin/callcards db upgrade
.venv/bin/callcards seed-demo --week
.venv/bin/callcards callbacks  # the lost callers of the demo week become callback tasks now
.venv/bin/callcards agi --listen "${CALLCARDS_AGI_LISTEN:-127.0.0.1:4573}" &
agi_pid=$!
trap 'kill $agi_pid 2>/dev/null || true' EXIT INT TERM
echo "== site on http://${CALLCARDS_WEB_LISTEN:-127.0.0.1:5000}  (logins: admin, supervisor, operator1, operator2; password = login)"
.venv/bin/callcards web --listen "${CALLCARDS_WEB_LISTEN:-127.0.0.1:5000}"
