import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../src/infra/database/migrator';
import { makeSelfSigned, tempDir, TestCertificate } from './support/certificates';
import { runCli } from './support/cli-run';
import { FakeTelegram } from './support/fake-telegram';
import { Harness, RegisteredBot, TEST_DATABASE_URL, testEnv } from './support/harness';

/**
 * Self-signed certificates and fixed IP addresses for setWebhook, end to end: admin API and CLI → the gateway's
 * Bot API client (multipart/form-data, the certificate as a file) → the fake Bot API, which checks them as Telegram
 * does. The file has its own database: sync-webhooks works on every bot in it.
 */
describe('webhook certificate and IP address', { timeout: 120_000 }, () => {
  const databaseName = `tg_gateway_test_cert_${randomBytes(4).toString('hex')}`;
  const databaseUrl = withDatabase(databaseName);
  const files = tempDir('tgw-cert-');
  let telegram: FakeTelegram;
  let env: Record<string, string>;
  let gw: Harness;
  let cert: TestCertificate;
  let other: TestCertificate;

  beforeAll(async () => {
    await migrate(databaseUrl);
    telegram = await FakeTelegram.start();
    env = testEnv(telegram.apiRoot, { DATABASE_URL: databaseUrl });
    gw = await Harness.start({ role: 'api', env, telegram });
    cert = makeSelfSigned(files.dir, 'gateway.example.com');
    other = makeSelfSigned(files.dir, 'other.example.com');
  });

  afterAll(async () => {
    await gw?.close();
    await telegram?.close();
    files.remove();
    const admin = new Client({ connectionString: withDatabase('postgres') });
    await admin.connect();
    try {
      await admin.query(`DROP DATABASE IF EXISTS "${databaseName}" WITH (FORCE)`);
    } finally {
      await admin.end();
    }
  });

  async function admin(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
    const res = await fetch(`${gw.baseUrl}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${gw.config.adminApiKeys[0]}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  }

  function lastSetWebhook(bot: RegisteredBot) {
    const calls = telegram.callsOf('setWebhook', bot.token);
    return calls[calls.length - 1];
  }

  /** Key material must not come back in any answer or log line: each base64 line of the key is looked for. */
  function expectNoKeyMaterial(...texts: string[]): void {
    const keyLines = cert.keyPem.split('\n').filter((line) => line.length > 20 && !line.startsWith('-----'));
    expect(keyLines.length).toBeGreaterThan(0);
    for (const text of [...texts, ...gw.logs]) {
      for (const line of keyLines) expect(text).not.toContain(line);
    }
  }

  describe('admin API', () => {
    it('uploads the certificate as a file (multipart) with ip_address, and reports it', async () => {
      const bot = await gw.registerBot();
      const res = await admin('POST', `/admin/bots/${bot.record.id}/webhook`, {
        certificate: cert.certPem,
        ipAddress: '93.184.215.14',
        maxConnections: 5,
      });
      expect(res.status).toBe(200);
      const call = lastSetWebhook(bot);
      expect(call.contentType).toBe('multipart/form-data');
      expect(call.files.certificate.content.toString('utf8')).toBe(cert.certPem);
      expect(call.params).toMatchObject({
        url: `https://gateway.example.com/webhook/${bot.token}`,
        secret_token: bot.secret,
        ip_address: '93.184.215.14',
        max_connections: 5,
      });
      // Not also sent as a text field: Telegram would ignore that.
      expect(call.params.certificate).toBeUndefined();
      const certificate = {
        fingerprint256: cert.fingerprint256,
        subject: 'CN=gateway.example.com',
        validTo: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      };
      expect(res.body).toMatchObject({
        matchesExpected: true,
        hasCustomCertificate: true,
        certificate,
        ipAddress: '93.184.215.14',
        expectedIpAddress: '93.184.215.14',
      });
      const info = await admin('GET', `/admin/bots/${bot.record.id}/webhook`);
      expect(info.body).toMatchObject({ hasCustomCertificate: true, certificate, matchesExpected: true });
    });

    it('sends the kept certificate and address again with later calls, until told to drop them', async () => {
      const bot = await gw.registerBot();
      const hook = `/admin/bots/${bot.record.id}/webhook`;
      expect((await admin('POST', hook, { certificate: cert.certPem, ipAddress: '93.184.215.14' })).status).toBe(200);

      // A plain set-webhook (e.g. to drop pending updates) keeps them.
      expect((await admin('POST', hook, { dropPendingUpdates: true })).body.hasCustomCertificate).toBe(true);
      expect(lastSetWebhook(bot).files.certificate.content.toString('utf8')).toBe(cert.certPem);

      // A secret rotation re-sets the webhook: without the certificate, Telegram would drop it.
      expect((await admin('POST', `/admin/bots/${bot.record.id}/secret/rotate`)).status).toBe(200);
      const rotated = lastSetWebhook(bot);
      expect(rotated.files.certificate.content.toString('utf8')).toBe(cert.certPem);
      expect(rotated.params.ip_address).toBe('93.184.215.14');
      expect(telegram.webhookOf(bot.token)?.certificate).toBe(cert.certPem);

      // A new certificate replaces the old one.
      const replaced = await admin('POST', hook, { certificate: other.certPem });
      expect(replaced.body.certificate.fingerprint256).toBe(other.fingerprint256);
      expect(telegram.webhookOf(bot.token)?.certificate).toBe(other.certPem);

      // null removes them.
      const dropped = await admin('POST', hook, { certificate: null, ipAddress: null });
      expect(dropped.status).toBe(200);
      expect(dropped.body).toMatchObject({ hasCustomCertificate: false, certificate: null, expectedIpAddress: null });
      expect(lastSetWebhook(bot).contentType).toBe('application/json');
      expect(lastSetWebhook(bot).params.ip_address).toBeUndefined();
    });

    it('refuses what is not one valid certificate, names the problem, and never echoes a key', async () => {
      const bot = await gw.registerBot();
      const hook = `/admin/bots/${bot.record.id}/webhook`;
      const before = telegram.callsOf('setWebhook', bot.token).length;
      const cases: [unknown, number, string, RegExp][] = [
        [{ certificate: 'hello' }, 400, 'invalid_certificate', /must be a PEM certificate/],
        [{ certificate: cert.keyPem }, 400, 'private_key_not_allowed', /contains a private key/],
        [{ certificate: cert.certPem + cert.keyPem }, 400, 'private_key_not_allowed', /contains a private key/],
        [{ certificate: cert.certPem + other.certPem }, 400, 'invalid_certificate', /one certificate .* not 2/],
        [
          { certificate: cert.certPem.replace(/\n[A-Za-z0-9+/]{20}/, '\n!!!!') },
          400,
          'invalid_certificate',
          /not a valid X\.509 certificate/,
        ],
        [{ certificate: 'x'.repeat(70_000) }, 400, 'validation_failed', /certificate must be shorter/],
        [{ certificate: 42 }, 400, 'validation_failed', /certificate must be a string/],
        [{ ipAddress: '::1' }, 400, 'validation_failed', /ipAddress must be an IPv4 address/],
        [{ ipAddress: 'gateway.example.com' }, 400, 'validation_failed', /ipAddress must be an IPv4 address/],
      ];
      for (const [body, status, code, message] of cases) {
        const res = await admin('POST', hook, body);
        expect({ body, status: res.status, code: res.body.code }).toEqual({ body, status, code });
        expect(res.body.message).toMatch(message);
        expectNoKeyMaterial(JSON.stringify(res.body));
      }
      // Nothing reached Telegram, and nothing was stored.
      expect(telegram.callsOf('setWebhook', bot.token)).toHaveLength(before);
      expect((await gw.registry.resolve(bot.record.id))?.webhookCertificate).toBeNull();
    });

    it("passes Telegram's refusal of an address on", async () => {
      const bot = await gw.registerBot();
      const res = await admin('POST', `/admin/bots/${bot.record.id}/webhook`, { ipAddress: '10.1.2.3' });
      expect(res.status).toBe(422);
      expect(res.body.message).toBe('Telegram setWebhook: Bad Request: bad webhook: IP address 10.1.2.3 is reserved');
      expect((await gw.registry.resolve(bot.record.id))?.webhookIpAddress).toBeNull();
    });
  });

  describe('CLI', () => {
    const cli = (args: string[]) => runCli(env, args);

    it('set-webhook --certificate --ip-address uploads them; webhook-info shows it', async () => {
      const bot = await gw.registerBot();
      const run = await cli([
        'set-webhook',
        bot.record.id,
        '--certificate',
        cert.certFile,
        '--ip-address',
        '93.184.215.14',
      ]);
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      expect(lastSetWebhook(bot).files.certificate.content.toString('utf8')).toBe(cert.certPem);
      expect(lastSetWebhook(bot).params.ip_address).toBe('93.184.215.14');
      expect(run.stdout).toMatch(/^custom certificate:\s+yes$/m);
      expect(run.stdout).toContain(`SHA-256 ${cert.fingerprint256}`);
      expect(run.stdout).toMatch(/^fixed ip address:\s+93\.184\.215\.14$/m);

      const info = await cli(['webhook-info', bot.record.id, '--json']);
      expect(JSON.parse(info.stdout)).toMatchObject({
        hasCustomCertificate: true,
        certificate: { fingerprint256: cert.fingerprint256 },
      });
    });

    it('refuses a private key, an unreadable file and contradicting flags, with one line', async () => {
      const bot = await gw.registerBot();
      const keyRun = await cli(['set-webhook', bot.record.id, '--certificate', cert.keyFile]);
      expect(keyRun.code).toBe(1);
      expect(keyRun.stderr).toMatch(/^error: certificate contains a private key/);
      expect(keyRun.stderr.trim().split('\n')).toHaveLength(1);
      expectNoKeyMaterial(keyRun.stdout, keyRun.stderr);

      const missing = await cli(['set-webhook', bot.record.id, '--certificate', join(files.dir, 'nope.pem')]);
      expect(missing.code).toBe(2);
      expect(missing.stderr).toMatch(/--certificate <file>' argument .* is invalid\. Cannot read the file \(ENOENT\)/);

      const both = await cli(['set-webhook', bot.record.id, '--certificate', cert.certFile, '--remove-certificate']);
      expect(both.code).toBe(2);
      expect(both.stderr).toBe('error: --certificate and --remove-certificate exclude each other\n');
      expect(telegram.callsOf('setWebhook', bot.token)).toHaveLength(0);
    });

    it('sync-webhooks puts back a certificate Telegram lost', async () => {
      const bot = await gw.registerBot();
      expect((await admin('POST', `/admin/bots/${bot.record.id}/webhook`, { certificate: cert.certPem })).status).toBe(
        200,
      );
      // Someone calls setWebhook without the certificate: Telegram drops it.
      const url = telegram.webhookOf(bot.token)!.url as string;
      await fetch(`${telegram.apiRoot}/bot${bot.token}/setWebhook`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ url, secret_token: bot.secret }),
      });
      expect(telegram.webhookOf(bot.token)?.certificate).toBeUndefined();

      const run = await cli(['sync-webhooks']);
      expect(run.stdout).toContain('custom certificate missing at Telegram');
      expect(telegram.webhookOf(bot.token)?.certificate).toBe(cert.certPem);
    });
  });
});

function withDatabase(name: string): string {
  const url = new URL(TEST_DATABASE_URL);
  url.pathname = `/${name}`;
  return url.toString();
}
