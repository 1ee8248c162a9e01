import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

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
});
