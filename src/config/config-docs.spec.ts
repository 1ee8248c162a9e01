import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(__dirname, '..', '..');
const read = (file: string) => readFileSync(join(root, file), 'utf8');

describe('configuration documentation', () => {
  // Every variable config.ts reads, e.g. r.int('PORT', …), r.raw('TOKEN_HASH_KEY').
  const variables = [
    ...read('src/config/config.ts').matchAll(/r\.(?:int|string|oneOf|url|list|raw)\('([A-Z_]+)'/g),
  ].map((m) => m[1]);

  it('finds the variables', () => {
    expect(variables).toContain('PORT');
    expect(variables.length).toBeGreaterThan(20);
  });

  it('lists every variable in the README table and in .env.example', () => {
    const readme = read('README.md');
    const example = read('.env.example');
    const missing = [...new Set(variables)].filter(
      (name) => !readme.includes(`\`${name}\``) || !new RegExp(`^#? ?${name}=`, 'm').test(example),
    );
    expect(missing).toEqual([]);
  });
});
