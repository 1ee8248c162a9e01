import { afterAll, describe, expect, it } from 'vitest';
import { makeSelfSigned, tempDir } from '../../test/support/certificates';
import { parseWebhookCertificate, webhookIpAddressProblem } from './webhook-certificate';

describe('parseWebhookCertificate', () => {
  const files = tempDir('tgw-cert-unit-');
  const cert = makeSelfSigned(files.dir, 'bots.example.com');
  afterAll(() => files.remove());

  it('returns the certificate block alone, with its fingerprint, subject and end of validity', () => {
    const parsed = parseWebhookCertificate(`Certificate:\n    (text openssl prints)\n${cert.certPem}\n\n`);
    expect(parsed).toEqual({
      pem: cert.certPem,
      fingerprint256: cert.fingerprint256,
      subject: 'CN=bots.example.com',
      validTo: expect.stringMatching(/^\d{4}-/),
    });
  });

  it('refuses an expired certificate', () => {
    const later = new Date(Date.now() + 3 * 24 * 3600_000);
    expect(() => parseWebhookCertificate(cert.certPem, later)).toThrow(/^certificate expired on \d{4}-/);
  });

  it('refuses any kind of private key without quoting it', () => {
    for (const label of ['PRIVATE KEY', 'RSA PRIVATE KEY', 'EC PRIVATE KEY', 'ENCRYPTED PRIVATE KEY']) {
      const key = `-----BEGIN ${label}-----\nMHcCAQEEIBsecretsecretsecret\n-----END ${label}-----\n`;
      expect(() => parseWebhookCertificate(key)).toThrow(
        expect.objectContaining({ code: 'private_key_not_allowed', message: expect.not.stringContaining('secret') }),
      );
    }
  });
});

describe('webhookIpAddressProblem', () => {
  it('takes IPv4 addresses only', () => {
    expect(webhookIpAddressProblem('93.184.215.14')).toBeNull();
    for (const bad of ['::1', '2001:db8::1', '256.1.1.1', 'example.com', '']) {
      expect(webhookIpAddressProblem(bad)).toMatch(/IPv4/);
    }
  });
});
