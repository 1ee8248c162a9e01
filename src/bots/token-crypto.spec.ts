import { randomBytes, randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DecryptionError, generateWebhookSecret, Keyring, tokenBlindIndex } from './token-crypto';

const token = '123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawQ';
const key = (id: string) => ({ id, key: randomBytes(32) });

function expectDecryptionError(fn: () => unknown, reason: DecryptionError['reason']) {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(DecryptionError);
    expect((error as DecryptionError).reason).toBe(reason);
    expect((error as Error).message).not.toContain(token);
    return;
  }
  throw new Error('expected decryption to fail');
}

describe('Keyring', () => {
  const rowId = randomUUID();

  it('round-trips and never contains the plaintext', () => {
    const ring = new Keyring([key('k1')]);
    const envelope = ring.encrypt(token, 'bot-token', rowId);
    expect(envelope.includes(Buffer.from(token))).toBe(false);
    expect(ring.decrypt(envelope, 'bot-token', rowId)).toBe(token);
    expect(Keyring.keyIdOf(envelope)).toBe('k1');
  });

  it('uses a fresh nonce for every encryption', () => {
    const ring = new Keyring([key('k1')]);
    const a = ring.encrypt(token, 'bot-token', rowId);
    const b = ring.encrypt(token, 'bot-token', rowId);
    expect(a.equals(b)).toBe(false);
  });

  it('rejects a tampered ciphertext, tag or nonce', () => {
    const ring = new Keyring([key('k1')]);
    const envelope = ring.encrypt(token, 'bot-token', rowId);
    for (const offset of [envelope.length - 1, 4 + 12, 4]) {
      const tampered = Buffer.from(envelope);
      tampered[offset] ^= 0x01;
      expectDecryptionError(() => ring.decrypt(tampered, 'bot-token', rowId), 'authentication_failed');
    }
  });

  it('rejects a ciphertext moved to another row or used for another purpose', () => {
    const ring = new Keyring([key('k1')]);
    const envelope = ring.encrypt(token, 'bot-token', rowId);
    expectDecryptionError(() => ring.decrypt(envelope, 'bot-token', randomUUID()), 'authentication_failed');
    expectDecryptionError(() => ring.decrypt(envelope, 'webhook-secret', rowId), 'authentication_failed');
  });

  it('decrypts with an older key after rotation and encrypts with the new primary', () => {
    const oldKey = key('2025');
    const before = new Keyring([oldKey]).encrypt(token, 'bot-token', rowId);
    const rotated = new Keyring([key('2026'), oldKey]);
    expect(rotated.decrypt(before, 'bot-token', rowId)).toBe(token);
    expect(Keyring.keyIdOf(rotated.encrypt(token, 'bot-token', rowId))).toBe('2026');
  });

  it('fails clearly when the key is no longer in the keyring', () => {
    const envelope = new Keyring([key('gone')]).encrypt(token, 'bot-token', rowId);
    expectDecryptionError(() => new Keyring([key('k2')]).decrypt(envelope, 'bot-token', rowId), 'unknown_key');
  });

  it('rejects a key id swapped in the header even when the keyring has that id', () => {
    const k1 = key('k1');
    const k2 = { id: 'k2', key: k1.key };
    const envelope = new Keyring([k1]).encrypt(token, 'bot-token', rowId);
    const swapped = Buffer.from(envelope);
    swapped.write('k2', 2, 'utf8');
    expectDecryptionError(() => new Keyring([k1, k2]).decrypt(swapped, 'bot-token', rowId), 'authentication_failed');
  });

  it('rejects garbage', () => {
    const ring = new Keyring([key('k1')]);
    expectDecryptionError(() => ring.decrypt(Buffer.from('nope'), 'bot-token', rowId), 'malformed');
  });
});

describe('tokenBlindIndex', () => {
  it('is deterministic per key and differs across keys and tokens', () => {
    const k = randomBytes(32);
    expect(tokenBlindIndex(k, token).equals(tokenBlindIndex(k, token))).toBe(true);
    expect(tokenBlindIndex(randomBytes(32), token).equals(tokenBlindIndex(k, token))).toBe(false);
    expect(tokenBlindIndex(k, token + 'x').equals(tokenBlindIndex(k, token))).toBe(false);
    expect(tokenBlindIndex(k, token)).toHaveLength(32);
  });
});

describe('generateWebhookSecret', () => {
  it('fits Telegram secret_token rules and is unique', () => {
    const a = generateWebhookSecret();
    expect(a).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(generateWebhookSecret()).not.toBe(a);
  });
});
