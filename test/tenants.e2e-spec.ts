import type { Update } from 'grammy/types';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BotRegistryService } from '../src/bots/bot-registry.service';
import { PrismaService } from '../src/infra/database/prisma.service';
import { DEFAULT_TENANT_ID } from '../src/tenants/tenant.types';
import { conversationKey } from '../src/updates/update-queue';
import { FakeTelegram } from './support/fake-telegram';
import { Harness, waitUntil } from './support/harness';
import { alice, bob, newUpdateId, textUpdate } from './support/updates';

/**
 * Tenants end to end against real Postgres and Redis and the fake Bot API: isolation (a matrix of every admin
 * route, taken from the routes the server registered, × every kind of caller), keys (revocation seen by a second
 * API process), quotas (bots, the webhook backlog, the admin request rate) and the audit trail.
 */

interface Answer {
  status: number;
  headers: Headers;
  raw: string;
  body: any;
}

/** Every raw admin answer of this file, checked at the end for keys and tokens. */
const answers: string[] = [];
const secrets = new Set<string>();
const tenantIds: string[] = [];

async function call(gw: Harness, method: string, path: string, key: string | null, body?: unknown): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (key !== null) headers.authorization = `Bearer ${key}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${gw.baseUrl}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const raw = await res.text();
  // The answer that creates a key (or a proxy credential) is the one place it appears (once).
  if (!(method === 'POST' && /\/(keys|proxy-credentials(\/[0-9a-f]+\/rotate)?)$/.test(path))) answers.push(raw);
  return { status: res.status, headers: res.headers, raw, body: raw ? JSON.parse(raw) : undefined };
}

function operatorKey(gw: Harness): string {
  return gw.config.adminApiKeys[0];
}

async function createTenant(gw: Harness, name: string, quotas: Record<string, number> = {}) {
  const res = await call(gw, 'POST', '/admin/tenants', operatorKey(gw), { name, ...quotas });
  expect(res.status, res.raw).toBe(201);
  tenantIds.push(res.body.id);
  return res.body as { id: string; name: string };
}

async function createKey(gw: Harness, tenant: string, scopes: string[], name = 'test key') {
  const res = await call(gw, 'POST', `/admin/tenants/${tenant}/keys`, operatorKey(gw), { name, scopes });
  expect(res.status, res.raw).toBe(201);
  secrets.add(res.body.key);
  return { key: res.body.key as string, id: res.body.apiKey.id as string };
}

/** Registers a bot of a tenant (as the admin API does), returning its token and view. */
async function botOf(gw: Harness, tenantId: string) {
  const { token, bot } = gw.telegram.addBot();
  secrets.add(token);
  const record = await gw.app.get(BotRegistryService).register({ token, botInfo: bot, tenantId });
  gw.botIds.push(record.id);
  return { record, token, secret: gw.registry.webhookSecretOf(record) };
}

/** A dead letter of a bot, written as the worker writes them. */
async function deadLetterOf(gw: Harness, botId: string): Promise<string> {
  const updateId = newUpdateId();
  const update = textUpdate(alice, 'failed for good', { updateId }) as unknown as Update;
  const id = `${botId}-${updateId}-1`;
  const at = Date.now();
  const P = `${gw.config.redisPrefix}:`;
  const record = {
    id,
    botId,
    ck: conversationKey(update),
    reason: 'Telegram refused: 400',
    failedAt: at,
    entry: { id: `${botId}-${updateId}`, at, update },
  };
  await gw.redis.set(`${P}dl:${id}`, JSON.stringify(record));
  await gw.redis.zadd(`${P}dls`, at, id);
  await gw.redis.zadd(`${P}dlb:${botId}`, at, id);
  return id;
}

/** A new destination of the bot (added by an operator), as its admin path. */
async function destinationOf(gw: Harness, bot: { id: string }, kind: 'http' | 'stream' = 'http'): Promise<string> {
  const body = kind === 'http' ? { kind, url: 'http://127.0.0.1:9/hook' } : { kind };
  const res = await call(gw, 'POST', `/admin/bots/${bot.id}/destinations`, operatorKey(gw), body);
  if (res.status !== 201) throw new Error(`destination not created: ${res.status} ${res.raw}`);
  return `/admin/bots/${bot.id}/destinations/${res.body.destination.id}`;
}

function textOf(update: ReturnType<typeof textUpdate>): string {
  return (update.message as unknown as { text: string }).text;
}

async function cleanUpTenants(gw: Harness): Promise<void> {
  const prisma = gw.app.get(PrismaService);
  await prisma.bot.deleteMany({ where: { tenantId: { in: tenantIds } } });
  await prisma.auditEntry.deleteMany({ where: { tenantId: { in: tenantIds } } });
  await prisma.tenant.deleteMany({ where: { id: { in: tenantIds } } });
}

type Caller = 'operator' | 'aWrite' | 'aRead' | 'b' | 'revoked' | 'expired' | 'none';
const CALLERS: Caller[] = ['operator', 'aWrite', 'aRead', 'b', 'revoked', 'expired', 'none'];

interface Cell {
  path: string;
  body?: unknown;
}

interface RouteSpec {
  /** What the request is about; made fresh for each caller (a delete must have something to delete). */
  fixture: () => Cell | Promise<Cell>;
  /** operator, tenant A write, tenant A read, tenant B; revoked, expired and no key are always 401. */
  expect: [number, number, number, number];
}

describe('tenants', () => {
  let gw: Harness;
  let telegram: FakeTelegram;
  /** Every admin route the server registered, as `METHOD /path`. */
  const routes = new Set<string>();
  let A: { id: string; name: string };
  let B: { id: string; name: string };
  const keys = {} as Record<Caller, string | null>;

  beforeAll(async () => {
    telegram = await FakeTelegram.start();
    gw = await Harness.start({
      role: 'api',
      // The matrix registers a bot per route and caller: more than the default bots-per-tenant quota.
      env: { QUOTA_BOTS_PER_TENANT: '0', DESTINATION_ALLOWED_IPS: '127.0.0.1' },
      telegram,
      beforeStart: (app) => {
        app
          .getHttpAdapter()
          .getInstance()
          .addHook('onRoute', (route) => {
            const methods = Array.isArray(route.method) ? route.method : [route.method];
            for (const method of methods) {
              if (route.url.startsWith('/admin') && method !== 'HEAD') routes.add(`${method} ${route.url}`);
            }
          });
      },
    });
    const suffix = Math.random().toString(36).slice(2, 8);
    A = await createTenant(gw, `acme-${suffix}`);
    B = await createTenant(gw, `globex-${suffix}`);
    keys.operator = operatorKey(gw);
    keys.aWrite = (await createKey(gw, A.name, ['read', 'write', 'keys'])).key;
    keys.aRead = (await createKey(gw, A.name, ['read'])).key;
    keys.b = (await createKey(gw, B.name, ['read', 'write', 'keys'])).key;
    const revoked = await createKey(gw, A.name, ['read', 'write', 'keys']);
    expect((await call(gw, 'DELETE', `/admin/tenants/${A.name}/keys/${revoked.id}`, keys.operator)).status).toBe(200);
    keys.revoked = revoked.key;
    const expired = await createKey(gw, A.name, ['read', 'write', 'keys']);
    await gw.app.get(PrismaService).apiKey.update({
      where: { id: expired.id },
      data: { expiresAt: new Date(Date.now() - 60_000) },
    });
    keys.expired = expired.key;
    keys.none = null;
  });

  afterAll(async () => {
    await cleanUpTenants(gw);
    await gw.close();
    await telegram.close();
    // No answer ever carried a bot token, a webhook secret or a whole API key (key ids are fine).
    const all = answers.join('\n');
    for (const secret of secrets) expect(all).not.toContain(secret.startsWith('tgw_') ? secret.slice(21) : secret);
  });

  /** The expected status of every admin route per caller. A route missing here fails the matrix. */
  function table(): Record<string, RouteSpec> {
    const aBot = async () => (await botOf(gw, A.id)).record;
    const sameBotToken = (telegramId: bigint) => {
      const { token } = telegram.addBot({ id: Number(telegramId) });
      secrets.add(token);
      return token;
    };
    const proxyCredentialOf = async (botId: string) => {
      const res = await call(gw, 'POST', `/admin/bots/${botId}/proxy-credentials`, keys.operator, {});
      expect(res.status, res.raw).toBe(201);
      secrets.add(res.body.credential.split(':')[1]);
      return res.body.proxyCredential.id as string;
    };
    const freshToken = () => {
      const { token } = telegram.addBot();
      secrets.add(token);
      return token;
    };
    return {
      'GET /admin/whoami': { fixture: () => ({ path: '/admin/whoami' }), expect: [200, 200, 200, 200] },
      'GET /admin/bots': { fixture: () => ({ path: '/admin/bots' }), expect: [200, 200, 200, 200] },
      'POST /admin/bots': {
        fixture: () => ({ path: '/admin/bots', body: { token: freshToken() } }),
        expect: [201, 201, 403, 201],
      },
      'GET /admin/bots/:id': {
        fixture: async () => ({ path: `/admin/bots/${(await aBot()).id}` }),
        expect: [200, 200, 200, 404],
      },
      'PATCH /admin/bots/:id': {
        fixture: async () => ({ path: `/admin/bots/@${(await aBot()).username}`, body: { name: 'Renamed' } }),
        expect: [200, 200, 403, 404],
      },
      'DELETE /admin/bots/:id': {
        fixture: async () => ({ path: `/admin/bots/${(await aBot()).telegramId}` }),
        expect: [200, 200, 403, 404],
      },
      'PUT /admin/bots/:id/token': {
        fixture: async () => {
          const bot = await aBot();
          return { path: `/admin/bots/${bot.id}/token`, body: { token: sameBotToken(bot.telegramId) } };
        },
        expect: [200, 200, 403, 404],
      },
      'POST /admin/bots/:id/webhook': {
        fixture: async () => ({ path: `/admin/bots/${(await aBot()).id}/webhook`, body: {} }),
        expect: [200, 200, 403, 404],
      },
      'DELETE /admin/bots/:id/webhook': {
        fixture: async () => ({ path: `/admin/bots/${(await aBot()).id}/webhook` }),
        expect: [200, 200, 403, 404],
      },
      'GET /admin/bots/:id/webhook': {
        fixture: async () => ({ path: `/admin/bots/${(await aBot()).id}/webhook` }),
        expect: [200, 200, 200, 404],
      },
      'POST /admin/bots/:id/secret/rotate': {
        fixture: async () => ({ path: `/admin/bots/${(await aBot()).id}/secret/rotate` }),
        expect: [200, 200, 403, 404],
      },
      'POST /admin/bots/:id/proxy-credentials': {
        fixture: async () => ({ path: `/admin/bots/${(await aBot()).id}/proxy-credentials`, body: { name: 'm' } }),
        expect: [201, 201, 403, 404],
      },
      'GET /admin/bots/:id/proxy-credentials': {
        fixture: async () => ({ path: `/admin/bots/${(await aBot()).id}/proxy-credentials` }),
        expect: [200, 200, 200, 404],
      },
      'DELETE /admin/bots/:id/proxy-credentials/:credentialId': {
        fixture: async () => {
          const bot = await aBot();
          return { path: `/admin/bots/${bot.id}/proxy-credentials/${await proxyCredentialOf(bot.id)}` };
        },
        expect: [200, 200, 403, 404],
      },
      'POST /admin/bots/:id/proxy-credentials/:credentialId/rotate': {
        fixture: async () => {
          const bot = await aBot();
          return { path: `/admin/bots/${bot.id}/proxy-credentials/${await proxyCredentialOf(bot.id)}/rotate` };
        },
        expect: [201, 201, 403, 404],
      },
      'GET /admin/features': { fixture: () => ({ path: '/admin/features' }), expect: [200, 200, 200, 200] },
      'GET /admin/bots/:id/features': {
        fixture: async () => ({ path: `/admin/bots/${(await aBot()).id}/features` }),
        expect: [200, 200, 200, 404],
      },
      'PUT /admin/bots/:id/features': {
        fixture: async () => ({
          path: `/admin/bots/${(await aBot()).id}/features`,
          body: { features: [{ name: 'start' }, { name: 'echo' }] },
        }),
        expect: [200, 200, 403, 404],
      },
      'PUT /admin/bots/:id/features/:name': {
        fixture: async () => ({ path: `/admin/bots/${(await aBot()).id}/features/counter`, body: {} }),
        expect: [200, 200, 403, 404],
      },
      'DELETE /admin/bots/:id/features/:name': {
        fixture: async () => ({ path: `/admin/bots/${(await aBot()).id}/features/echo` }),
        expect: [200, 200, 403, 404],
      },
      'POST /admin/bots/:id/dead-letters/retry': {
        fixture: async () => {
          const bot = await aBot();
          await deadLetterOf(gw, bot.id);
          return { path: `/admin/bots/${bot.id}/dead-letters/retry` };
        },
        expect: [200, 200, 403, 404],
      },
      'GET /admin/dead-letters': {
        fixture: () => ({ path: '/admin/dead-letters' }),
        expect: [200, 200, 200, 200],
      },
      'POST /admin/bots/:id/destinations': {
        fixture: async () => ({ path: `/admin/bots/${(await aBot()).id}/destinations`, body: { kind: 'stream' } }),
        expect: [201, 201, 403, 404],
      },
      'GET /admin/bots/:id/destinations': {
        fixture: async () => ({ path: `/admin/bots/${(await aBot()).id}/destinations` }),
        expect: [200, 200, 200, 404],
      },
      'GET /admin/bots/:id/destinations/:destinationId': {
        fixture: async () => ({ path: await destinationOf(gw, await aBot()) }),
        expect: [200, 200, 200, 404],
      },
      'PATCH /admin/bots/:id/destinations/:destinationId': {
        fixture: async () => ({ path: await destinationOf(gw, await aBot()), body: { name: 'renamed' } }),
        expect: [200, 200, 403, 404],
      },
      'DELETE /admin/bots/:id/destinations/:destinationId': {
        fixture: async () => ({ path: await destinationOf(gw, await aBot()) }),
        expect: [204, 204, 403, 404],
      },
      'POST /admin/bots/:id/destinations/:destinationId/rotate-secret': {
        fixture: async () => ({ path: `${await destinationOf(gw, await aBot())}/rotate-secret` }),
        expect: [200, 200, 403, 404],
      },
      'POST /admin/bots/:id/destinations/:destinationId/test': {
        fixture: async () => ({ path: `${await destinationOf(gw, await aBot(), 'stream')}/test` }),
        expect: [200, 200, 403, 404],
      },
      'GET /admin/bots/:id/destinations/:destinationId/attempts': {
        fixture: async () => ({ path: `${await destinationOf(gw, await aBot())}/attempts` }),
        expect: [200, 200, 200, 404],
      },
      'POST /admin/bots/:id/destinations/:destinationId/replay': {
        fixture: async () => ({
          path: `${await destinationOf(gw, await aBot())}/replay`,
          body: { messageIds: ['none'] },
        }),
        expect: [200, 200, 403, 404],
      },
      'DELETE /admin/dead-letters': {
        fixture: async () => {
          const bot = await aBot();
          await deadLetterOf(gw, bot.id);
          return { path: `/admin/dead-letters?bot=${bot.id}` };
        },
        expect: [200, 200, 403, 404],
      },
      'GET /admin/dead-letters/:id': {
        fixture: async () => ({ path: `/admin/dead-letters/${await deadLetterOf(gw, (await aBot()).id)}` }),
        expect: [200, 200, 200, 404],
      },
      'DELETE /admin/dead-letters/:id': {
        fixture: async () => ({ path: `/admin/dead-letters/${await deadLetterOf(gw, (await aBot()).id)}` }),
        expect: [200, 200, 403, 404],
      },
      'POST /admin/dead-letters/:id/retry': {
        fixture: async () => ({ path: `/admin/dead-letters/${await deadLetterOf(gw, (await aBot()).id)}/retry` }),
        expect: [200, 200, 403, 404],
      },
      'POST /admin/tenants': {
        fixture: () => {
          const name = `t-${Math.random().toString(36).slice(2, 10)}`;
          return { path: '/admin/tenants', body: { name } };
        },
        expect: [201, 403, 403, 403],
      },
      'GET /admin/tenants': { fixture: () => ({ path: '/admin/tenants' }), expect: [200, 403, 403, 403] },
      'GET /admin/tenants/:tenant': {
        fixture: () => ({ path: `/admin/tenants/${A.name}` }),
        expect: [200, 200, 200, 404],
      },
      'DELETE /admin/tenants/:tenant': {
        fixture: async () => ({ path: `/admin/tenants/${(await createTenant(gw, `e-${newUpdateId()}`)).name}` }),
        expect: [200, 403, 403, 403],
      },
      'PUT /admin/tenants/:tenant/quotas': {
        fixture: () => ({ path: `/admin/tenants/${A.name}/quotas`, body: { maxBots: null } }),
        expect: [200, 403, 403, 403],
      },
      'POST /admin/tenants/:tenant/keys': {
        fixture: () => ({ path: `/admin/tenants/${A.id}/keys`, body: { name: 'more', scopes: ['read'] } }),
        expect: [201, 201, 403, 404],
      },
      'GET /admin/tenants/:tenant/keys': {
        fixture: () => ({ path: `/admin/tenants/${A.name}/keys` }),
        expect: [200, 200, 403, 404],
      },
      'DELETE /admin/tenants/:tenant/keys/:keyId': {
        fixture: async () => ({ path: `/admin/tenants/${A.name}/keys/${(await createKey(gw, A.name, ['read'])).id}` }),
        expect: [200, 200, 403, 404],
      },
      'GET /admin/audit': { fixture: () => ({ path: '/admin/audit' }), expect: [200, 200, 200, 200] },
    };
  }

  it('answers every admin route as the matrix says, for every kind of caller', async () => {
    const expected = table();
    // Generated from what the server registered: a route added without a line here fails, and so does a line
    // for a route that is gone.
    expect([...routes].sort()).toEqual(Object.keys(expected).sort());
    const failures: string[] = [];
    for (const [route, spec] of Object.entries(expected)) {
      const method = route.split(' ')[0];
      for (const caller of CALLERS) {
        const want =
          { revoked: 401, expired: 401, none: 401 }[caller as string] ?? spec.expect[CALLERS.indexOf(caller)];
        const cell = await spec.fixture();
        const res = await call(gw, method, cell.path, keys[caller], cell.body);
        if (res.status === 201 && res.body?.key) secrets.add(res.body.key);
        if (res.status === 201 && res.body?.credential) secrets.add(res.body.credential.split(':')[1]);
        if (res.status === 201 && route === 'POST /admin/bots') gw.botIds.push(res.body.id);
        if (res.status === 201 && route === 'POST /admin/tenants') tenantIds.push(res.body.id);
        if (res.status !== want) failures.push(`${route} as ${caller}: ${res.status} (want ${want}) ${res.raw}`);
        if (want === 404 && res.status === 404 && !cell.path.includes(A.name) && !cell.path.includes(A.id)) {
          // Exactly like something that does not exist: no word of the other tenant.
          expect(res.raw).not.toContain(A.id);
          expect(res.raw).not.toContain(A.name);
        }
      }
    }
    expect(failures).toEqual([]);
  }, 120_000);

  it("answers another tenant's bot exactly like a missing one, by gateway id, Telegram id and @username", async () => {
    const bot = (await botOf(gw, A.id)).record;
    for (const ref of [bot.id, String(bot.telegramId), `@${bot.username}`]) {
      const theirs = await call(gw, 'GET', `/admin/bots/${encodeURIComponent(ref)}`, keys.b);
      const missingRef = ref.replace(/[0-9a-f]$/, (c) => (c === '0' ? '1' : '0')).replace(/_bot$/, '_tob');
      const missing = await call(gw, 'GET', `/admin/bots/${encodeURIComponent(missingRef)}`, keys.b);
      expect(theirs.status).toBe(404);
      expect(missing.status).toBe(404);
      expect(theirs.body).toEqual({ ...missing.body, message: `No bot ${ref}` });
      expect(missing.body.message).toBe(`No bot ${missingRef}`);
      // Their own key finds it.
      expect((await call(gw, 'GET', `/admin/bots/${encodeURIComponent(ref)}`, keys.aRead)).status).toBe(200);
    }
  });

  it("lists and counts nothing of another tenant's: bots, dead letters, audit records", async () => {
    const mine = (await botOf(gw, B.id)).record;
    const theirs = (await botOf(gw, A.id)).record;
    const theirDeadLetter = await deadLetterOf(gw, theirs.id);
    const myDeadLetter = await deadLetterOf(gw, mine.id);
    await call(gw, 'PATCH', `/admin/bots/${theirs.id}`, keys.aWrite, { name: 'Theirs' });

    const bots = await call(gw, 'GET', '/admin/bots?limit=200', keys.b);
    expect(bots.body.items.map((b: { id: string }) => b.id)).toContain(mine.id);
    expect(bots.body.items.every((b: { tenantId: string }) => b.tenantId === B.id)).toBe(true);

    const letters = await call(gw, 'GET', '/admin/dead-letters?limit=200', keys.b);
    const ids = letters.body.items.map((d: { id: string }) => d.id);
    expect(ids).toContain(myDeadLetter);
    expect(ids).not.toContain(theirDeadLetter);
    expect(letters.raw).not.toContain(theirs.id);

    const audit = await call(gw, 'GET', '/admin/audit?limit=200', keys.b);
    expect(audit.status).toBe(200);
    expect(audit.body.items.every((e: { tenantId: string }) => e.tenantId === B.id)).toBe(true);
    expect(audit.raw).not.toContain(theirs.id);

    // Purging "all" as a tenant purges its own only.
    const purged = await call(gw, 'DELETE', '/admin/dead-letters?all=true', keys.b);
    expect(purged.status).toBe(200);
    expect(await gw.redis.exists(`${gw.config.redisPrefix}:dl:${theirDeadLetter}`)).toBe(1);
    expect(await gw.redis.exists(`${gw.config.redisPrefix}:dl:${myDeadLetter}`)).toBe(0);
  });

  it('refuses a token registered to another tenant without saying which', async () => {
    const { token } = await botOf(gw, A.id);
    const res = await call(gw, 'POST', '/admin/bots', keys.b, { token });
    expect(res.status).toBe(409);
    expect(res.body.code).toBe('bot_already_registered');
    expect(res.raw).not.toContain(A.id);
    expect(res.raw).not.toContain(A.name);
    // The same answer when it is one's own.
    const own = await call(gw, 'POST', '/admin/bots', keys.aWrite, { token });
    expect(own.body).toEqual(res.body);
  });

  it('keeps a tenant to its bot quota, and an operator can change it', async () => {
    const small = await createTenant(gw, `small-${newUpdateId()}`, { maxBots: 1 });
    const key = (await createKey(gw, small.name, ['read', 'write'])).key;
    const first = await call(gw, 'POST', '/admin/bots', key, { token: telegram.addBot().token });
    expect(first.status, first.raw).toBe(201);
    gw.botIds.push(first.body.id);
    expect(first.body.tenantId).toBe(small.id);
    const second = await call(gw, 'POST', '/admin/bots', key, { token: telegram.addBot().token });
    expect(second.status).toBe(409);
    expect(second.body.code).toBe('bot_quota_exceeded');
    const metrics = await (await fetch(`${gw.baseUrl}/metrics`)).text();
    expect(metrics).toMatch(/tg_gateway_quota_refusals_total\{reason="bots_per_tenant"\} [1-9]/);

    const raised = await call(gw, 'PUT', `/admin/tenants/${small.name}/quotas`, keys.operator, { maxBots: 2 });
    expect(raised.body.quotas.maxBots).toBe(2);
    const third = await call(gw, 'POST', '/admin/bots', key, { token: telegram.addBot().token });
    expect(third.status, third.raw).toBe(201);
    gw.botIds.push(third.body.id);
    // An operator registers for a tenant by name; the default tenant otherwise.
    const byOperator = await call(gw, 'POST', '/admin/bots', keys.operator, {
      token: telegram.addBot().token,
      tenant: B.name,
    });
    expect(byOperator.body.tenantId).toBe(B.id);
    gw.botIds.push(byOperator.body.id);
    const toDefault = await call(gw, 'POST', '/admin/bots', keys.operator, { token: telegram.addBot().token });
    expect(toDefault.body.tenantId).toBe(DEFAULT_TENANT_ID);
    gw.botIds.push(toDefault.body.id);
    // A tenant that owns bots cannot be removed.
    const remove = await call(gw, 'DELETE', `/admin/tenants/${small.name}`, keys.operator);
    expect(remove.status).toBe(409);
    expect(remove.body.code).toBe('tenant_not_empty');
  });

  it('lists keys without secrets, and records their last use', async () => {
    const created = await createKey(gw, A.name, ['read'], 'ci');
    expect(created.key).toMatch(/^tgw_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    expect((await call(gw, 'GET', '/admin/whoami', created.key)).body).toMatchObject({
      kind: 'tenant',
      actor: `key:${created.id}`,
      scopes: ['read'],
      tenant: { id: A.id },
    });
    await waitUntil(async () => {
      const list = await call(gw, 'GET', `/admin/tenants/${A.name}/keys`, keys.aWrite);
      return list.body.find((k: { id: string }) => k.id === created.id)?.lastUsedAt !== null;
    });
    const list = await call(gw, 'GET', `/admin/tenants/${A.name}/keys`, keys.aWrite);
    const listed = list.body.find((k: { id: string }) => k.id === created.id);
    expect(listed).toEqual({
      id: created.id,
      tenantId: A.id,
      name: 'ci',
      scopes: ['read'],
      createdAt: expect.any(String),
      createdBy: expect.stringMatching(/^operator:[0-9a-f]{12}$/),
      lastUsedAt: expect.any(String),
      expiresAt: null,
      revokedAt: null,
    });
    expect(list.raw).not.toContain(created.key.split('_')[2]);
    // A key cannot hand out scopes it does not have.
    const readOnly = await createKey(gw, A.name, ['read', 'keys']);
    const escalate = await call(gw, 'POST', `/admin/tenants/${A.name}/keys`, readOnly.key, {
      name: 'x',
      scopes: ['write'],
    });
    expect(escalate.status).toBe(403);
  });

  it('writes an audit record of every change, in the transaction of the change, with who and what but no secret', async () => {
    const since = new Date(Date.now() - 1000).toISOString();
    const { key, id: keyId } = await createKey(gw, A.name, ['read', 'write']);
    const token = telegram.addBot().token;
    secrets.add(token);
    const bot = await call(gw, 'POST', '/admin/bots', key, { token });
    gw.botIds.push(bot.body.id);
    await call(gw, 'PATCH', `/admin/bots/${bot.body.id}`, key, { enabled: false });
    await call(gw, 'POST', `/admin/bots/${bot.body.id}/webhook`, key, {});
    await call(gw, 'POST', `/admin/bots/${bot.body.id}/secret/rotate`, key);
    const dl = await deadLetterOf(gw, bot.body.id);
    await call(gw, 'POST', `/admin/dead-letters/${dl}/retry`, key);
    await call(gw, 'PATCH', `/admin/bots/${B.id}`, key, { enabled: false }); // not a bot: a failure

    const page = await call(gw, 'GET', `/admin/audit?bot=${bot.body.id}&since=${since}`, key);
    expect(page.status, page.raw).toBe(200);
    const actions = page.body.items.map((e: { action: string; outcome: string }) => `${e.action}:${e.outcome}`);
    expect(actions).toEqual([
      'dead_letter.retry:success',
      'secret.rotate:success',
      'webhook.set:success',
      'bot.update:success',
      'bot.register:success',
    ]);
    for (const entry of page.body.items) {
      expect(entry).toMatchObject({ actor: `key:${keyId}`, tenantId: A.id, botId: bot.body.id });
    }
    expect(page.raw).not.toContain(token);
    // Filters and pages.
    const updates = await call(gw, 'GET', `/admin/audit?action=bot.update&bot=${bot.body.id}`, keys.operator);
    expect(updates.body.items).toHaveLength(1);
    const first = await call(gw, 'GET', `/admin/audit?bot=${bot.body.id}&limit=2`, key);
    expect(first.body.items).toHaveLength(2);
    const second = await call(
      gw,
      'GET',
      `/admin/audit?bot=${bot.body.id}&limit=2&cursor=${first.body.nextCursor}`,
      key,
    );
    expect(second.body.items[0].id).not.toBe(first.body.items[1].id);
    expect(Number(second.body.items[0].id)).toBeLessThan(Number(first.body.items[1].id));
    // The refused change is on record, under the caller's tenant.
    const failures = await call(gw, 'GET', `/admin/audit?action=bot.update&since=${since}`, key);
    expect(failures.body.items.some((e: { outcome: string }) => e.outcome === 'failure')).toBe(true);
    // The operator's own changes name the operator key by fingerprint.
    const byOperator = await call(gw, 'GET', `/admin/audit?action=key.create&since=${since}`, keys.operator);
    expect(byOperator.body.items[0].actor).toMatch(/^operator:[0-9a-f]{12}$/);
  });

  it('rolls the change back when its audit record cannot be written', async () => {
    const bot = (await botOf(gw, A.id)).record;
    const prisma = gw.app.get(PrismaService);
    // A constraint the audit insert breaks: the change must not stay without its record.
    await prisma.$executeRawUnsafe(
      `ALTER TABLE audit_log ADD CONSTRAINT audit_test_refuse CHECK (action <> 'bot.update' OR target <> 'bot:@${bot.username}') NOT VALID`,
    );
    try {
      const res = await call(gw, 'PATCH', `/admin/bots/${bot.id}`, keys.aWrite, { name: 'Never' });
      expect(res.status).toBeGreaterThanOrEqual(500);
      const row = await prisma.bot.findUniqueOrThrow({ where: { id: bot.id } });
      expect(row.name).toBeNull();
    } finally {
      await prisma.$executeRawUnsafe('ALTER TABLE audit_log DROP CONSTRAINT audit_test_refuse');
    }
  });
});

describe('tenant keys across API processes', () => {
  it('a revoked key is refused by a second API process within 5 s', async () => {
    const telegram = await FakeTelegram.start();
    const first = await Harness.start({ role: 'api', telegram });
    const second = await Harness.start({
      role: 'api',
      telegram,
      env: {
        REDIS_PREFIX: first.config.redisPrefix,
        ADMIN_API_KEYS: first.config.adminApiKeys.join(','),
        TOKEN_ENCRYPTION_KEYS: first.config.encryptionKeys.map((k) => `${k.id}:${k.key.toString('base64')}`).join(','),
        TOKEN_HASH_KEY: first.config.tokenHashKey.toString('base64'),
      },
    });
    try {
      const tenant = await createTenant(first, `multi-${newUpdateId()}`);
      const { key, id } = await createKey(first, tenant.name, ['read']);
      expect((await call(second, 'GET', '/admin/bots', key)).status).toBe(200);
      const revokedAt = Date.now();
      expect((await call(first, 'DELETE', `/admin/tenants/${tenant.name}/keys/${id}`, operatorKey(first))).status).toBe(
        200,
      );
      expect((await call(first, 'GET', '/admin/bots', key)).status).toBe(401);
      await waitUntil(async () => (await call(second, 'GET', '/admin/bots', key)).status === 401, 5_000, 'refusal');
      expect(Date.now() - revokedAt).toBeLessThan(5_000);

      // The admin request rate of a key is counted across both processes. (A quota changed later reaches the
      // other processes within 5 s: this tenant has it from the start.)
      const slow = await createTenant(first, `slow-${newUpdateId()}`, { adminRequestsPerMinute: 4 });
      const limited = await createKey(first, slow.name, ['read']);
      const statuses: number[] = [];
      for (const gw of [first, second, first, second, first]) {
        statuses.push((await call(gw, 'GET', '/admin/whoami', limited.key)).status);
      }
      expect(statuses).toEqual([200, 200, 200, 200, 429]);
      const refused = await call(second, 'GET', '/admin/whoami', limited.key);
      expect(refused.status).toBe(429);
      expect(refused.body.code).toBe('rate_limited');
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
      const metrics = await (await fetch(`${second.baseUrl}/metrics`)).text();
      expect(metrics).toMatch(/tg_gateway_quota_refusals_total\{reason="admin_requests"\} [1-9]/);
      // Another key of the same tenant is counted on its own.
      const other = await createKey(first, slow.name, ['read']);
      expect((await call(second, 'GET', '/admin/whoami', other.key)).status).toBe(200);
    } finally {
      await cleanUpTenants(first);
      await second.close();
      await first.close();
      await telegram.close();
    }
  }, 60_000);
});

describe('backlog quota at the webhook', () => {
  it("answers 429 with Retry-After to a flooding bot at its quota while another bot's updates are accepted and processed", async () => {
    const telegram = await FakeTelegram.start();
    // The API alone first: nothing is processed, so the flooding bot's backlog builds up.
    const api = await Harness.start({ role: 'api', telegram });
    const shared = {
      REDIS_PREFIX: api.config.redisPrefix,
      ADMIN_API_KEYS: api.config.adminApiKeys.join(','),
      TOKEN_ENCRYPTION_KEYS: api.config.encryptionKeys.map((k) => `${k.id}:${k.key.toString('base64')}`).join(','),
      TOKEN_HASH_KEY: api.config.tokenHashKey.toString('base64'),
    };
    let worker: Harness | undefined;
    try {
      const flooding = await createTenant(api, `flood-${newUpdateId()}`, { maxPendingUpdatesPerBot: 5 });
      const calm = await createTenant(api, `calm-${newUpdateId()}`);
      const flooder = await botOf(api, flooding.id);
      const quiet = await botOf(api, calm.id);

      const sent: { update: ReturnType<typeof textUpdate>; status: number; retryAfter: string | null }[] = [];
      await Promise.all(
        Array.from({ length: 20 }, async (_, i) => {
          const update = textUpdate(alice, `flood ${i}`, { chatId: 5000 + i });
          const res = await api.post(flooder.token, update, { secret: flooder.secret });
          sent.push({ update, status: res.status, retryAfter: res.headers.get('retry-after') });
        }),
      );
      const quietUpdates = [textUpdate(bob, 'quiet one'), textUpdate(bob, 'quiet two')];
      for (const update of quietUpdates) {
        expect((await api.post(quiet.token, update, { secret: quiet.secret })).status).toBe(200);
      }
      const accepted = sent.filter((s) => s.status === 200);
      const refused = sent.filter((s) => s.status === 429);
      expect(accepted).toHaveLength(5);
      expect(refused).toHaveLength(15);
      expect(refused.every((s) => Number(s.retryAfter) > 0)).toBe(true);
      expect(await api.queued(flooder.record.id)).toHaveLength(5);
      const metrics = await (await fetch(`${api.baseUrl}/metrics`)).text();
      expect(metrics).toMatch(/tg_gateway_quota_refusals_total\{reason="pending_updates"\} 15/);
      expect(metrics).toMatch(/tg_gateway_webhook_requests_total\{outcome="over_quota"\} 15/);

      // A worker drains: every accepted update runs (none dropped), the quiet bot's too.
      worker = await Harness.start({ role: 'worker', telegram, env: shared });
      await telegram.waitFor(
        (calls) =>
          calls.filter((c) => c.method === 'sendMessage' && c.token === flooder.token).length === 5 &&
          calls.filter((c) => c.method === 'sendMessage' && c.token === quiet.token).length === 2,
        15_000,
        'the accepted updates to be processed',
      );
      const replied = telegram.callsOf('sendMessage', flooder.token).map((c) => c.params.text);
      expect(replied.sort()).toEqual(accepted.map((s) => textOf(s.update)).sort());
      await waitUntil(async () => (await api.keys(`pb:${flooder.record.id}`)).length === 0, 5_000, 'count at 0');

      // Telegram's retry of a refused update is accepted once there is room.
      const retry = refused[0].update;
      expect((await api.post(flooder.token, retry, { secret: flooder.secret })).status).toBe(200);
      await telegram.waitFor(
        (calls) => calls.some((c) => c.method === 'sendMessage' && c.params.text === textOf(retry)),
        10_000,
        'the retried update',
      );
    } finally {
      await cleanUpTenants(api);
      await worker?.close();
      await api.close();
      await telegram.close();
    }
  }, 60_000);
});
