#!/usr/bin/env node
// `npm run build`: compiles src/ with swc and switches dist/ to the new output in one step, so processes that are
// running or starting from dist/ never see it empty or half written (building in place, as `nest build` does,
// deletes dist/ first: a worker started during a build died with "Cannot find module").
//
// Each build goes to a directory of its own, .build/dist-<time>-<pid>; dist is a symbolic link to the newest one,
// replaced with rename(2), which is atomic. A running process keeps using the build it started from (Node resolves
// the link when it loads a module), so the three newest builds are kept and older ones deleted. The build records
// when it started (.build-info.json), which scripts/start.js compares with src/ to refuse a stale dist/.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.join(__dirname, '..');
const BUILDS = path.join(ROOT, '.build');
const DIST = path.join(ROOT, 'dist');
const KEEP = 3;
const ABANDONED_MS = 60 * 60 * 1000;

function main() {
  const startedAt = Date.now();
  const id = `${startedAt}-${process.pid}`;
  fs.mkdirSync(BUILDS, { recursive: true });
  const staging = path.join(BUILDS, `tmp-${id}`);
  const tsconfig = path.join(BUILDS, `tsconfig-${id}.json`);
  fs.writeFileSync(
    tsconfig,
    JSON.stringify({ extends: '../tsconfig.json', compilerOptions: { outDir: `./tmp-${id}` } }, null, 2) + '\n',
  );
  try {
    const nest = path.join(ROOT, 'node_modules', '.bin', 'nest');
    const result = spawnSync(nest, ['build', '-b', 'swc', '-p', path.relative(ROOT, tsconfig)], {
      cwd: ROOT,
      stdio: 'inherit',
    });
    if (result.error) throw new Error(`nest build could not start: ${result.error.message}`);
    if (result.status !== 0) throw new Error(`nest build failed (exit status ${result.status ?? result.signal})`);
    if (!fs.existsSync(path.join(staging, 'main.js'))) throw new Error(`nest build wrote no main.js to ${staging}`);
    fs.writeFileSync(path.join(staging, '.build-info.json'), JSON.stringify({ startedAt }) + '\n');

    const finished = path.join(BUILDS, `dist-${id}`);
    fs.renameSync(staging, finished);
    pointDistAt(finished, id);
    removeOldBuilds(finished);
  } finally {
    fs.rmSync(tsconfig, { force: true });
    fs.rmSync(staging, { recursive: true, force: true });
  }
}

/** Replaces the dist link with one to `target` in a single rename. */
function pointDistAt(target, id) {
  const link = path.join(ROOT, `dist.tmp-${id}`);
  fs.symlinkSync(path.relative(ROOT, target), link, 'dir');
  try {
    fs.renameSync(link, DIST);
  } catch (error) {
    // dist is a real directory (built by an older version of this script or by `nest build`): move it away once.
    if (error.code !== 'EISDIR' && error.code !== 'ENOTEMPTY' && error.code !== 'EEXIST') throw error;
    fs.renameSync(DIST, path.join(BUILDS, `dist-0-${id}`));
    fs.renameSync(link, DIST);
  }
}

function removeOldBuilds(current) {
  const now = Date.now();
  const entries = fs.readdirSync(BUILDS);
  const builds = entries
    .filter((name) => name.startsWith('dist-'))
    .sort((a, b) => Number(b.split('-')[1]) - Number(a.split('-')[1]));
  for (const name of builds.slice(KEEP)) {
    const dir = path.join(BUILDS, name);
    if (dir !== current) fs.rmSync(dir, { recursive: true, force: true });
  }
  // Left behind by a build that was killed.
  for (const name of entries.filter((n) => n.startsWith('tmp-') || n.startsWith('tsconfig-'))) {
    const file = path.join(BUILDS, name);
    if (now - fs.statSync(file).mtimeMs > ABANDONED_MS) fs.rmSync(file, { recursive: true, force: true });
  }
}

try {
  main();
} catch (error) {
  console.error(`build: ${error.message}`);
  process.exit(1);
}
