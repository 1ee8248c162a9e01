#!/usr/bin/env bash
# Quick start: `npm run up` brings the whole gateway up on this machine (API and worker in one process).
# Installs dependencies when package.json or package-lock.json changed, makes sure PostgreSQL and Redis answer
# (installing them locally if needed), builds dist/, migrates the database, then starts the gateway in the foreground.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'up: %s\n' "$*"; }

if [[ -d node_modules && node_modules -nt package.json && (! -f package-lock.json || node_modules -nt package-lock.json) ]]; then
  say "dependencies are up to date"
else
  say "installing dependencies (npm install)"
  npm install --no-audit --no-fund
  # npm leaves the folder's mtime alone when nothing changed; mark it fresh so the next run skips this step.
  touch node_modules
fi

say "checking PostgreSQL and Redis"
bash scripts/ensure-services.sh

say "building (npm run build)"
npm run build --silent

say "migrating the database"
npm run db:migrate --silent

if [[ "${NODE_ENV:-development}" != production && (-z "${TOKEN_ENCRYPTION_KEYS:-}" || -z "${TOKEN_HASH_KEY:-}" || -z "${ADMIN_API_KEYS:-}") ]]; then
  keys="${DEV_KEYS_FILE:-.tg-gateway/dev-keys.json}"
  if [[ -f "$keys" ]]; then
    say "using the development keys in $keys (never use them in production)"
  else
    say "generating development keys into $keys at start (never use them in production)"
  fi
fi

say "starting the gateway (API and worker in one process; Ctrl-C stops it)"
exec npm start
