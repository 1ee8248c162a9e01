import { ChildProcess, spawn } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { testEnv } from './support/harness';

/**
 * Starting the gateway as users do (`npm run build`, then `npm start`, `start:api`, `start:worker`, `db:migrate`,
 * `cli`): the start scripts never build, refuse a missing or stale dist/, and a build never pulls dist/ away from
 * processes that are starting; several workers run on one host without settings.
 */
const ROOT = resolve(__dirname, '..');
const temporary: string[] = [];
const children: ChildProcess[] = [];

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A command in its own process group, so that stopping it also stops what npm started. */
function launch(command: string, args: string[], cwd: string, env: Record<string, string> = {}) {
  const child = spawn(command, args, {
    cwd,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? tmpdir(), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const done = new Promise<Run>((settle) => child.on('close', (code) => settle({ code, stdout, stderr })));
  return { child, done, output: () => stdout + stderr };
}

function run(command: string, args: string[], cwd: string, env?: Record<string, string>): Promise<Run> {
  return launch(command, args, cwd, env).done;
}

function stop(child: ChildProcess): void {
  if (child.exitCode === null && child.signalCode === null && child.pid) {
    try {
      process.kill(-child.pid, 'SIGTERM');
    } catch {
      // already gone
    }
  }
}

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tgw-start-'));
  temporary.push(dir);
  return dir;
}

afterEach(() => {
  children.splice(0).forEach(stop);
});

afterAll(() => {
  for (const dir of temporary) rmSync(dir, { recursive: true, force: true });
});

const ENTRIES: [script: string[], entry: string][] = [
  [['start'], 'main'],
  [['run', 'start:api'], 'main-api'],
  [['run', 'start:worker'], 'main-worker'],
  [['run', 'db:migrate'], 'migrate'],
  [['run', 'cli', '--', 'bots', 'list'], 'cli'],
];

/**
 * A project with this package.json and scripts/, a src/ and a dist/ of stand-in entries that print their name and
 * arguments: what a start script runs is seen, and a build would have replaced them (or failed: no node_modules).
 */
function standInProject(): string {
  const dir = tempDir();
  cpSync(join(ROOT, 'package.json'), join(dir, 'package.json'));
  cpSync(join(ROOT, 'scripts'), join(dir, 'scripts'), { recursive: true });
  mkdirSync(join(dir, 'src'));
  writeFileSync(join(dir, 'src', 'main.ts'), '// source\n');
  const past = new Date(Date.now() - 60_000);
  utimesSync(join(dir, 'src', 'main.ts'), past, past);
  mkdirSync(join(dir, 'dist'));
  for (const [, entry] of ENTRIES) {
    writeFileSync(
      join(dir, 'dist', `${entry}.js`),
      `console.log('stand-in ${entry} ran with', JSON.stringify(process.argv.slice(2)));\n`,
    );
  }
  writeFileSync(join(dir, 'dist', '.build-info.json'), JSON.stringify({ startedAt: Date.now() - 1000 }));
  return dir;
}

describe('start scripts', { timeout: 120_000 }, () => {
  it('run dist/ as it is, without building', async () => {
    const dir = standInProject();
    const runs = await Promise.all(ENTRIES.map(([script]) => run('npm', script, dir)));
    runs.forEach((result, i) => {
      const [script, entry] = ENTRIES[i];
      const args = entry === 'cli' ? '["bots","list"]' : '[]';
      expect({ script, code: result.code, stderr: result.stderr }).toEqual({ script, code: 0, stderr: '' });
      expect(result.stdout).toContain(`stand-in ${entry} ran with ${args}`);
    });
    // Nothing was rebuilt: the stand-ins are still there.
    expect(readFileSync(join(dir, 'dist', 'main-worker.js'), 'utf8')).toContain('stand-in main-worker');
  });

  it('refuse with one line when dist/ is missing or older than src/', async () => {
    const missing = standInProject();
    rmSync(join(missing, 'dist'), { recursive: true });
    const stale = standInProject();
    writeFileSync(join(stale, 'src', 'main.ts'), '// changed after the build\n');

    const [noDist, oldDist] = await Promise.all([
      run('npm', ['run', '--silent', 'start:worker'], missing),
      run('npm', ['run', '--silent', 'cli', '--', 'bots', 'list'], stale),
    ]);
    expect(noDist.code).toBe(1);
    expect(noDist.stdout).toBe('');
    expect(noDist.stderr).toContain('error: dist/main-worker.js is missing: build first with `npm run build`\n');
    expect(oldDist.code).toBe(1);
    expect(oldDist.stdout).toBe('');
    expect(oldDist.stderr).toContain(
      'error: dist/ is older than src/ (src/main.ts changed since the last build): run `npm run build`\n',
    );
  });
});

describe('npm run build', { timeout: 120_000 }, () => {
  it('switches dist/ to the new build in one step: processes starting meanwhile always find it whole', async () => {
    // A copy of the project whose dist/ is a complete earlier build (a plain directory, as older builds left it).
    const dir = tempDir();
    for (const file of ['package.json', 'tsconfig.json', 'nest-cli.json', 'src', 'scripts']) {
      cpSync(join(ROOT, file), join(dir, file), { recursive: true, dereference: true });
    }
    symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
    cpSync(join(ROOT, 'dist'), join(dir, 'dist'), { recursive: true, dereference: true });

    const keys = testEnv('http://127.0.0.1:9');
    const build = launch('npm', ['run', 'build'], dir);
    let finished = false;
    void build.done.then(() => (finished = true));
    const gaps: string[] = [];
    const starts: Promise<Run>[] = [];
    let polls = 0;
    while (!finished) {
      for (const entry of ['main.js', 'main-worker.js', 'cli.js', 'generated/prisma/client.js']) {
        if (!existsSync(join(dir, 'dist', entry))) gaps.push(`dist/${entry} missing after ${polls} polls`);
      }
      // A process started during the build, as a second terminal would: `npm run cli -- --version`.
      if (polls % 40 === 0 && starts.length < 3) {
        starts.push(run(process.execPath, [join(dir, 'dist', 'cli.js'), '--version'], dir, keys));
      }
      polls++;
      await new Promise((wake) => setTimeout(wake, 5));
    }
    const result = await build.done;
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(gaps).toEqual([]);
    for (const start of await Promise.all(starts)) {
      expect({ code: start.code, stdout: start.stdout.trim() }).toEqual({ code: 0, stdout: '0.1.0' });
    }
    // The new build is in place and recorded when it started, for the start scripts' staleness check.
    const info = JSON.parse(readFileSync(join(dir, 'dist', '.build-info.json'), 'utf8')) as { startedAt: number };
    expect(info.startedAt).toBeGreaterThan(Date.now() - 120_000);
    expect(existsSync(join(dir, 'dist', 'main-worker.js'))).toBe(true);
  });
});

describe('several workers on one host', { timeout: 120_000 }, () => {
  it('start with `npm run start:worker` and no settings, side by side', async () => {
    const env = { ...testEnv('http://127.0.0.1:9'), LOG_LEVEL: 'info' };
    const workers = [0, 1].map(() => launch('npm', ['run', 'start:worker'], ROOT, env));
    for (const worker of workers) {
      const deadline = Date.now() + 60_000;
      while (!worker.output().includes('Running up to')) {
        if (worker.child.exitCode !== null) throw new Error(`a worker exited:\n${worker.output()}`);
        if (Date.now() > deadline) throw new Error(`a worker did not start:\n${worker.output()}`);
        await new Promise((wake) => setTimeout(wake, 100));
      }
    }
    await new Promise((wake) => setTimeout(wake, 500));
    for (const worker of workers) {
      expect(worker.child.exitCode).toBeNull();
      expect(worker.output()).toContain('no HTTP listener; set WORKER_PORT for /health and /metrics');
      expect(worker.output()).not.toContain('EADDRINUSE');
    }
  });

  it('serve health and metrics on WORKER_PORT when it is set', async () => {
    const port = await new Promise<number>((found) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const { port: free } = probe.address() as { port: number };
        probe.close(() => found(free));
      });
    });
    const env = { ...testEnv('http://127.0.0.1:9'), WORKER_PORT: String(port) };
    const worker = launch('npm', ['run', 'start:worker'], ROOT, env);
    const deadline = Date.now() + 60_000;
    let live: Response | undefined;
    while (!live) {
      if (worker.child.exitCode !== null) throw new Error(`the worker exited:\n${worker.output()}`);
      if (Date.now() > deadline) throw new Error(`no health endpoint on ${port}:\n${worker.output()}`);
      live = await fetch(`http://127.0.0.1:${port}/health/live`).catch(() => undefined);
      if (!live) await new Promise((wake) => setTimeout(wake, 100));
    }
    expect(live.status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${port}/metrics`)).status).toBe(200);
  });
});
