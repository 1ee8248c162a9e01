import { Api, Bot, GrammyError, InputFile } from 'grammy';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PrismaService } from '../src/infra/database/prisma.service';
import { FakeTelegram } from './support/fake-telegram';
import { Harness, RegisteredBot, waitUntil } from './support/harness';
import { alice, newUpdateId, textUpdate } from './support/updates';

/**
 * The outbound Bot API proxy end to end: a real grammY client whose API root is the gateway's proxy and whose token
 * is a proxy credential, against a whole gateway (API and worker) on real Postgres and Redis and the fake Bot API.
 */

/** Every answer of the gateway in this file (credential creations apart), checked at the end for secrets. */
const answers: string[] = [];
/** Bot tokens and credential secrets that must never appear in an answer or a log line. */
const secrets = new Set<string>();
const tenantIds: string[] = [];

interface Answer {
  status: number;
  raw: string;
  body: any;
  headers: Headers;
}

async function call(
  gw: Harness,
  method: string,
  path: string,
  options: { key?: string | null; body?: unknown; headers?: Record<string, string>; rawBody?: string } = {},
): Promise<Answer> {
  const headers: Record<string, string> = { ...options.headers };
  const key = options.key === undefined ? gw.config.adminApiKeys[0] : options.key;
  if (key !== null) headers.authorization = `Bearer ${key}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${gw.baseUrl}${path}`, {
    method,
    headers,
    body: options.rawBody ?? (options.body === undefined ? undefined : JSON.stringify(options.body)),
  });
  const raw = await res.text();
  // The answers that create a credential (or a key) are the one place it appears (once).
  if (!(method === 'POST' && /\/(proxy-credentials(\/[0-9a-f]+\/rotate)?|keys)$/.test(path) && res.status === 201)) {
    answers.push(raw);
  }
  let body: any;
  try {
    body = raw ? JSON.parse(raw) : undefined;
  } catch {
    body = raw;
  }
  return { status: res.status, raw, body, headers: res.headers };
}

async function createCredential(
  gw: Harness,
  botId: string,
  name?: string,
): Promise<{ credential: string; id: string }> {
  const res = await call(gw, 'POST', `/admin/bots/${botId}/proxy-credentials`, { body: name ? { name } : {} });
  expect(res.status, res.raw).toBe(201);
  const credential = res.body.credential as string;
  secrets.add(credential.split(':')[1]);
  return { credential, id: res.body.proxyCredential.id };
}

function secondApiEnv(gw: Harness): Record<string, string> {
  return {
    REDIS_PREFIX: gw.config.redisPrefix,
    ADMIN_API_KEYS: gw.config.adminApiKeys.join(','),
    TOKEN_ENCRYPTION_KEYS: gw.config.encryptionKeys.map((k) => `${k.id}:${k.key.toString('base64')}`).join(','),
    TOKEN_HASH_KEY: gw.config.tokenHashKey.toString('base64'),
  };
}

const tooMany = (seconds: number) =>
  FakeTelegram.error(429, `Too Many Requests: retry after ${seconds}`, { retry_after: seconds });

