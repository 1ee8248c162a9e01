import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/config';

/** The repository as a fresh clone has it: what its files point a reader to must be there. */
const ROOT = resolve(__dirname, '..');

describe('project files', () => {
  it('name only Markdown documents that are in the repository', () => {
    const tracked = execFileSync('git', ['ls-files'], { cwd: ROOT, encoding: 'utf8' }).split('\n').filter(Boolean);
    const missing: string[] = [];
    for (const file of tracked) {
      if (!existsSync(join(ROOT, file)) || /\.(png|jpe?g|gif|ico|lock)$/.test(file) || file === 'package-lock.json') {
        continue;
      }
      const text = readFileSync(join(ROOT, file), 'utf8');
      for (const [name] of text.matchAll(/[A-Za-z0-9_./-]+\.md\b/g)) {
        const candidates = [join(ROOT, name), join(ROOT, file, '..', name)];
        if (!candidates.some((path) => existsSync(path))) missing.push(`${file} names ${name}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('give the Compose services more time to stop than a graceful shutdown takes', () => {
    const compose = readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8');
    const key = () => randomBytes(32).toString('base64');
    const { shutdownTimeoutMs } = loadConfig({
      TOKEN_ENCRYPTION_KEYS: `k1:${key()}`,
      TOKEN_HASH_KEY: key(),
      ADMIN_API_KEYS: 'a-long-enough-admin-key',
    });
    expect(compose).not.toMatch(/SHUTDOWN_TIMEOUT_MS\s*[:=]/); // set there: compare with that value instead
    for (const service of ['api', 'worker']) {
      const block = compose.match(new RegExp(`^  ${service}:\\n((?:    .*\\n|\\s*\\n)+)`, 'm'))?.[1] ?? '';
      const grace = block.match(/stop_grace_period: (\d+)s/)?.[1];
      expect(grace, `${service}: stop_grace_period`).toBeDefined();
      expect(Number(grace) * 1000, service).toBeGreaterThan(shutdownTimeoutMs);
    }
  });

  it('start every worker with the young generation it is measured with (docs/architecture.md, "Worker heap")', () => {
    const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');
    const scripts = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts;
    const flag = '--max-semi-space-size=64';
    const starts = {
      'npm start': scripts.start,
      'npm run start:worker': scripts['start:worker'],
      'the image': read('Dockerfile').match(/^CMD .*$/m)?.[0],
      'compose worker': read('docker-compose.yml').match(/command: \[.*main-worker\.js'\]/)?.[0],
      'systemd unit': read('docs/deploy/tg-gateway.service').match(/^ExecStart=.*main\.js$/m)?.[0],
      benchmarks: read('bench/lib.mjs').match(/WORKER_NODE_FLAGS = \[.*\]/)?.[0],
    };
    for (const [where, command] of Object.entries(starts)) expect(command, where).toContain(flag);
    // The API alone keeps V8's default (measured slower with it).
    expect(scripts['start:api']).not.toContain('semi-space');
  });
});
