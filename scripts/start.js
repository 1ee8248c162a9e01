#!/usr/bin/env node
// `npm start`, `npm run start:api`, `start:worker`, `db:migrate` and `cli`: runs dist/<entry>.js as it is, never
// building (a build under running or starting processes is what broke them). Refuses, with one line saying what to
// do, when dist/ is missing or older than src/. Usage: node scripts/start.js <entry> [arguments for the entry]
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.join(__dirname, '..');
const ENTRIES = ['main', 'main-api', 'main-worker', 'migrate', 'cli'];

/** The problem with dist/ for this entry, or undefined when it can run. */
function distProblem(entry) {
  const file = path.join(ROOT, 'dist', `${entry}.js`);
  if (!fs.existsSync(file)) return `dist/${entry}.js is missing: build first with \`npm run build\``;
  const src = path.join(ROOT, 'src');
  if (!fs.existsSync(src)) return undefined; // an image or package with dist/ only
  const builtAt = buildTime(file);
  const newer = newestFile(src);
  if (newer && newer.mtimeMs > builtAt) {
    return `dist/ is older than src/ (${path.relative(ROOT, newer.file)} changed since the last build): run \`npm run build\``;
  }
  return undefined;
}

/** When the build that produced dist/ started (scripts/build.js records it); else the entry file's time. */
function buildTime(entryFile) {
  try {
    const info = JSON.parse(fs.readFileSync(path.join(ROOT, 'dist', '.build-info.json'), 'utf8'));
    if (typeof info.startedAt === 'number') return info.startedAt;
  } catch {
    // built some other way
  }
  return fs.statSync(entryFile).mtimeMs;
}

function newestFile(dir) {
  let newest;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    if (!entry.isDirectory() && entry.name.endsWith('.spec.ts')) continue; // tests do not run from dist/
    const candidate = entry.isDirectory() ? newestFile(file) : { file, mtimeMs: fs.statSync(file).mtimeMs };
    if (candidate && (!newest || candidate.mtimeMs > newest.mtimeMs)) newest = candidate;
  }
  return newest;
}

const entry = process.argv[2];
if (!ENTRIES.includes(entry)) {
  console.error(`usage: node scripts/start.js <${ENTRIES.join('|')}> [arguments]`);
  process.exit(2);
}
const problem = distProblem(entry);
if (problem) {
  console.error(`error: ${problem}`);
  process.exit(1);
}
// The entry sees the arguments as if it had been started directly: node dist/<entry>.js [arguments].
const file = path.join(ROOT, 'dist', `${entry}.js`);
process.argv.splice(1, 2, file);
require(file);