describe('Bot API proxy', () => {
  let telegram: FakeTelegram;
  let gw: Harness;
  let root: string;

  beforeAll(async () => {
    telegram = await FakeTelegram.start();
    gw = await Harness.start({ role: 'all', telegram, env: { PROXY_PATH: '/telegram' } });
    root = `${gw.baseUrl}/telegram`;
  });

  afterAll(async () => {
    const prisma = gw.app.get(PrismaService);
    await prisma.bot.deleteMany({ where: { tenantId: { in: tenantIds } } });
    await prisma.auditEntry.deleteMany({ where: { tenantId: { in: tenantIds } } });
    await prisma.tenant.deleteMany({ where: { id: { in: tenantIds } } });
    const logs = gw.logs.join('\n');
    await gw.close();
    await telegram.close();
    // No answer and no log line ever carried a bot token or a credential's secret part.
    const all = answers.join('\n');
    expect(secrets.size).toBeGreaterThan(0);
    for (const secret of secrets) {
      expect(all).not.toContain(secret);
      expect(logs).not.toContain(secret);
    }
  });

  async function registerBot(): Promise<RegisteredBot> {
    const bot = await gw.registerBot();
    secrets.add(bot.token);
    return bot;
  }

  it('a grammY client with the credential as token reaches Telegram with the real token', async () => {
    const bot = await registerBot();
    const created = await call(gw, 'POST', `/admin/bots/@${bot.record.username}/proxy-credentials`, {
      body: { name: 'orders service' },
    });
    expect(created.status, created.raw).toBe(201);
    const { credential, apiRoot, proxyCredential } = created.body;
    secrets.add(credential.split(':')[1]);
    // Shaped like a token of the same bot: libraries that check tokens (aiogram: digits before the colon) accept it.
    expect(credential).toMatch(new RegExp(`^${bot.record.telegramId}:tgwp[0-9a-f]{16}[A-Za-z0-9_-]{43}$`));
    expect(apiRoot).toBe('https://gateway.example.com/telegram');
    expect(proxyCredential).toMatchObject({ botId: bot.record.id, name: 'orders service', revokedAt: null });
    expect(JSON.stringify(proxyCredential)).not.toContain(credential.split(':')[1]);

    const client = new Bot(credential, { client: { apiRoot: root } });
    await client.init();
    expect(client.botInfo.id).toBe(bot.info.id);
    const sent = await client.api.sendMessage(alice.id, 'Hello through the proxy');
    expect(sent.text).toBe('Hello through the proxy');

    const calls = telegram.callsOf('sendMessage').filter((c) => c.params.text === 'Hello through the proxy');
    expect(calls).toHaveLength(1);
    expect(calls[0].token).toBe(bot.token);
    expect(calls[0].contentType).toBe('application/json');
    expect(telegram.calls.some((c) => c.token.includes('tgwp'))).toBe(false);

    // A form and a GET with a query string pass as well.
    const form = await call(gw, 'POST', `/telegram/bot${credential}/sendMessage`, {
      key: null,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      rawBody: new URLSearchParams({ chat_id: String(alice.id), text: 'form body' }).toString(),
    });
    expect(form.status, form.raw).toBe(200);
    expect(form.body.result.text).toBe('form body');
    expect(telegram.callsOf('sendMessage', bot.token).at(-1)!.contentType).toBe('application/x-www-form-urlencoded');
    const query = await call(gw, 'GET', `/telegram/bot${credential}/sendMessage?chat_id=${alice.id}&text=query`, {
      key: null,
    });
    expect(query.status, query.raw).toBe(200);
    expect(query.body.result.text).toBe('query');

    // The list shows it, without a secret; last use is recorded.
    await waitUntil(
      async () =>
        (await call(gw, 'GET', `/admin/bots/${bot.record.id}/proxy-credentials`)).body[0]?.lastUsedAt !== null,
      5_000,
      'lastUsedAt',
    );
    const listed = await call(gw, 'GET', `/admin/bots/${bot.record.id}/proxy-credentials`);
    expect(listed.body).toEqual([expect.objectContaining({ id: proxyCredential.id, name: 'orders service' })]);
  });

  it('passes multipart uploads and file downloads through', async () => {
    const bot = await registerBot();
    const { credential } = await createCredential(gw, bot.record.id);
    const api = new Api(credential, { apiRoot: root });
    const content = Buffer.from(`a file of ${'x'.repeat(100_000)} bytes`);
    const sent = await api.sendDocument(alice.id, new InputFile(content, 'report.txt'), { caption: 'the report' });
    expect(sent.document?.file_name).toBe('report.txt');
    const upload = telegram.callsOf('sendDocument', bot.token).at(-1)!;
    expect(upload.contentType).toBe('multipart/form-data');
    expect(upload.params.caption).toBe('the report');
    expect(upload.files.document.filename).toBe('report.txt');
    expect(upload.files.document.content.equals(content)).toBe(true);

    telegram.fileContents.set('documents/file-1', Buffer.from('downloaded bytes'));
    const file = await api.getFile('file-1');
    expect(file.file_path).toBe('documents/file-1');
    const download = await fetch(`${root}/file/bot${credential}/${file.file_path}`);
    expect(download.status).toBe(200);
    expect(Buffer.from(await download.arrayBuffer()).toString()).toBe('downloaded bytes');
    expect(telegram.downloads.at(-1)).toEqual({ token: bot.token, path: 'documents/file-1' });
    const missing = await call(gw, 'GET', `/telegram/file/bot${credential}/documents/nope`, { key: null });
    expect(missing.status).toBe(404);
  });

  it('refuses unknown and malformed credentials, and the methods that belong to the gateway', async () => {
    const bot = await registerBot();
    const { credential } = await createCredential(gw, bot.record.id);
    const before = telegram.calls.length;
    const unauthorized = { ok: false, error_code: 401, description: 'Unauthorized' };
    const forged = credential.slice(0, -4) + (credential.endsWith('AAAA') ? 'BBBB' : 'AAAA');
    const otherBot = credential.replace(/^\d+/, '123456789');
    for (const token of [forged, otherBot, bot.token, '12345:nope', `${bot.record.telegramId}:tgwp${'0'.repeat(59)}`]) {
      const res = await call(gw, 'POST', `/telegram/bot${token}/sendMessage`, {
        key: null,
        body: { chat_id: alice.id, text: 'x' },
      });
      expect(res.status, token).toBe(401);
      expect(res.body).toEqual(unauthorized);
      expect((await call(gw, 'GET', `/telegram/file/bot${token}/documents/x`, { key: null })).body).toEqual(
        unauthorized,
      );
    }
    for (const method of ['setWebhook', 'deleteWebhook', 'getUpdates', 'logOut', 'close', 'SETWEBHOOK', 'getupdates']) {
      const res = await call(gw, 'POST', `/telegram/bot${credential}/${method}`, {
        key: null,
        body: { url: 'https://evil.example.com/hook' },
      });
      expect(res.status, method).toBe(403);
      expect(res.body).toMatchObject({ ok: false, error_code: 403 });
      expect(res.body.description).toContain("the gateway owns this bot's webhook");
    }
    // getWebhookInfo only looks: it passes.
    expect((await call(gw, 'GET', `/telegram/bot${credential}/getWebhookInfo`, { key: null })).status).toBe(200);
    expect(telegram.calls.slice(before).map((c) => c.method)).toEqual(['getWebhookInfo']);

    // A disabled bot: refused, Telegram-shaped, until it is enabled again.
    expect((await call(gw, 'PATCH', `/admin/bots/${bot.record.id}`, { body: { enabled: false } })).status).toBe(200);
    const disabled = await call(gw, 'GET', `/telegram/bot${credential}/getMe`, { key: null });
    expect(disabled.status).toBe(403);
    expect(disabled.body).toEqual({
      ok: false,
      error_code: 403,
      description: 'Forbidden: the bot is disabled in the gateway',
    });
    expect((await call(gw, 'PATCH', `/admin/bots/${bot.record.id}`, { body: { enabled: true } })).status).toBe(200);
    expect((await call(gw, 'GET', `/telegram/bot${credential}/getMe`, { key: null })).status).toBe(200);
  });

  it("during the bot's flood wait answers 429 with what is left of it, without calling Telegram", async () => {
    const bot = await registerBot();
    const { credential } = await createCredential(gw, bot.record.id);
    const api = new Api(credential, { apiRoot: root });
    const P = `${gw.config.redisPrefix}:`;
    telegram.fail('sendMessage', tooMany(3));
    const first = await api.sendMessage(alice.id, 'one').catch((error: unknown) => error);
    // Telegram's own answer, passed through.
    expect(first).toBeInstanceOf(GrammyError);
    expect(first).toMatchObject({ error_code: 429, parameters: { retry_after: 3 } });
    // The whole bot waits, in the mailboxes' layout: its pause key, the paused set, out of the rotation.
    const pttl = await gw.redis.pttl(`${P}pause:${bot.record.id}`);
    expect(pttl).toBeGreaterThan(2_000);
    expect(pttl).toBeLessThanOrEqual(3_000);
    expect(await gw.redis.zscore(`${P}paused`, bot.record.id)).not.toBeNull();
    expect(await gw.redis.lpos(`${P}rot`, bot.record.id)).toBeNull();

    const sentBefore = telegram.callsOf('sendMessage', bot.token).length;
    const local = await call(gw, 'POST', `/telegram/bot${credential}/sendMessage`, {
      key: null,
      body: { chat_id: alice.id, text: 'two' },
    });
    expect(local.status).toBe(429);
    expect(local.body).toEqual({
      ok: false,
      error_code: 429,
      description: 'Too Many Requests: retry after 3',
      parameters: { retry_after: 3 },
    });
    expect(local.headers.get('retry-after')).toBe('3');
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const later = await call(gw, 'POST', `/telegram/bot${credential}/getMe`, { key: null });
    expect(later.status).toBe(429);
    expect(later.body.parameters.retry_after).toBe(2);
    expect(later.body.description).toBe('Too Many Requests: retry after 2');
    // None of these reached Telegram.
    expect(telegram.callsOf('sendMessage', bot.token)).toHaveLength(sentBefore);
    expect(telegram.callsOf('getMe', bot.token)).toHaveLength(0);

    await waitUntil(async () => (await gw.redis.exists(`${P}pause:${bot.record.id}`)) === 0, 5_000, 'end of wait');
    expect((await api.sendMessage(alice.id, 'three')).text).toBe('three');

    const metrics = await (await fetch(`${gw.baseUrl}/metrics`)).text();
    expect(metrics).toMatch(/tg_gateway_proxy_requests_total\{outcome="flood_wait_local",method="sendMessage"\} [1-9]/);
    expect(metrics).toMatch(/tg_gateway_proxy_requests_total\{outcome="flood_wait_local",method="getMe"\} [1-9]/);
    expect(metrics).toMatch(/tg_gateway_proxy_requests_total\{outcome="forwarded",method="sendMessage"\} [1-9]/);
    expect(metrics).not.toContain('tgwp');
  });

  it("shares the flood wait with the workers both ways: a worker's 429 stops the proxy, the proxy's holds the updates", async () => {
    const bot = await registerBot();
    const { credential } = await createCredential(gw, bot.record.id);
    const api = new Api(credential, { apiRoot: root });

    // A worker's reply meets a 429: the proxy answers from the bot's wait.
    telegram.fail('sendMessage', tooMany(2));
    expect((await gw.deliver(bot, textUpdate(alice, 'echo me'))).status).toBe(200);
    await telegram.waitFor((calls) => calls.some((c) => c.token === bot.token && c.method === 'sendMessage'));
    await waitUntil(
      async () => (await gw.redis.exists(`${gw.config.redisPrefix}:pause:${bot.record.id}`)) === 1,
      5_000,
      "the worker's pause",
    );
    const before = telegram.callsOf('sendMessage', bot.token).length;
    const refused = await api.sendMessage(alice.id, 'from a consumer').catch((error: unknown) => error);
    expect(refused).toMatchObject({ error_code: 429, parameters: { retry_after: expect.any(Number) } });
    expect(telegram.callsOf('sendMessage', bot.token)).toHaveLength(before);
    // The worker's update runs again once the wait is over (the fake records the refused call too), and is done.
    await telegram.waitFor(
      (calls) => calls.filter((c) => c.token === bot.token && c.params.text === 'echo me').length === 2,
      10_000,
      'the echo after the wait',
    );
    await waitUntil(async () => (await gw.queued(bot.record.id)).length === 0, 5_000, 'the update done');

    // A consumer's call meets a 429: the bot's queued updates wait for the end of it too.
    telegram.fail('sendMessage', tooMany(2));
    const paused = await api.sendMessage(alice.id, 'meets the flood').catch((error: unknown) => error);
    expect(paused).toMatchObject({ error_code: 429, parameters: { retry_after: 2 } });
    // Telegram's answer, not the gateway's own: the call reached it.
    expect(telegram.callsOf('sendMessage', bot.token).at(-1)!.params.text).toBe('meets the flood');
    const waitEnds = Date.now() + 2_000;
    const update = textUpdate(alice, 'queued during the wait', { updateId: newUpdateId() });
    expect((await gw.deliver(bot, update)).status).toBe(200);
    await telegram.waitFor(
      (calls) => calls.some((c) => c.token === bot.token && c.params.text === 'queued during the wait'),
      10_000,
      'the queued update after the wait',
    );
    const echo = telegram.callsOf('sendMessage', bot.token).find((c) => c.params.text === 'queued during the wait')!;
    expect(echo.at).toBeGreaterThanOrEqual(waitEnds - 100);
  });

  it('keeps working after the bot token was replaced, and refuses while Telegram rejects the old one', async () => {
    const bot = await registerBot();
    const { credential } = await createCredential(gw, bot.record.id);
    const api = new Api(credential, { apiRoot: root });
    await api.getMe();
    // @BotFather revokes the token: Telegram's 401 passes through, and the bot is marked revoked.
    telegram.revoke(bot.token);
    await expect(api.getMe()).rejects.toMatchObject({ error_code: 401 });
    await waitUntil(
      async () => (await call(gw, 'GET', `/admin/bots/${bot.record.id}`)).body.revoked === true,
      5_000,
      'bot marked revoked',
    );
    const calls = telegram.calls.length;
    const refused = await call(gw, 'GET', `/telegram/bot${credential}/getMe`, { key: null });
    expect(refused.status).toBe(401);
    expect(refused.body.description).toContain("Telegram rejected the bot's token");
    expect(telegram.calls.length).toBe(calls);

    const { token: newToken } = telegram.addBot({ id: bot.info.id, username: bot.info.username });
    secrets.add(newToken);
    const replaced = await call(gw, 'PUT', `/admin/bots/${bot.record.id}/token`, { body: { token: newToken } });
    expect(replaced.status, replaced.raw).toBe(200);
    expect((await api.sendMessage(alice.id, 'with the new token')).text).toBe('with the new token');
    expect(telegram.callsOf('sendMessage').at(-1)!.token).toBe(newToken);
  });

  it('a revoked credential is refused by a second API process within 5 s; rotation hands over to a new one', async () => {
    const second = await Harness.start({ role: 'api', telegram, env: secondApiEnv(gw) });
    try {
      const bot = await registerBot();
      const { credential, id } = await createCredential(gw, bot.record.id, 'billing');
      const secondRoot = `${second.baseUrl}/telegram`;
      expect((await call(second, 'GET', `/telegram/bot${credential}/getMe`, { key: null })).status).toBe(200);

      const revoked = await call(gw, 'DELETE', `/admin/bots/${bot.record.id}/proxy-credentials/${id}`);
      expect(revoked.status, revoked.raw).toBe(200);
      expect(revoked.body.revokedAt).not.toBeNull();
      const revokedAt = Date.now();
      expect((await call(gw, 'GET', `/telegram/bot${credential}/getMe`, { key: null })).status).toBe(401);
      await waitUntil(
        async () => (await call(second, 'GET', `/telegram/bot${credential}/getMe`, { key: null })).status === 401,
        5_000,
        'refusal on the second process',
      );
      expect(Date.now() - revokedAt).toBeLessThan(5_000);
      // Again: nothing changes, nothing is recorded.
      expect((await call(gw, 'DELETE', `/admin/bots/${bot.record.id}/proxy-credentials/${id}`)).status).toBe(200);

      const current = await createCredential(gw, bot.record.id, 'orders');
      const rotated = await call(gw, 'POST', `/admin/bots/${bot.record.id}/proxy-credentials/${current.id}/rotate`);
      expect(rotated.status, rotated.raw).toBe(201);
      secrets.add(rotated.body.credential.split(':')[1]);
      expect(rotated.body.proxyCredential).toMatchObject({ name: 'orders', revokedAt: null });
      expect(rotated.body.revoked).toMatchObject({ id: current.id, revokedAt: expect.any(String) });
      const fresh = new Api(rotated.body.credential, { apiRoot: secondRoot });
      expect((await fresh.getMe()).id).toBe(bot.info.id);
      await waitUntil(
        async () =>
          (await call(second, 'GET', `/telegram/bot${current.credential}/getMe`, { key: null })).status === 401,
        5_000,
        'the rotated credential refused',
      );
      const again = await call(gw, 'POST', `/admin/bots/${bot.record.id}/proxy-credentials/${current.id}/rotate`);
      expect(again.status).toBe(409);
      expect(again.body.code).toBe('proxy_credential_revoked');

      const audit = await call(gw, 'GET', `/admin/audit?bot=${bot.record.id}`);
      expect(audit.body.items.map((e: { action: string; target: string }) => `${e.action} ${e.target}`)).toEqual([
        `proxy_credential.rotate proxy_credential:${current.id}`,
        `proxy_credential.create proxy_credential:${current.id}`,
        `proxy_credential.revoke proxy_credential:${id}`,
        `proxy_credential.create proxy_credential:${id}`,
      ]);
    } finally {
      await second.close();
    }
  });

  it("keeps tenants to their own bots' credentials", async () => {
    const suffix = Math.random().toString(36).slice(2, 8);
    const tenant = async (name: string) => {
      const res = await call(gw, 'POST', '/admin/tenants', { body: { name } });
      expect(res.status, res.raw).toBe(201);
      tenantIds.push(res.body.id);
      return res.body as { id: string; name: string };
    };
    const key = async (tenantName: string, scopes: string[]) => {
      const res = await call(gw, 'POST', `/admin/tenants/${tenantName}/keys`, { body: { name: 'k', scopes } });
      expect(res.status, res.raw).toBe(201);
      secrets.add(res.body.key.slice(21));
      return res.body.key as string;
    };
    const A = await tenant(`pa-${suffix}`);
    const B = await tenant(`pb-${suffix}`);
    const aWrite = await key(A.name, ['read', 'write']);
    const aRead = await key(A.name, ['read']);
    const bWrite = await key(B.name, ['read', 'write']);
    const { token, bot: info } = telegram.addBot();
    secrets.add(token);
    const registered = await call(gw, 'POST', '/admin/bots', { key: aWrite, body: { token } });
    expect(registered.status, registered.raw).toBe(201);
    const botId = registered.body.id as string;
    const path = `/admin/bots/${botId}/proxy-credentials`;

    const created = await call(gw, 'POST', path, { key: aWrite, body: { name: 'mine' } });
    expect(created.status, created.raw).toBe(201);
    secrets.add(created.body.credential.split(':')[1]);
    const id = created.body.proxyCredential.id as string;
    expect(created.body.proxyCredential.createdBy).toMatch(/^key:[0-9a-f]{16}$/);

    for (const ref of [botId, String(info.id), `@${info.username}`]) {
      const p = `/admin/bots/${encodeURIComponent(ref)}/proxy-credentials`;
      for (const [method, target] of [
        ['GET', p],
        ['POST', p],
        ['DELETE', `${p}/${id}`],
        ['POST', `${p}/${id}/rotate`],
      ]) {
        const res = await call(gw, method, target, { key: bWrite, body: method === 'POST' ? {} : undefined });
        expect(res.status, `${method} ${target}`).toBe(404);
        expect(res.body.code).toBe('bot_not_found');
        expect(res.raw).not.toContain(A.id);
      }
    }
    const readOnly = await call(gw, 'POST', path, { key: aRead, body: {} });
    expect(readOnly.status).toBe(403);
    expect(readOnly.body.code).toBe('insufficient_scope');
    expect((await call(gw, 'DELETE', `${path}/${id}`, { key: aRead })).status).toBe(403);
    const listed = await call(gw, 'GET', path, { key: aRead });
    expect(listed.status).toBe(200);
    expect(listed.body.map((c: { id: string }) => c.id)).toEqual([id]);
    // Another bot's credential id is not found under this bot.
    const other = await registerBot();
    const foreign = await createCredential(gw, other.record.id);
    const cross = await call(gw, 'DELETE', `${path}/${foreign.id}`, { key: aWrite });
    expect(cross.status).toBe(404);
    expect(cross.body.code).toBe('proxy_credential_not_found');
    // Still working.
    expect((await call(gw, 'GET', `/telegram/bot${foreign.credential}/getMe`, { key: null })).status).toBe(200);
    expect((await call(gw, 'DELETE', `${path}/${id}`, { key: aWrite })).status).toBe(200);
  });
});
