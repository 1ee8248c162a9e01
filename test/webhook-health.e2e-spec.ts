import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BotAdminService } from '../src/bots/bot-admin.service';
import { Principal } from '../src/tenants/tenant.types';

const OPERATOR: Principal = { kind: 'operator', actor: 'test' };
import { migrate } from '../src/infra/database/migrator';
import { FakeTelegram } from './support/fake-telegram';
import {
  cleanupsAfterEach,
  Harness,
  jsonOf,
  RegisteredBot,
  TEST_DATABASE_URL,
  testEnv,
  waitUntil,
} from './support/harness';
import { alice, textUpdate } from './support/updates';

/**
 * The webhook health monitor and revoked tokens, end to end. The file has a database of its own (created here,
 * dropped at the end): the monitor checks every enabled bot in the database, which must not include other test
 * files' bots (their tokens are unknown to this file's fake Telegram, which would answer 401 and get them revoked).
 */
function databaseUrlNamed(name: string): string {
  const url = new URL(TEST_DATABASE_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

/** The JSON log lines of a harness whose `msg` contains `text`. */
function logsWith(gw: Harness, text: string): Record<string, any>[] {
  return gw.logs
    .flatMap((chunk) => chunk.split('\n'))
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, any>)
    .filter((entry) => typeof entry.msg === 'string' && entry.msg.includes(text));
}

async function waitForLog(gw: Harness, text: string, match: (entry: Record<string, any>) => boolean = () => true) {
  await waitUntil(() => logsWith(gw, text).some(match), 20_000, `a log line "${text}"`);
}

/** The value of a metric sample with these labels, or undefined when there is none. */
function sample(metrics: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of metrics.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) return Number(line.split(' ').pop());
  }
  return undefined;
}

const scrape = async (gw: Harness) => (await fetch(`${gw.baseUrl}/metrics`)).text();

const CLI = resolve(__dirname, '..', 'dist', 'cli.js');

function runCli(env: Record<string, string>, args: string[]): Promise<{ code: number | null; stdout: string }> {
  return new Promise((done, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH ?? '', ...env } });
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.on('error', reject);
    child.on('close', (code) => done({ code, stdout }));
  });
}

