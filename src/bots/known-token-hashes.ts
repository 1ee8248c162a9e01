/** What the registry's token hashes add up to: compared with the registry's own to notice a missed change. */
export interface TokenHashFingerprint {
  count: number;
  /** Sum of the first 6 bytes of every hash, read as unsigned big-endian integers. */
  sum: bigint;
}

/** Bytes of each hash that go into the fingerprint's sum (BotRepository.tokenHashFingerprint reads the same). */
export const FINGERPRINT_PREFIX_BYTES = 6;

/**
 * The blind indexes (base64) of every registered token, so that a webhook call with a token no bot has is refused
 * without asking Postgres. A superset is harmless (such a token costs one lookup, which finds nothing); a missing
 * hash would refuse a real bot, so when in doubt a hash is added, never removed.
 *
 * A running fingerprint (count and sum of hash prefixes) is kept with the set, so it can be compared with the
 * registry's in one small query, without sending the set anywhere.
 */
export class KnownTokenHashes {
  private readonly hashes = new Set<string>();
  private sum = 0n;

  constructor(hashes: Iterable<string> = []) {
    for (const hash of hashes) this.add(hash);
  }

  has(hash: string): boolean {
    return this.hashes.has(hash);
  }

  add(hash: string): void {
    if (this.hashes.has(hash)) return;
    this.hashes.add(hash);
    this.sum += prefixOf(hash);
  }

  delete(hash: string): void {
    if (!this.hashes.delete(hash)) return;
    this.sum -= prefixOf(hash);
  }

  get size(): number {
    return this.hashes.size;
  }

  matches(fingerprint: TokenHashFingerprint): boolean {
    return fingerprint.count === this.hashes.size && fingerprint.sum === this.sum;
  }
}

function prefixOf(hash: string): bigint {
  return BigInt(Buffer.from(hash, 'base64').readUIntBE(0, FINGERPRINT_PREFIX_BYTES));
}
