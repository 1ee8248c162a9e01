import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCertificate {
  certFile: string;
  keyFile: string;
  certPem: string;
  keyPem: string;
  /** `AA:BB:…`, as X509Certificate.fingerprint256 and `openssl x509 -fingerprint -sha256` print it. */
  fingerprint256: string;
}

/**
 * Node's crypto cannot issue X.509 certificates; the `openssl` command (on every Debian machine, and in the
 * project's CI) can. A P-256 key keeps generation fast.
 */
export function makeSelfSigned(dir: string, commonName: string, name = commonName): TestCertificate {
  const certFile = join(dir, `${name}.crt`);
  const keyFile = join(dir, `${name}.key`);
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      keyFile,
      '-out',
      certFile,
      '-days',
      '2',
      '-subj',
      `/CN=${commonName}`,
      '-addext',
      `subjectAltName=DNS:${commonName},IP:127.0.0.1`,
    ],
    { stdio: 'pipe' },
  );
  const certPem = readFileSync(certFile, 'utf8');
  return {
    certFile,
    keyFile,
    certPem,
    keyPem: readFileSync(keyFile, 'utf8'),
    fingerprint256: new X509Certificate(certPem).fingerprint256,
  };
}

/** Writes a new pair over `target`'s files the way a renewal does: each file replaced by a rename. */
export function replacePair(target: TestCertificate, next: TestCertificate): void {
  renameSync(next.keyFile, target.keyFile);
  renameSync(next.certFile, target.certFile);
}

export function tempDir(prefix: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
