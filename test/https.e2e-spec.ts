import { spawn } from 'node:child_process';
import { copyFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { connect } from 'node:tls';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config/config';
import { makeSelfSigned, replacePair, tempDir, TestCertificate } from './support/certificates';
import { FakeTelegram } from './support/fake-telegram';
import { Harness, testEnv, waitUntil } from './support/harness';
import { alice, textUpdate } from './support/updates';

/**
 * The gateway serving HTTPS itself (TLS_CERT_FILE, TLS_KEY_FILE): a webhook delivery over TLS, and certificate
 * renewals picked up while it runs — what a client sees is the certificate's fingerprint on a new connection.
 * Certificates are made with the openssl command.
 */
describe('HTTPS served by the gateway', { timeout: 90_000 }, () => {
  const files = tempDir('tgw-https-');
  let telegram: FakeTelegram;
  let gw: Harness;
  let live: TestCertificate;
  let first: TestCertificate;

  beforeAll(async () => {
    telegram = await FakeTelegram.start();
    first = makeSelfSigned(files.dir, 'localhost', 'first');
    // The files the gateway reads; renewals replace them.
    live = { ...first, certFile: join(files.dir, 'live.crt'), keyFile: join(files.dir, 'live.key') };
    copyFileSync(first.certFile, live.certFile);
    copyFileSync(first.keyFile, live.keyFile);
    gw = await Harness.start({
      role: 'api',
      telegram,
      env: { TLS_CERT_FILE: live.certFile, TLS_KEY_FILE: live.keyFile, TLS_RELOAD_INTERVAL_MS: '100' },
    });
  });

  afterAll(async () => {
    await gw?.close();
    await telegram?.close();
    files.remove();
  });

  const port = () => Number(new URL(gw.baseUrl).port);

  /** The certificate a new TLS connection is given. */
  function servedFingerprint(): Promise<string> {
    return new Promise((done, reject) => {
      const socket = connect({ host: '127.0.0.1', port: port(), rejectUnauthorized: false }, () => {
        const fingerprint = socket.getPeerCertificate().fingerprint256;
        socket.end();
        done(fingerprint);
      });
      socket.on('error', reject);
    });
  }

  async function waitForFingerprint(expected: string): Promise<void> {
    await waitUntil(async () => (await servedFingerprint()) === expected, 10_000, `fingerprint ${expected}`);
  }

  it('accepts a webhook delivery over HTTPS, verified against the self-signed certificate', async () => {
    expect(gw.baseUrl).toMatch(/^https:/);
    const bot = await gw.registerBot();
    const update = textUpdate(alice, 'over tls');
    // The client trusts only this certificate, as Telegram does after setWebhook with it.
    const dispatcher = new Agent({ connect: { ca: first.certPem } });
    try {
      const res = await request(`${gw.baseUrl}/webhook/${bot.token}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-telegram-bot-api-secret-token': bot.secret },
        body: JSON.stringify(update),
        dispatcher,
      });
      expect(res.statusCode).toBe(200);
      await res.body.dump();
    } finally {
      await dispatcher.close();
    }
    expect((await gw.queued(bot.record.id)).map((entry) => entry.update.update_id)).toEqual([update.update_id]);
  });

  it('serves a renewed certificate without a restart, and keeps the old one when the new pair is broken', async () => {
    expect(await servedFingerprint()).toBe(first.fingerprint256);

    const second = makeSelfSigned(files.dir, 'localhost', 'second');
    replacePair(live, second);
    await waitForFingerprint(second.fingerprint256);
    expect(gw.logs.join('')).toContain(second.fingerprint256);

    // A certificate whose key is missing (the renewal wrote the certificate only): refused, the old pair stays.
    const third = makeSelfSigned(files.dir, 'localhost', 'third');
    copyFileSync(third.certFile, live.certFile);
    await waitUntil(() => gw.logs.some((line) => line.includes('do not make a usable pair')), 10_000, 'error log');
    expect(await servedFingerprint()).toBe(second.fingerprint256);
    const logged = gw.logs.find((line) => line.includes('do not make a usable pair'))!;
    expect(JSON.parse(logged)).toMatchObject({ level: 50, servingFingerprint256: second.fingerprint256 });
    for (const pem of [second.keyPem, third.keyPem]) {
      const keyBody = pem.split('\n')[1];
      expect(gw.logs.join('')).not.toContain(keyBody);
    }

    // The key arrives: the pair is complete and served.
    copyFileSync(third.keyFile, live.keyFile);
    await waitForFingerprint(third.fingerprint256);
  });

  it('needs both files, and says so', () => {
    const env = testEnv(telegram.apiRoot);
    expect(() => loadConfig({ ...env, TLS_CERT_FILE: live.certFile })).toThrow(ConfigError);
    expect(() => loadConfig({ ...env, TLS_KEY_FILE: live.keyFile })).toThrow(
      /TLS_CERT_FILE and TLS_KEY_FILE go together: set both to serve HTTPS, or neither \(only TLS_KEY_FILE is set\)/,
    );
  });

  it('refuses to start with a missing file or a key of another certificate, naming the file', async () => {
    const other = makeSelfSigned(files.dir, 'localhost', 'other');
    const missing = await startApi({ TLS_CERT_FILE: join(files.dir, 'missing.crt'), TLS_KEY_FILE: other.keyFile });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(`TLS_CERT_FILE (${join(files.dir, 'missing.crt')}) cannot be read (ENOENT)`);

    const mismatch = await startApi({ TLS_CERT_FILE: first.certFile, TLS_KEY_FILE: other.keyFile });
    expect(mismatch.code).toBe(1);
    expect(mismatch.stderr).toContain(`TLS_KEY_FILE (${other.keyFile}) is not the key of TLS_CERT_FILE`);
    expect(mismatch.stderr).not.toContain(other.keyPem.split('\n')[1]);
  });

  function startApi(env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
    return new Promise((done, reject) => {
      const child = spawn(process.execPath, [resolve(__dirname, '..', 'dist', 'main-api.js')], {
        env: { PATH: process.env.PATH ?? '', ...testEnv(telegram.apiRoot), ...env },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`the API process did not exit: ${stderr}`));
      }, 30_000);
      child.on('error', reject);
      child.on('close', (code) => {
        clearTimeout(timer);
        done({ code, stderr });
      });
    });
  }
});
