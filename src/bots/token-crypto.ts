import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';
import { EncryptionKey } from '../config/config';

/** `<bot id>:<secret part>` as BotFather issues them. */
export const TOKEN_SHAPE = /^\d{5,20}:[A-Za-z0-9_-]{30,64}$/;

export type SecretPurpose = 'bot-token' | 'webhook-secret' | 'destination-secret';

const VERSION = 1;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

export class DecryptionError extends Error {
  constructor(readonly reason: 'malformed' | 'unknown_key' | 'authentication_failed') {
    super(`Cannot decrypt secret: ${reason}`);
    this.name = 'DecryptionError';
  }
}

/**
 * AES-256-GCM with a keyring. The primary (first) key encrypts; every key decrypts, so keys can rotate without a
 * flag day. Envelope: version (1 byte) | key id length (1) | key id | nonce (12) | tag (16) | ciphertext.
 *
 * The additional authenticated data names the purpose and the row id, so a ciphertext copied to another bot's
 * row, or a webhook secret swapped with a token, fails authentication instead of decrypting.
 */
export class Keyring {
  private readonly keys: Map<string, Buffer>;
  readonly primaryKeyId: string;

  constructor(keys: EncryptionKey[]) {
    if (keys.length === 0) throw new Error('Keyring needs at least one key');
    for (const { id, key } of keys) {
      if (key.length !== 32) throw new Error(`Key "${id}" must be 32 bytes`);
      if (Buffer.byteLength(id) > 255) throw new Error('Key id too long');
    }
    this.keys = new Map(keys.map((k) => [k.id, k.key]));
    this.primaryKeyId = keys[0].id;
  }

  encrypt(plaintext: string, purpose: SecretPurpose, rowId: string): Buffer {
    const keyId = Buffer.from(this.primaryKeyId, 'utf8');
    const header = Buffer.concat([Buffer.from([VERSION, keyId.length]), keyId]);
    // A random 96-bit nonce per message: with far fewer than 2^32 encryptions per key, collisions are negligible.
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.keys.get(this.primaryKeyId)!, nonce);
    cipher.setAAD(aad(header, purpose, rowId));
    const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return Buffer.concat([header, nonce, cipher.getAuthTag(), ciphertext]);
  }

  decrypt(envelope: Uint8Array, purpose: SecretPurpose, rowId: string): string {
    const data = Buffer.from(envelope);
    const { keyId, headerLength } = parseHeader(data);
    const key = this.keys.get(keyId);
    if (!key) throw new DecryptionError('unknown_key');
    const nonce = data.subarray(headerLength, headerLength + NONCE_BYTES);
    const tag = data.subarray(headerLength + NONCE_BYTES, headerLength + NONCE_BYTES + TAG_BYTES);
    const ciphertext = data.subarray(headerLength + NONCE_BYTES + TAG_BYTES);
    const decipher = createDecipheriv('aes-256-gcm', key, nonce);
    decipher.setAAD(aad(data.subarray(0, headerLength), purpose, rowId));
    decipher.setAuthTag(tag);
    try {
      return Buffer.concat([decipher.update(ciphertext), decipher.final()]).toString('utf8');
    } catch {
      throw new DecryptionError('authentication_failed');
    }
  }

  /** The id of the key an envelope was written with (for re-encryption after a rotation). */
  static keyIdOf(envelope: Uint8Array): string {
    return parseHeader(Buffer.from(envelope)).keyId;
  }
}

function parseHeader(data: Buffer): { keyId: string; headerLength: number } {
  if (data.length < 2 || data[0] !== VERSION) throw new DecryptionError('malformed');
  const headerLength = 2 + data[1];
  if (data.length < headerLength + NONCE_BYTES + TAG_BYTES) throw new DecryptionError('malformed');
  return { keyId: data.subarray(2, headerLength).toString('utf8'), headerLength };
}

function aad(header: Buffer, purpose: SecretPurpose, rowId: string): Buffer {
  return Buffer.concat([header, Buffer.from(`|tg-gateway|${purpose}|${rowId}`, 'utf8')]);
}

/**
 * Blind index of a token: HMAC-SHA256 under a key of its own. It lets the webhook find a bot by the token in the
 * URL without the token being stored in clear, and without the encryption keys being usable to forge lookups.
 */
export function tokenBlindIndex(hashKey: Buffer, token: string): Buffer {
  return createHmac('sha256', hashKey).update(token, 'utf8').digest();
}

/** A webhook secret_token: 32 random bytes, base64url (43 characters of Telegram's allowed A-Za-z0-9_-). */
export function generateWebhookSecret(): string {
  return randomBytes(32).toString('base64url');
}
