#!/usr/bin/env bash
# Installs everything the tests need (Debian packages, .venv, the Asterisk 22 sandbox root)
# and runs the whole suite: unit tests, PostgreSQL, real Asterisk calls, Chromium.
# Extra arguments go to pytest, e.g. scripts/test.sh -k hangup
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
export TEST_DATABASE_ADMIN_URL="${TEST_DATABASE_ADMIN_URL:-postgresql://postgres@127.0.0.1:5432/postgres}"
if ! .venv/bin/python -c "import os, sqlalchemy as sa; sa.create_engine(os.environ['TEST_DATABASE_ADMIN_URL'].replace('postgresql://', 'postgresql+psycopg2://', 1)).connect().close()" 2>/dev/null; then
  echo "PostgreSQL is not reachable at $TEST_DATABASE_ADMIN_URL (set TEST_DATABASE_ADMIN_URL)" >&2
  exit 2
fi
mkdir -p artifacts
exec .venv/bin/pytest -ra "$@"
