#!/usr/bin/env bash
# The test command (`npm test`): installs dependencies when missing, makes sure PostgreSQL and Redis answer
# (installing them locally if needed), builds dist/ (the CLI tests run dist/cli.js), then runs vitest. Extra
# arguments go to vitest, e.g.
#   npm test -- src/infra/database/migrator.spec.ts
# Tests use TEST_DATABASE_URL (default postgresql://postgres:postgres@127.0.0.1:5432/tg_gateway_test) and
# TEST_REDIS_URL (default redis://127.0.0.1:6379); DATABASE_URL and REDIS_URL are not used by the tests.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ ! -d node_modules ]]; then
  echo "test: installing dependencies (npm install)"
  npm install --no-audit --no-fund
fi

echo "test: checking PostgreSQL and Redis"
DATABASE_URL="${TEST_DATABASE_URL:-}" REDIS_URL="${TEST_REDIS_URL:-}" bash scripts/ensure-services.sh --with-redis-server

# The CLI tests run the compiled CLI (node dist/cli.js) as operators do, so dist/ must match the sources.
echo "test: building (npm run build)"
npm run build --silent

echo "test: vitest run $*"
exec npx vitest run "$@"
