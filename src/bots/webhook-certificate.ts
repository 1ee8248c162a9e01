import { X509Certificate } from 'node:crypto';
import { isIPv4 } from 'node:net';
import { BadRequestError } from '../common/errors';

/** A self-signed certificate is a few kilobytes; anything much larger is not one. */
export const MAX_CERTIFICATE_BYTES = 64 * 1024;

export interface WebhookCertificate {
  /** The certificate block alone, as uploaded to Telegram. */
  pem: string;
  /** SHA-256 fingerprint, `AA:BB:…`, what `openssl x509 -fingerprint -sha256` prints. */
  fingerprint256: string;
  subject: string;
  validTo: string;
}

const CERTIFICATE_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;
// Any PEM private key: PKCS#8 ("PRIVATE KEY", "ENCRYPTED PRIVATE KEY"), PKCS#1 ("RSA PRIVATE KEY"), SEC1 ("EC …").
const PRIVATE_KEY_BLOCK = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/;

/**
 * Checks a PEM certificate given for setWebhook (Telegram's "self-signed" upload) and returns the certificate block
 * Telegram is given. Errors describe what is wrong without quoting the input: an operator who pastes the private key
 * by mistake must not find it in a response, a log line or a terminal.
 */
export function parseWebhookCertificate(text: string, now = new Date()): WebhookCertificate {
  if (Buffer.byteLength(text) > MAX_CERTIFICATE_BYTES) {
    throw invalid(`certificate is larger than ${MAX_CERTIFICATE_BYTES / 1024} KiB; give one PEM certificate`);
  }
  if (PRIVATE_KEY_BLOCK.test(text)) {
    throw new BadRequestError(
      'certificate contains a private key: give only the certificate (the public part, "-----BEGIN CERTIFICATE-----"). ' +
        'The key stays on the server that terminates TLS; consider it exposed if it was sent anywhere else',
      'private_key_not_allowed',
    );
  }
  const blocks = text.match(CERTIFICATE_BLOCK) ?? [];
  if (blocks.length === 0) {
    throw invalid(
      'certificate must be a PEM certificate ("-----BEGIN CERTIFICATE-----" … "-----END CERTIFICATE-----")',
    );
  }
  if (blocks.length > 1) {
    throw invalid(`certificate must hold one certificate (the self-signed one), not ${blocks.length}`);
  }
  const [block] = blocks as [string];
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(block);
  } catch {
    throw invalid('certificate is not a valid X.509 certificate (the PEM block does not decode)');
  }
  const validTo = new Date(certificate.validTo);
  if (validTo.getTime() < now.getTime()) {
    throw invalid(`certificate expired on ${validTo.toISOString()}`);
  }
  return {
    pem: `${block}\n`,
    fingerprint256: certificate.fingerprint256,
    subject: certificate.subject.replace(/\n/g, ', '),
    validTo: validTo.toISOString(),
  };
}

/** What is wrong with a fixed IP address for setWebhook, or null: Telegram posts over IPv4 only. */
export function webhookIpAddressProblem(value: string): string | null {
  return isIPv4(value.trim()) ? null : 'must be an IPv4 address (Telegram delivers webhooks over IPv4)';
}

function invalid(message: string): BadRequestError {
  return new BadRequestError(message, 'invalid_certificate');
}
