import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { KnownTokenHashes } from './known-token-hashes';

const hash = (n: number) => createHash('sha256').update(String(n)).digest('base64');
/** The fingerprint the registry computes (count, sum of the first 6 bytes), done independently. */
const fingerprintOf = (hashes: string[]) => ({
  count: hashes.length,
  sum: hashes.reduce((sum, h) => sum + BigInt('0x' + Buffer.from(h, 'base64').subarray(0, 6).toString('hex')), 0n),
});

describe('KnownTokenHashes', () => {
  it('knows the hashes it holds', () => {
    const known = new KnownTokenHashes([hash(1), hash(2)]);
    expect(known.has(hash(1))).toBe(true);
    expect(known.has(hash(3))).toBe(false);
    known.add(hash(3));
    known.delete(hash(1));
    expect([known.has(hash(1)), known.has(hash(3)), known.size]).toEqual([false, true, 2]);
  });

  it("keeps a fingerprint that matches the registry's only for the same set", () => {
    const all = Array.from({ length: 1000 }, (_, i) => hash(i));
    const known = new KnownTokenHashes(all);
    expect(known.matches(fingerprintOf(all))).toBe(true);
    // Adding twice or deleting an absent hash changes nothing.
    known.add(all[0]);
    known.delete(hash(5000));
    expect(known.matches(fingerprintOf(all))).toBe(true);
    // A missed new bot, a missed delete, a missed token change (same count).
    expect(known.matches(fingerprintOf([...all, hash(1000)]))).toBe(false);
    expect(known.matches(fingerprintOf(all.slice(1)))).toBe(false);
    expect(known.matches(fingerprintOf([...all.slice(1), hash(1000)]))).toBe(false);
    known.delete(all[0]);
    known.add(hash(1000));
    expect(known.matches(fingerprintOf([...all.slice(1), hash(1000)]))).toBe(true);
  });
});
