#!/usr/bin/env node
// Runs `prisma generate` without the native schema engine. Generation itself is done in WebAssembly, but the
// Prisma CLI insists on a schema-engine binary being present and tries to download one from a host that may be
// unreachable. Pointing PRISMA_SCHEMA_ENGINE_BINARY at any existing file skips that download; an explicitly set
// value (a machine with a real engine) is left alone.
'use strict';
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const env = { ...process.env };
env.PRISMA_SCHEMA_ENGINE_BINARY ??= __filename;
env.PRISMA_HIDE_UPDATE_MESSAGE = '1';
const bin = path.join(__dirname, '..', 'node_modules', '.bin', 'prisma');
const result = spawnSync(bin, ['generate'], { stdio: 'inherit', env, cwd: path.join(__dirname, '..') });
if (result.error) {
  console.error(`prisma generate could not start: ${result.error.message}`);
  process.exit(1);
}
process.exit(result.status ?? 1);