describe('webhook health', { timeout: 120_000 }, () => {
  const databaseName = `tg_gateway_test_health_${randomBytes(4).toString('hex')}`;
  const databaseUrl = databaseUrlNamed(databaseName);
  let telegram: FakeTelegram;
  const cleanups = cleanupsAfterEach();

  beforeAll(async () => {
    await migrate(databaseUrl);
    telegram = await FakeTelegram.start();
  });

  afterAll(async () => {
    await telegram?.close();
    const admin = new Client({ connectionString: databaseUrlNamed('postgres') });
    await admin.connect();
    try {
      await admin.query(`DROP DATABASE IF EXISTS "${databaseName}" WITH (FORCE)`);
    } finally {
      await admin.end();
    }
  });

  const envWith = (overrides: Record<string, string> = {}) =>
    testEnv(telegram.apiRoot, {
      DATABASE_URL: databaseUrl,
      LOG_LEVEL: 'info',
      WEBHOOK_HEALTH_INTERVAL_SECONDS: '1',
      WEBHOOK_HEALTH_RATE: '50',
      ...overrides,
    });

  const closed = new Set<Harness>();

  async function start(env: Record<string, string>, role: 'all' | 'worker' | 'api' = 'all'): Promise<Harness> {
    const gw = await Harness.start({ role, env, telegram });
    cleanups.push(() => close(gw));
    return gw;
  }

  async function close(gw: Harness): Promise<void> {
    if (closed.has(gw)) return;
    closed.add(gw);
    await gw.close();
  }

  /** Sets a webhook at the fake Telegram the way someone else (or an old deployment) would have. */
  async function setWebhookDirectly(token: string, params: Record<string, unknown>): Promise<void> {
    const res = await fetch(`${telegram.apiRoot}/bot${token}/setWebhook`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(params),
    });
    expect(res.status, await res.text()).toBe(200);
  }

  const expectedUrl = (bot: RegisteredBot) => `https://gateway.example.com/webhook/${bot.token}`;

  it('logs webhooks that fail or drift and their recovery, with metrics by bot id, and repairs nothing by default', async () => {
    // Bots are set up through an API process first; the checking worker starts once they are there.
    const env = envWith();
    const gw = await start({ ...env, WEBHOOK_HEALTH_INTERVAL_SECONDS: '0' }, 'api');
    const admin = gw.app.get(BotAdminService);
    const good = await gw.registerBot();
    await admin.setWebhook(OPERATOR, good.record.id, {
      maxConnections: 10,
      allowedUpdates: ['message', 'chat_member'],
    });
    const moved = await gw.registerBot();
    await admin.setWebhook(OPERATOR, moved.record.id);
    await setWebhookDirectly(moved.token, { url: `https://old.example.net/webhook/${moved.token}` });
    const failing = await gw.registerBot();
    await admin.setWebhook(OPERATOR, failing.record.id);
    telegram.setWebhookState(failing.token, {
      pending_update_count: 7,
      last_error_date: Math.floor(Date.now() / 1000) - 30,
      last_error_message: 'Wrong response from the webhook: 502 Bad Gateway',
    });
    const settings = await gw.registerBot();
    await admin.setWebhook(OPERATOR, settings.record.id, { maxConnections: 10 });
    await setWebhookDirectly(settings.token, { url: expectedUrl(settings), secret_token: settings.secret });
    const refused = await gw.registerBot();
    await admin.setWebhook(OPERATOR, refused.record.id);
    telegram.setWebhookState(refused.token, {
      last_error_date: Math.floor(Date.now() / 1000) - 5,
      last_error_message: 'Wrong response from the webhook: 401 Unauthorized',
    });
    const worker = await start(env, 'worker');
    const differs = "A bot's webhook differs from what the gateway expects";
    await waitForLog(worker, differs, (e) => e.botId === moved.record.id && e.drift.join() === 'url');
    await waitForLog(worker, differs, (e) => e.botId === settings.record.id && e.drift.join() === 'max_connections');
    await waitForLog(worker, differs, (e) => e.botId === refused.record.id && e.drift.join() === 'secret');
    await waitForLog(
      worker,
      "Telegram cannot deliver to a bot's webhook",
      (e) => e.botId === failing.record.id && e.errorKind === 'server_error' && e.pendingUpdates === 7,
    );

    // The checks are spread over the interval: the healthy bot may come after the ones waited for above.
    let metrics = '';
    await waitUntil(
      async () =>
        sample((metrics = await scrape(worker)), 'tg_gateway_webhook_drift', { bot: good.record.id }) !== undefined,
      15_000,
      'the healthy bot to be checked',
    );
    // Checked, and nothing said about it.
    expect(logsWith(worker, differs).filter((e) => e.botId === good.record.id)).toEqual([]);
    expect(logsWith(worker, 'cannot deliver').filter((e) => e.botId === good.record.id)).toEqual([]);
    expect(sample(metrics, 'tg_gateway_webhook_drift', { bot: moved.record.id })).toBe(1);
    expect(sample(metrics, 'tg_gateway_webhook_drift', { bot: good.record.id })).toBe(0);
    expect(sample(metrics, 'tg_gateway_webhook_pending_updates', { bot: failing.record.id })).toBe(7);
    expect(sample(metrics, 'tg_gateway_webhook_last_error', { bot: failing.record.id, kind: 'server_error' })).toBe(1);
    expect(sample(metrics, 'tg_gateway_webhook_last_error', { bot: refused.record.id, kind: 'unauthorized' })).toBe(1);
    expect(sample(metrics, 'tg_gateway_webhook_last_error', { bot: good.record.id, kind: 'none' })).toBe(1);
    expect(
      sample(metrics, 'tg_gateway_webhook_last_error_age_seconds', { bot: failing.record.id }),
    ).toBeGreaterThanOrEqual(30);
    expect(sample(metrics, 'tg_gateway_webhook_last_error_age_seconds', { bot: good.record.id })).toBeUndefined();
    expect(sample(metrics, 'tg_gateway_webhook_checks_total', { result: 'drift' })).toBeGreaterThanOrEqual(3);
    // Repair is off: nobody set the drifted webhooks again.
    expect(telegram.webhookOf(moved.token)?.url).toBe(`https://old.example.net/webhook/${moved.token}`);

    // Recovery: Telegram delivers again; the webhook is set where the gateway expects it.
    telegram.setWebhookState(failing.token, { last_error_message: null, pending_update_count: 0 });
    await admin.setWebhook(OPERATOR, moved.record.id);
    await waitForLog(worker, "A bot's webhook works again", (e) => e.botId === failing.record.id);
    await waitForLog(worker, "A bot's webhook is as the gateway expects again", (e) => e.botId === moved.record.id);

    for (const bot of [good, moved, failing, settings, refused]) {
      expect(worker.logs.join('')).not.toContain(bot.token);
      expect(await scrape(worker)).not.toContain(bot.token);
    }
  });

  it('sets a drifted webhook again when WEBHOOK_HEALTH_REPAIR=true, with the settings set-webhook asked for', async () => {
    const env = envWith({ WEBHOOK_HEALTH_REPAIR: 'true' });
    const gw = await start({ ...env, WEBHOOK_HEALTH_INTERVAL_SECONDS: '0' }, 'api');
    const bot = await gw.registerBot();
    await gw.app
      .get(BotAdminService)
      .setWebhook(OPERATOR, bot.record.id, { maxConnections: 10, allowedUpdates: ['message', 'message_reaction'] });
    await setWebhookDirectly(bot.token, { url: `https://old.example.net/webhook/${bot.token}`, max_connections: 40 });
    const worker = await start(env, 'worker');
    const drifted = (e: Record<string, any>) =>
      e.botId === bot.record.id && e.drift.join() === 'url,allowed_updates,max_connections';
    await waitForLog(worker, 'differs', drifted);
    const expected = {
      url: expectedUrl(bot),
      secret_token: bot.secret,
      max_connections: 10,
      allowed_updates: ['message', 'message_reaction'],
    };
    await waitUntil(
      () => JSON.stringify(telegram.webhookOf(bot.token)) === JSON.stringify(expected),
      20_000,
      'the webhook set again',
    );
    await waitForLog(worker, "Set a bot's webhook again", (e) => e.botId === bot.record.id);
  });

  it('runs in one worker at a time; another takes the checks over when it stops', async () => {
    const env = envWith({ WEBHOOK_HEALTH_LEASE_MS: '1500' });
    const registrar = await start({ ...env, WEBHOOK_HEALTH_INTERVAL_SECONDS: '0' }, 'api');
    const bot = await registrar.registerBot();
    await registrar.app.get(BotAdminService).setWebhook(OPERATOR, bot.record.id);
    const a = await start(env, 'worker');
    const b = await start(env, 'worker');
    // Nest's loggers are per process, not per application: which worker checks is told by its metrics.
    const checks = async (gw: Harness) =>
      sample(await scrape(gw), 'tg_gateway_webhook_checks_total', { result: 'ok' }) ?? 0;
    await waitUntil(async () => (await checks(a)) + (await checks(b)) >= 3, 15_000, 'checks');
    const [leader, follower] = (await checks(a)) > 0 ? [a, b] : [b, a];
    // Lease periods later, still only one of them has ever checked.
    await sleep(3_000);
    expect(await checks(leader)).toBeGreaterThanOrEqual(3);
    expect(await checks(follower)).toBe(0);
    expect(await a.redis.exists(`${a.config.redisPrefix}:webhook-health:leader`)).toBe(1);
    expect(sample(await scrape(leader), 'tg_gateway_webhook_drift', { bot: bot.record.id })).toBe(0);
    expect(sample(await scrape(follower), 'tg_gateway_webhook_drift', { bot: bot.record.id })).toBeUndefined();

    // The checking worker stops (and gives the lease up): the other one goes on.
    await close(leader);
    await waitUntil(async () => (await checks(follower)) > 0, 15_000, 'checks by the other worker');
    expect(sample(await scrape(follower), 'tg_gateway_webhook_drift', { bot: bot.record.id })).toBe(0);
  });

  it(
    'marks a bot revoked when Telegram rejects its token, reports it everywhere, and a new token clears it',
    { timeout: 180_000 },
    async () => {
      const env = envWith();
      const gw = await start(env);
      const bot = await gw.registerBot();
      await gw.app.get(BotAdminService).setWebhook(OPERATOR, bot.record.id);
      const auth = { authorization: `Bearer ${gw.config.adminApiKeys[0]}`, 'content-type': 'application/json' };
      const view = async () => jsonOf(await fetch(`${gw.baseUrl}/admin/bots/${bot.record.id}`, { headers: auth }));
      expect(await view()).toMatchObject({ revoked: false, revokedAt: null });

      telegram.revoke(bot.token);
      await waitUntil(async () => (await view()).revoked === true, 20_000, 'the bot marked revoked');
      // getWebhookInfo answered 401, and getMe confirmed it before the bot was marked.
      expect(telegram.callsOf('getMe', bot.token).length).toBeGreaterThanOrEqual(1);
      expect((await view()).revokedAt).toEqual(expect.any(String));
      await waitForLog(gw, 'Telegram rejects the bot token (401)', (e) => e.botId === bot.record.id);

      // sync-webhooks reports it without calling Telegram with the revoked token.
      const calls = telegram.callsOf('getWebhookInfo', bot.token).length;
      const synced = await gw.app.get(BotAdminService).syncWebhooks(OPERATOR, {});
      expect(synced.find((r) => r.bot.id === bot.record.id)).toMatchObject({
        state: 'error',
        reason: 'token revoked (replace it first)',
      });
      expect(telegram.callsOf('getWebhookInfo', bot.token)).toHaveLength(calls);

      const refused = await gw.deliver(bot, textUpdate(alice, 'while revoked'));
      expect(refused.status).toBe(404);
      expect((await jsonOf(refused)).code).toBe('bot_revoked');
      const metrics = await scrape(gw);
      expect(sample(metrics, 'tg_gateway_bots_revoked')).toBe(1);
      expect(sample(metrics, 'tg_gateway_bot_revoked', { bot: bot.record.id })).toBe(1);
      expect(sample(metrics, 'tg_gateway_webhook_requests_total', { outcome: 'revoked_bot' })).toBe(1);

      const [show, list] = await Promise.all([
        runCli(env, ['bots', 'show', bot.record.id]),
        runCli(env, ['bots', 'list']),
      ]);
      expect(show.code).toBe(0);
      expect(show.stdout).toMatch(
        /^token:\s+revoked \(rejected by Telegram at \S+; replace it: bots replace-token\)$/m,
      );
      expect(list.stdout).toMatch(new RegExp(`^${bot.record.id}\\s.*\\syes\\s+revoked$`, 'm'));

      // A new token of the same bot (from @BotFather) clears it; the webhook moves to the new token.
      const { token: newToken } = telegram.addBot({ ...bot.info });
      const replaced = await fetch(`${gw.baseUrl}/admin/bots/${bot.record.id}/token`, {
        method: 'PUT',
        headers: auth,
        body: JSON.stringify({ token: newToken }),
      });
      expect(replaced.status).toBe(200);
      expect(await jsonOf(replaced)).toMatchObject({ revoked: false, revokedAt: null });
      expect(telegram.webhookOf(newToken)?.url).toBe(`https://gateway.example.com/webhook/${newToken}`);
      expect(sample(await scrape(gw), 'tg_gateway_bots_revoked')).toBe(0);
      const accepted = await gw.deliver({ ...bot, token: newToken }, textUpdate(alice, 'back'));
      expect(accepted.status).toBe(200);
      await telegram.waitFor(() => telegram.callsOf('sendMessage', newToken).length === 1, 15_000, 'the reply');
      expect(gw.logs.join('')).not.toContain(bot.token);
      expect(gw.logs.join('')).not.toContain(newToken);
    },
  );

  it("marks a bot revoked on a handler's 401; its queued updates wait, then all run in order with the new token", async () => {
    const env = envWith({ WEBHOOK_HEALTH_INTERVAL_SECONDS: '0' });
    const api = await start(env, 'api');
    const bot = await api.registerBot();
    const texts = ['one', 'two', 'three'];
    for (const text of texts) expect((await api.deliver(bot, textUpdate(alice, text))).status).toBe(200);
    telegram.revoke(bot.token);

    const worker = await start(env, 'worker');
    const auth = { authorization: `Bearer ${api.config.adminApiKeys[0]}`, 'content-type': 'application/json' };
    const view = async () => jsonOf(await fetch(`${api.baseUrl}/admin/bots/${bot.record.id}`, { headers: auth }));
    await waitUntil(async () => (await view()).revoked === true, 20_000, 'the bot marked revoked');
    // The first update's reply met the 401; nothing was spent: no dead letter, every update still queued, in order.
    expect(telegram.callsOf('sendMessage', bot.token)).toHaveLength(1);
    expect(await api.failed(bot.record.id)).toEqual([]);
    expect((await api.queued(bot.record.id)).map((e) => e.update.message?.text)).toEqual(texts);
    const refused = await api.deliver(bot, textUpdate(alice, 'refused'));
    expect((await jsonOf(refused)).code).toBe('bot_revoked');
    // The worker does not call Telegram with the revoked token again (its pause of 5 s has passed meanwhile).
    await sleep(6_000);
    expect(telegram.callsOf('sendMessage', bot.token)).toHaveLength(1);
    expect(sample(await scrape(worker), 'tg_gateway_updates_failed_total', { kind: 'revoked' })).toBe(1);

    const { token: newToken } = telegram.addBot({ ...bot.info });
    const replaced = await fetch(`${api.baseUrl}/admin/bots/${bot.record.id}/token`, {
      method: 'PUT',
      headers: auth,
      body: JSON.stringify({ token: newToken }),
    });
    expect(replaced.status).toBe(200);
    await telegram.waitFor(() => telegram.callsOf('sendMessage', newToken).length === 3, 20_000, 'the queued replies');
    expect(telegram.callsOf('sendMessage', newToken).map((c) => c.params.text)).toEqual(texts);
    expect(await api.queued(bot.record.id)).toEqual([]);
    expect(await api.failed(bot.record.id)).toEqual([]);
  });
});
