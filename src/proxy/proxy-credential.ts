import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * A proxy credential: `<the bot's Telegram id>:tgwp<16 hex: the credential id, not secret><43 base64url: 32 random
 * bytes>`. It has the shape of a bot token (digits, a colon, 63 URL-safe characters), so client libraries that check
 * tokens (aiogram wants digits before the colon) accept it, and the gateway's log redaction treats it as one.
 */
export const CREDENTIAL_SHAPE = /^(\d{1,20}):tgwp([0-9a-f]{16})([A-Za-z0-9_-]{43})$/;

export interface ParsedCredential {
  telegramId: string;
  id: string;
  secret: string;
}

export function parseCredential(presented: string): ParsedCredential | null {
  const match = CREDENTIAL_SHAPE.exec(presented);
  if (!match) return null;
  const [, telegramId, id, secret] = match;
  return { telegramId, id, secret };
}

/** A new credential of a bot: the whole string (shown once), its id, and the hash to store. */
export function newCredential(telegramId: bigint | string): { credential: string; id: string; secretHash: Buffer } {
  const id = randomBytes(8).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  return { credential: `${telegramId}:tgwp${id}${secret}`, id, secretHash: hashSecret(secret) };
}

/** SHA-256: the secret has 256 bits of entropy, so a plain hash cannot be searched. */
export function hashSecret(secret: string): Buffer {
  return createHash('sha256').update(secret, 'utf8').digest();
}

/** Compares in constant time, so the time taken does not tell how much of a hash matched. */
export function secretMatches(stored: Uint8Array, secret: string): boolean {
  const digest = hashSecret(secret);
  const expected = Buffer.from(stored);
  return expected.length === digest.length && timingSafeEqual(expected, digest);
}
