import { describe, expect, it } from 'vitest';
import { redactSecrets } from '../common/redact';
import { TOKEN_SHAPE } from '../bots/token-crypto';
import { CREDENTIAL_SHAPE, newCredential, parseCredential, secretMatches } from './proxy-credential';

describe('proxy credentials', () => {
  it('look like a bot token of the same bot, with a recognisable random part', () => {
    const { credential, id, secretHash } = newCredential(7123456789n);
    expect(credential).toMatch(CREDENTIAL_SHAPE);
    expect(credential).toMatch(TOKEN_SHAPE);
    expect(credential.startsWith(`7123456789:tgwp${id}`)).toBe(true);
    const parsed = parseCredential(credential)!;
    expect(parsed).toMatchObject({ telegramId: '7123456789', id });
    expect(parsed.secret).toHaveLength(43);
    expect(secretMatches(secretHash, parsed.secret)).toBe(true);
    expect(secretMatches(secretHash, `${parsed.secret.slice(0, 42)}A`)).toBe(parsed.secret.endsWith('A'));
  });

  it('are different every time and never logged', () => {
    const a = newCredential(7123456789n);
    const b = newCredential(7123456789n);
    expect(a.credential).not.toBe(b.credential);
    expect(a.id).not.toBe(b.id);
    expect(redactSecrets(`GET /telegram/bot${a.credential}/getMe`)).toBe('GET /telegram/bot<redacted>/getMe');
    expect(redactSecrets(`credential ${a.credential} refused`)).not.toContain(parseCredential(a.credential)!.secret);
    // Whatever comes before it (a short id, a typo), the secret part alone is redacted too.
    const part = a.credential.split(':')[1];
    expect(redactSecrets(`got ${part}`)).toBe(`got ${part.slice(0, 20)}<redacted>`);
  });

  it('refuses anything else', () => {
    const { credential } = newCredential(42n);
    for (const bad of ['', credential.slice(0, -1), `${credential}x`, credential.replace('tgwp', 'tgwx'), '42:abc']) {
      expect(parseCredential(bad)).toBeNull();
    }
  });
});
