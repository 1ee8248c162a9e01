import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { builtFile } from './support/processes';

const ROOT = resolve(__dirname, '..');

/**
 * Allocates objects from one allocation site and keeps them all, which is what makes V8 pretenure a site, then says
 * whether a new object from that site starts in the young generation. PROBE_LOAD: a module to load first.
 */
const PROBE = `
if (process.env.PROBE_LOAD) require(process.env.PROBE_LOAD);
function make(i) { return { a: i, nested: { b: i }, list: [i, i + 1] }; }
const keep = [];
for (let i = 0; i < 600000; i++) keep.push(make(i));
process.stdout.write(%InYoungGeneration(make(1)) ? 'young' : 'old');
`;

function probe(load?: string): string {
  return execFileSync(process.execPath, ['--allow-natives-syntax', '-e', PROBE], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...(load ? { PROBE_LOAD: load } : {}) },
    encoding: 'utf8',
  });
}

// docs/architecture.md, "API heap": every gateway process turns V8's allocation-site pretenuring off at start
// (src/runtime-flags.ts, the first import of bootstrap.ts, which every entry point loads).
describe('V8 flags of gateway processes', () => {
  it('this Node.js pretenures a site whose objects all survive (else the next test proves nothing)', () => {
    expect(probe(), 'V8 no longer pretenures here: re-measure whether src/runtime-flags.ts is still needed').toBe(
      'old',
    );
  });

  it('a process that loads the gateway allocates in the young generation regardless', () => {
    expect(probe(builtFile('bootstrap'))).toBe('young');
  });
});
