import SwaggerParser from '@apidevtools/swagger-parser';
import { IncomingHttpHeaders, request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { BotRegistryService } from '../src/bots/bot-registry.service';
import { PrismaService } from '../src/infra/database/prisma.service';
import { TelegramService } from '../src/telegram/telegram.service';
import { DEFAULT_TENANT_ID } from '../src/tenants/tenant.types';
import { FakeTelegram } from './support/fake-telegram';
import { Harness, jsonOf } from './support/harness';
import { alice, textUpdate } from './support/updates';

/** What an admin API call answered: the raw text is kept for the "never a token or a secret" checks. */
interface Answer {
  status: number;
  headers: Headers;
  raw: string;
  body: any;
}

interface CallOptions {
  body?: unknown;
  /** The admin key to send; null sends no Authorization header. Defaults to a valid key. */
  key?: string | null;
  headers?: Record<string, string>;
  rawBody?: string;
}

/** Every raw answer of the admin API in this file, and every token and secret the gateway was given. */
const answers: string[] = [];
const tokens = new Set<string>();
const secrets = new Set<string>();
const fakes = new Set<FakeTelegram>();

/** Starts a gateway and remembers its fake Telegram, whose calls tell every token and secret it was given. */
async function start(options: Parameters<typeof Harness.start>[0]): Promise<Harness> {
  const gw = await Harness.start(options);
  fakes.add(gw.telegram);
  return gw;
}

async function call(gw: Harness, method: string, path: string, options: CallOptions = {}): Promise<Answer> {
  const headers: Record<string, string> = { ...options.headers };
  const key = options.key === undefined ? gw.config.adminApiKeys[0] : options.key;
  if (key !== null) headers.authorization = `Bearer ${key}`;
  const body = options.rawBody ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
  if (body !== undefined) headers['content-type'] ??= 'application/json';
  const res = await fetch(`${gw.baseUrl}${path}`, { method, headers, body });
  const raw = await res.text();
  answers.push(raw);
  return { status: res.status, headers: res.headers, raw, body: raw ? JSON.parse(raw) : undefined };
}

/** A POST with the path sent exactly as given (no URL normalisation by the client). */
function rawPost(
  gw: Harness,
  path: string,
  body: string,
  key: string | null,
): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> {
  const { hostname, port } = new URL(gw.baseUrl);
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (key !== null) headers.authorization = `Bearer ${key}`;
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port, method: 'POST', path, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** A token the fake Telegram knows (getMe answers with this bot). */
function mint(telegram: FakeTelegram, overrides: Parameters<FakeTelegram['addBot']>[0] = {}) {
  const minted = telegram.addBot(overrides);
  tokens.add(minted.token);
  return minted;
}

/** Registers a bot through the API; the harness deletes it on close. */
async function registerViaApi(
  gw: Harness,
  body: Record<string, unknown> = {},
  profile: Parameters<FakeTelegram['addBot']>[0] = {},
) {
  const { token, bot } = mint(gw.telegram, profile);
  const res = await call(gw, 'POST', '/admin/bots', { body: { token, ...body } });
  expect(res.status, res.raw).toBe(201);
  gw.botIds.push(res.body.id);
  return { token, info: bot, view: res.body, secret: await secretOf(gw, res.body.id) };
}

/** The bot's current webhook secret, read from the registry (what setWebhook must give Telegram). */
async function secretOf(gw: Harness, id: string): Promise<string> {
  const registry = gw.app.get(BotRegistryService);
  const secret = registry.webhookSecretOf((await registry.resolve(id))!);
  secrets.add(secret);
  return secret;
}

function deliver(gw: Harness, token: string, secret: string): Promise<Response> {
  return gw.post(token, textUpdate(alice, 'hello'), { secret });
}

function expectError(res: Answer, status: number, code: string): void {
  expect(res.status, res.raw).toBe(status);
  expect(res.body).toEqual({ statusCode: status, error: expect.any(String), message: expect.any(String), code });
}

async function rowCount(gw: Harness, telegramId: number): Promise<number> {
  return gw.app.get(PrismaService).bot.count({ where: { telegramId: BigInt(telegramId) } });
}

function sharedEnv(gw: Harness): Record<string, string> {
  return {
    REDIS_PREFIX: gw.config.redisPrefix,
    TOKEN_ENCRYPTION_KEYS: gw.config.encryptionKeys.map((k) => `${k.id}:${k.key.toString('base64')}`).join(','),
    TOKEN_HASH_KEY: gw.config.tokenHashKey.toString('base64'),
    ADMIN_API_KEYS: gw.config.adminApiKeys.join(','),
  };
}

const SECOND_KEY = 'second-admin-key-0123456789abcdef';
const WRONG_KEY = 'wrong-admin-key-0123456789abcdefgh';

describe('admin API', () => {
  let gw: Harness;
  let tg: FakeTelegram;

  beforeAll(async () => {
    gw = await start({
      role: 'api',
      env: { ADMIN_API_KEYS: `first-admin-key-0123456789abcdef,${SECOND_KEY}` },
    });
    tg = gw.telegram;
  });

  afterAll(async () => {
    await gw.close();
  });

  describe('authentication', () => {
    it('answers 401 without a key or with a wrong one, the same for every path, before looking anything up', async () => {
      const bot = await registerViaApi(gw);
      const registry = gw.app.get(BotRegistryService);
      const resolve = vi.spyOn(registry, 'resolve');
      const getMesBefore = tg.callsOf('getMe').length;
      try {
        const attempts: [string, string, CallOptions][] = [
          ['GET', '/admin/bots', { key: null }],
          ['GET', '/admin/bots', { key: WRONG_KEY }],
          ['GET', `/admin/bots/${bot.view.id}`, { key: null }],
          ['GET', `/admin/bots/${bot.view.id}`, { key: WRONG_KEY }],
          ['GET', `/admin/bots/@${bot.info.username}`, { key: WRONG_KEY }],
          ['GET', '/admin/bots/00000000-0000-4000-8000-000000000000', { key: WRONG_KEY }],
          ['GET', '/admin/bots/@no_such_bot', { key: null }],
          ['PATCH', `/admin/bots/${bot.view.id}`, { key: WRONG_KEY, body: { enabled: false } }],
          ['DELETE', `/admin/bots/${bot.view.id}`, { key: WRONG_KEY }],
          ['POST', '/admin/bots', { key: WRONG_KEY, body: { token: mint(tg).token } }],
          ['POST', '/admin/bots', { key: null, body: { nonsense: true } }],
          ['POST', `/admin/bots/${bot.view.id}/secret/rotate`, { key: WRONG_KEY }],
          ['POST', `/admin/bots/${bot.view.id}/webhook`, { key: WRONG_KEY, body: {} }],
          ['GET', `/admin/bots/${bot.view.id}/webhook`, { key: null }],
          // Other schemes, a prefix of a valid key, the key with something appended, an empty bearer.
          ['GET', '/admin/bots', { key: null, headers: { authorization: `Basic ${gw.config.adminApiKeys[0]}` } }],
          ['GET', '/admin/bots', { key: gw.config.adminApiKeys[0].slice(0, -1) }],
          ['GET', '/admin/bots', { key: `${gw.config.adminApiKeys[0]}x` }],
          ['GET', '/admin/bots', { key: null, headers: { authorization: 'Bearer ' } }],
          // Refused before the body is read: no 400 for malformed JSON, no 415, no 413 for a stranger.
          ['POST', '/admin/bots', { key: null, rawBody: '{"token": ' }],
          ['POST', '/admin/bots', { key: WRONG_KEY, rawBody: 'token=x', headers: { 'content-type': 'text/plain' } }],
          ['POST', '/admin/bots', { key: null, rawBody: JSON.stringify({ token: 'x'.repeat(2 * 1024 * 1024) }) }],
          ['GET', '/admin/no-such-route', { key: null }],
        ];
        const bodies = new Set<string>();
        for (const [method, path, options] of attempts) {
          const res = await call(gw, method, path, options);
          expectError(res, 401, 'unauthorized');
          expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
          bodies.add(res.raw);
        }
        // One and the same answer, whether the bot exists or not: nothing about bots leaks.
        expect([...bodies]).toHaveLength(1);
        const [only] = bodies;
        expect(only).not.toContain(bot.view.id);
        expect(only).not.toContain(bot.info.username);
        expect(resolve).not.toHaveBeenCalled();
        expect(tg.callsOf('getMe')).toHaveLength(getMesBefore);
        expect((await call(gw, 'GET', `/admin/bots/${bot.view.id}`)).body.enabled).toBe(true);
      } finally {
        resolve.mockRestore();
      }
    });

    it('refuses every spelling of an admin path with 401 before reading the body', async () => {
      const spellings = [
        '/admin/bots',
        '/%61dmin/bots',
        '/adm%69n/%62ots',
        '/%2561dmin/bots',
        '/ADMIN/bots',
        '/Admin/Bots',
        '//admin/bots',
        '/admin//bots',
        '/x/../admin/bots',
        '/admin/./bots',
        '/admin/bots/',
        '/admin%2Fbots',
        '/admin;x/bots',
      ];
      for (const path of spellings) {
        for (const key of [null, WRONG_KEY]) {
          // Raw HTTP: fetch would resolve `..` and `.` before sending.
          const res = await rawPost(gw, path, '{"token": ', key);
          expect({ path, key, status: res.status }).toEqual({ path, key, status: 401 });
          expect(JSON.parse(res.body)).toMatchObject({ statusCode: 401, code: 'unauthorized' });
          expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
        }
      }
      // With the key, the routed spelling reaches the admin API (which then reads and refuses the body).
      const keyed = await rawPost(gw, '/%61dmin/bots', '{"token": ', gw.config.adminApiKeys[0]);
      expect(keyed.status).toBe(400);
      expect(JSON.parse(keyed.body)).toMatchObject({ code: 'invalid_json' });
    });

    it('accepts every key of ADMIN_API_KEYS, with the scheme in any case', async () => {
      expect((await call(gw, 'GET', '/admin/bots?limit=1')).status).toBe(200);
      expect((await call(gw, 'GET', '/admin/bots?limit=1', { key: SECOND_KEY })).status).toBe(200);
      const lower = await call(gw, 'GET', '/admin/bots?limit=1', {
        key: null,
        headers: { authorization: `bearer ${SECOND_KEY}` },
      });
      expect(lower.status).toBe(200);
    });

    it('never writes a key to the logs', () => {
      const logs = gw.logs.join('');
      expect(logs).toContain('/admin/bots');
      for (const key of [...gw.config.adminApiKeys, WRONG_KEY]) expect(logs).not.toContain(key);
    });
  });

  describe('POST /admin/bots', () => {
    it('checks the token with getMe, stores the bot and answers 201 with it', async () => {
      const { token, bot } = mint(tg, { first_name: 'Shop' });
      const res = await call(gw, 'POST', '/admin/bots', { body: { token, name: 'Shop support' } });
      expect(res.status, res.raw).toBe(201);
      gw.botIds.push(res.body.id);
      expect(res.body).toEqual({
        id: expect.stringMatching(/^[0-9a-f-]{36}$/),
        telegramId: String(bot.id),
        username: bot.username,
        name: 'Shop support',
        firstName: 'Shop',
        enabled: true,
        albums: false,
        revoked: false,
        revokedAt: null,
        // DEFAULT_BOT_FEATURES of the test gateways.
        features: ['start', 'form', 'counter', 'callback-query', 'echo'],
        tenantId: DEFAULT_TENANT_ID,
        createdAt: expect.any(String),
        updatedAt: expect.any(String),
      });
      expect(Date.parse(res.body.createdAt)).toBeGreaterThan(Date.now() - 60_000);
      expect(tg.callsOf('getMe', token)).toHaveLength(1);
      const row = await gw.app.get(PrismaService).bot.findUniqueOrThrow({ where: { id: res.body.id } });
      expect(Buffer.from(row.tokenCiphertext).toString('latin1')).not.toContain(token);
      expect((row.botInfo as { id: number }).id).toBe(bot.id);
      // The stored token works at the webhook.
      expect((await deliver(gw, token, await secretOf(gw, res.body.id))).status).toBe(200);
    });

    it("uses the bot's first name when no name is given, and trims the token", async () => {
      const { token, bot } = mint(tg, { first_name: 'Plain' });
      const res = await call(gw, 'POST', '/admin/bots', { body: { token: ` ${token}\n` } });
      expect(res.status, res.raw).toBe(201);
      gw.botIds.push(res.body.id);
      expect(res.body.name).toBe('Plain');
      expect(res.body.telegramId).toBe(String(bot.id));
    });

    it('answers 409 for a bot registered twice, by the same or another token of it', async () => {
      const first = await registerViaApi(gw);
      expectError(
        await call(gw, 'POST', '/admin/bots', { body: { token: first.token } }),
        409,
        'bot_already_registered',
      );
      const again = mint(tg, { id: first.info.id });
      const res = await call(gw, 'POST', '/admin/bots', { body: { token: again.token } });
      expectError(res, 409, 'bot_already_registered');
      expect(res.body.message).toContain(`@${first.info.username}`);
      expect(await rowCount(gw, first.info.id)).toBe(1);
    });

    it("answers 422 with Telegram's description when getMe refuses the token", async () => {
      // A well-formed token the fake Telegram does not know: it answers 401 Unauthorized, as Telegram does.
      const unknown = `${Date.now()}:AAxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx`;
      tokens.add(unknown);
      const res = await call(gw, 'POST', '/admin/bots', { body: { token: unknown } });
      expectError(res, 422, 'token_rejected');
      expect(res.body.message).toBe('Telegram getMe: Unauthorized');

      const { token, bot } = mint(tg);
      tg.fail('getMe', FakeTelegram.error(403, 'Forbidden: bot was deactivated by its owner'));
      const deactivated = await call(gw, 'POST', '/admin/bots', { body: { token } });
      expectError(deactivated, 422, 'token_rejected');
      expect(deactivated.body.message).toBe('Telegram getMe: Forbidden: bot was deactivated by its owner');
      expect(await rowCount(gw, bot.id)).toBe(0);
    });

    it('answers 502 when Telegram fails with 5xx or drops the connection', async () => {
      const { token, bot } = mint(tg);
      tg.fail('getMe', FakeTelegram.error(500, 'Internal Server Error'));
      const failed = await call(gw, 'POST', '/admin/bots', { body: { token } });
      expectError(failed, 502, 'telegram_unavailable');
      expect(failed.body.message).toContain('Internal Server Error');
      tg.fail('getMe', 'network');
      expectError(await call(gw, 'POST', '/admin/bots', { body: { token } }), 502, 'telegram_unavailable');
      expect(await rowCount(gw, bot.id)).toBe(0);
    });

    it('answers 429 with Retry-After when Telegram rate-limits', async () => {
      const { token, bot } = mint(tg);
      tg.fail('getMe', FakeTelegram.error(429, 'Too Many Requests: retry after 7', { retry_after: 7 }));
      const res = await call(gw, 'POST', '/admin/bots', { body: { token } });
      expectError(res, 429, 'telegram_rate_limited');
      expect(res.headers.get('retry-after')).toBe('7');
      expect(res.body.message).toContain('Too Many Requests');
      expect(await rowCount(gw, bot.id)).toBe(0);
    });
  });

  describe('bad requests', () => {
    it('answers 400 naming the field, without echoing the token, and before calling Telegram', async () => {
      const { token } = mint(tg);
      const getMes = tg.callsOf('getMe').length;
      const cases: [unknown, RegExp][] = [
        [{}, /^token is required$/],
        [{ name: 'x' }, /^token is required$/],
        [{ token: 12345 }, /^token must be a string$/],
        [{ token: null }, /^token is required$/],
        [{ token: '123456:short' }, /^token must look like a Telegram bot token/],
        [{ token: `${token}!` }, /^token must look like a Telegram bot token/],
        [{ token: token.replace(':', '-') }, /^token must look like a Telegram bot token/],
        [{ token, extra: 1 }, /^property extra should not exist$/],
        [{ token, name: '' }, /^name must be longer than or equal to 1 characters$/],
        [{ token, name: 'n'.repeat(101) }, /^name must be shorter than or equal to 100 characters$/],
        [{ token, name: 5 }, /^name must be a string$/],
        [
          { token: 5, botInfo: {} },
          /token must be a string.*property botInfo should not exist|property botInfo.*token/,
        ],
        [[token], /./],
      ];
      for (const [body, message] of cases) {
        const res = await call(gw, 'POST', '/admin/bots', { body });
        expectError(res, 400, 'validation_failed');
        expect(res.body.message, JSON.stringify(body)).toMatch(message);
        expect(res.raw).not.toContain(token);
        expect(res.raw).not.toContain(token.split(':')[1]);
      }
      expect(tg.callsOf('getMe')).toHaveLength(getMes);
    });

    it('answers 400 for a body that is not JSON, and for a query or body out of range', async () => {
      const bot = await registerViaApi(gw);
      const malformed = await call(gw, 'POST', '/admin/bots', { rawBody: '{"token": "1' });
      expectError(malformed, 400, 'invalid_json');

      const queries: [string, RegExp][] = [
        ['limit=0', /^limit must not be less than 1$/],
        ['limit=201', /^limit must not be greater than 200$/],
        ['limit=abc', /^limit must be an integer number$/],
        ['limit=1.5', /^limit must be an integer number$/],
        ['enabled=yes', /^enabled must be a boolean value$/],
        ['cursor=nope', /^cursor must be a UUID$/],
        ['limit=0&enabled=maybe', /limit must not be less than 1; enabled must be a boolean value/],
        ['sort=name', /^property sort should not exist$/],
      ];
      for (const [query, message] of queries) {
        const res = await call(gw, 'GET', `/admin/bots?${query}`);
        expectError(res, 400, 'validation_failed');
        expect(res.body.message, query).toMatch(message);
      }
      const unknownCursor = await call(gw, 'GET', '/admin/bots?cursor=00000000-0000-4000-8000-000000000000');
      expectError(unknownCursor, 400, 'invalid_cursor');

      const patches: [unknown, RegExp][] = [
        [{}, /name, enabled/],
        [{ enabled: 'no' }, /^enabled must be a boolean value$/],
        [{ enabled: null }, /^enabled must be a boolean value$/],
        [{ enabled: true, token: 'x' }, /^property token should not exist$/],
      ];
      for (const [body, message] of patches) {
        const res = await call(gw, 'PATCH', `/admin/bots/${bot.view.id}`, { body });
        expectError(res, 400, 'validation_failed');
        expect(res.body.message, JSON.stringify(body)).toMatch(message);
      }

      const webhooks: [unknown, RegExp][] = [
        [{ maxConnections: 101 }, /^maxConnections must not be greater than 100$/],
        [{ maxConnections: 0 }, /^maxConnections must not be less than 1$/],
        [{ maxConnections: '40' }, /^maxConnections must be an integer number$/],
        [{ allowedUpdates: 'message' }, /^allowedUpdates must be an array$/],
        [{ allowedUpdates: ['message', 3] }, /^each value in allowedUpdates must be a string$/],
        [{ dropPendingUpdates: 'yes' }, /^dropPendingUpdates must be a boolean value$/],
        [{ url: 'ftp://example.com' }, /^url must be an https or http URL$/],
        [{ url: 'gateway.example.com' }, /^url must be an https or http URL$/],
        [{ url: 'https://gateway.example.com/?x=1' }, /^url must not contain a query or a fragment$/],
        [{ url: 'https://user:pass@gateway.example.com' }, /^url must not contain credentials$/],
        [{ url: 42 }, /^url must be an https or http URL$/],
        [{ secretToken: 'mine' }, /^property secretToken should not exist$/],
      ];
      for (const [body, message] of webhooks) {
        const res = await call(gw, 'POST', `/admin/bots/${bot.view.id}/webhook`, { body });
        expectError(res, 400, 'validation_failed');
        expect(res.body.message, JSON.stringify(body)).toMatch(message);
      }
      const deleteHook = await call(gw, 'DELETE', `/admin/bots/${bot.view.id}/webhook`, {
        body: { dropPendingUpdates: 1 },
      });
      expectError(deleteHook, 400, 'validation_failed');
      expect(deleteHook.body.message).toBe('dropPendingUpdates must be a boolean value');

      const put = await call(gw, 'PUT', `/admin/bots/${bot.view.id}/token`, { body: {} });
      expectError(put, 400, 'validation_failed');
      expect(put.body.message).toBe('token is required');
      expect(tg.callsOf('setWebhook', bot.token)).toHaveLength(0);
      expect(tg.callsOf('deleteWebhook', bot.token)).toHaveLength(0);
    });
  });

  describe('reading bots', () => {
    it('finds a bot by gateway id, Telegram id and @username (also URL-encoded)', async () => {
      const bot = await registerViaApi(gw, { name: 'Findable' });
      for (const ref of [
        bot.view.id,
        bot.view.id.toUpperCase(),
        String(bot.info.id),
        `@${bot.info.username}`,
        `%40${bot.info.username}`,
        `%40${bot.info.username.toUpperCase()}`,
      ]) {
        const res = await call(gw, 'GET', `/admin/bots/${ref}`);
        expect(res.status, ref).toBe(200);
        expect(res.body).toEqual(bot.view);
      }
    });

    it('finds @username exactly and in any case, `_` being no wildcard, and keeps usernames unique', async () => {
      const stem = `u${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
      const letters = await registerViaApi(gw, {}, { username: `${stem}xbot` });
      // In a LIKE pattern `_` matches any character: `@<stem>_bot` must not find `<stem>xbot`.
      expectError(await call(gw, 'GET', `/admin/bots/@${stem}_bot`), 404, 'bot_not_found');
      const underscore = await registerViaApi(gw, {}, { username: `${stem}_bot` });
      for (const [ref, bot] of [
        [`@${stem}_bot`, underscore],
        [`@${stem.toUpperCase()}_BOT`, underscore],
        [`@${stem}xbot`, letters],
        [`@${stem}XBot`, letters],
      ] as const) {
        const res = await call(gw, 'GET', `/admin/bots/${ref}`);
        expect(res.status, ref).toBe(200);
        expect(res.body.id, ref).toBe(bot.view.id);
      }
      // Another Telegram bot under the same username in another case (a stale row): refused, never two matches.
      const clash = mint(tg, { username: `${stem.toUpperCase()}XBOT` });
      expectError(
        await call(gw, 'POST', '/admin/bots', { body: { token: clash.token } }),
        409,
        'bot_already_registered',
      );
    });

    it('answers 404 for an unknown bot on every endpoint', async () => {
      const refs = ['00000000-0000-4000-8000-000000000000', '4242424242', '@no_such_bot_here', 'garbage'];
      for (const ref of refs) {
        const res = await call(gw, 'GET', `/admin/bots/${ref}`);
        expectError(res, 404, 'bot_not_found');
      }
      const ref = '@no_such_bot_here';
      for (const [method, path, body] of [
        ['PATCH', `/admin/bots/${ref}`, { enabled: false }],
        ['DELETE', `/admin/bots/${ref}`, undefined],
        ['PUT', `/admin/bots/${ref}/token`, { token: mint(tg).token }],
        ['POST', `/admin/bots/${ref}/webhook`, {}],
        ['GET', `/admin/bots/${ref}/webhook`, undefined],
        ['DELETE', `/admin/bots/${ref}/webhook`, undefined],
        ['POST', `/admin/bots/${ref}/secret/rotate`, undefined],
      ] as const) {
        const res = await call(gw, method, path, { body });
        expectError(res, 404, 'bot_not_found');
        expect(res.body.message).toBe('No bot @no_such_bot_here');
      }
    });

    it('lists bots a page at a time, following nextCursor, and filters by enabled', async () => {
      // Other test files add and delete bots concurrently, so every check starts after a bot of ours (the anchor).
      const anchor = await registerViaApi(gw);
      const a = await registerViaApi(gw);
      const b = await registerViaApi(gw);
      const c = await registerViaApi(gw);
      expect((await call(gw, 'PATCH', `/admin/bots/${b.view.id}`, { body: { enabled: false } })).status).toBe(200);

      const first = await call(gw, 'GET', '/admin/bots?limit=1');
      expect(first.status).toBe(200);
      expect(first.body.items).toHaveLength(1);
      expect(first.body.nextCursor).toBe(first.body.items[0].id);

      const seen: string[] = [];
      let cursor: string | null = anchor.view.id;
      while (cursor && !seen.includes(c.view.id)) {
        const page = await call(gw, 'GET', `/admin/bots?limit=1&cursor=${cursor}`);
        expect(page.status, page.raw).toBe(200);
        expect(page.body.items).toHaveLength(1);
        // The cursor of the next page is the last bot of this one; null after the newest bot.
        expect([page.body.items[0].id, null]).toContain(page.body.nextCursor);
        seen.push(page.body.items[0].id);
        cursor = page.body.nextCursor;
      }
      expect(seen.filter((id) => [a.view.id, b.view.id, c.view.id].includes(id))).toEqual([
        a.view.id,
        b.view.id,
        c.view.id,
      ]);
      expect(new Set(seen).size).toBe(seen.length);

      const idsOf = (res: Answer): string[] => res.body.items.map((bot: { id: string }) => bot.id);
      const after = await call(gw, 'GET', `/admin/bots?limit=200&cursor=${anchor.view.id}`);
      expect(idsOf(after).filter((id) => [a.view.id, b.view.id, c.view.id].includes(id))).toEqual([
        a.view.id,
        b.view.id,
        c.view.id,
      ]);
      expect(after.body.items.find((bot: { id: string }) => bot.id === c.view.id)).toEqual(c.view);

      // The cursor need not match the filter (the last bot of a page may be disabled before the next page).
      const disabled = await call(gw, 'GET', `/admin/bots?enabled=false&limit=200&cursor=${anchor.view.id}`);
      expect(disabled.status, disabled.raw).toBe(200);
      expect(disabled.body.items.every((bot: { enabled: boolean }) => !bot.enabled)).toBe(true);
      expect(idsOf(disabled)).toContain(b.view.id);
      expect(idsOf(disabled)).not.toContain(a.view.id);
      expect(idsOf(disabled)).not.toContain(c.view.id);
      const enabled = await call(gw, 'GET', `/admin/bots?enabled=true&limit=200&cursor=${anchor.view.id}`);
      expect(enabled.body.items.every((bot: { enabled: boolean }) => bot.enabled)).toBe(true);
      expect(idsOf(enabled)).toContain(a.view.id);
      expect(idsOf(enabled)).toContain(c.view.id);
      expect(idsOf(enabled)).not.toContain(b.view.id);

      // The default page size is 50.
      for (let i = 0; i < 51; i++) await gw.registerBot();
      const defaults = await call(gw, 'GET', '/admin/bots');
      expect(defaults.body.items).toHaveLength(50);
      expect(defaults.body.nextCursor).toBe(defaults.body.items[49].id);
    });
  });

  describe('PATCH /admin/bots/:id', () => {
    it('renames, resets the name, and disables and enables a bot at the webhook at once', async () => {
      const bot = await registerViaApi(gw, { name: 'Before' });
      const renamed = await call(gw, 'PATCH', `/admin/bots/${bot.view.id}`, { body: { name: 'After' } });
      expect(renamed.status).toBe(200);
      expect(renamed.body).toEqual({ ...bot.view, name: 'After', updatedAt: expect.any(String) });
      expect(Date.parse(renamed.body.updatedAt)).toBeGreaterThanOrEqual(Date.parse(bot.view.updatedAt));

      const reset = await call(gw, 'PATCH', `/admin/bots/@${bot.info.username}`, { body: { name: null } });
      expect(reset.body.name).toBe(bot.info.first_name);

      expect((await deliver(gw, bot.token, bot.secret)).status).toBe(200);
      const disabled = await call(gw, 'PATCH', `/admin/bots/${bot.info.id}`, { body: { enabled: false } });
      expect(disabled.status).toBe(200);
      expect(disabled.body.enabled).toBe(false);
      expect((await deliver(gw, bot.token, bot.secret)).status).toBe(404);
      expect((await call(gw, 'GET', `/admin/bots/${bot.view.id}`)).body.enabled).toBe(false);

      const both = await call(gw, 'PATCH', `/admin/bots/${bot.view.id}`, { body: { enabled: true, name: 'Back' } });
      expect(both.body).toMatchObject({ enabled: true, name: 'Back' });
      expect((await deliver(gw, bot.token, bot.secret)).status).toBe(200);
    });
  });

  describe('DELETE /admin/bots/:id', () => {
    it("removes the bot's webhook at Telegram, then the bot, and says so", async () => {
      const bot = await registerViaApi(gw);
      expect((await call(gw, 'POST', `/admin/bots/${bot.view.id}/webhook`, { body: {} })).status).toBe(200);
      expect(tg.webhookOf(bot.token)).toBeDefined();
      expect((await deliver(gw, bot.token, bot.secret)).status).toBe(200);

      const res = await call(gw, 'DELETE', `/admin/bots/${bot.view.id}`);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ deleted: true, webhookRemoved: true, webhookError: null });
      expect(tg.callsOf('deleteWebhook', bot.token)).toHaveLength(1);
      expect(tg.webhookOf(bot.token)).toBeUndefined();
      expectError(await call(gw, 'GET', `/admin/bots/${bot.view.id}`), 404, 'bot_not_found');
      expect(await rowCount(gw, bot.info.id)).toBe(0);
      expect((await deliver(gw, bot.token, bot.secret)).status).toBe(404);
      expectError(await call(gw, 'DELETE', `/admin/bots/${bot.view.id}`), 404, 'bot_not_found');
    });

    it('still deletes the bot when Telegram fails, and reports why the webhook stayed', async () => {
      const failing = await registerViaApi(gw);
      tg.fail('deleteWebhook', FakeTelegram.error(500, 'Internal Server Error'));
      const res = await call(gw, 'DELETE', `/admin/bots/@${failing.info.username}`);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        deleted: true,
        webhookRemoved: false,
        webhookError: 'Telegram deleteWebhook failed: Internal Server Error',
      });
      expect(await rowCount(gw, failing.info.id)).toBe(0);

      const dropped = await registerViaApi(gw);
      tg.fail('deleteWebhook', 'network');
      const unreachable = await call(gw, 'DELETE', `/admin/bots/${dropped.view.id}`);
      expect(unreachable.body).toEqual({
        deleted: true,
        webhookRemoved: false,
        webhookError: 'Telegram is unreachable (deleteWebhook)',
      });
      expect(await rowCount(gw, dropped.info.id)).toBe(0);
    });
  });

  describe('PUT /admin/bots/:id/token', () => {
    it('refuses a token of another bot with 422 and keeps the old token', async () => {
      const bot = await registerViaApi(gw);
      const other = mint(tg);
      const res = await call(gw, 'PUT', `/admin/bots/${bot.view.id}/token`, { body: { token: other.token } });
      expectError(res, 422, 'token_bot_mismatch');
      expect(res.body.message).toContain(String(other.bot.id));
      expect(res.raw).not.toContain(other.token);
      expect((await deliver(gw, bot.token, bot.secret)).status).toBe(200);

      const revoked = `${bot.info.id}:AArevokedrevokedrevokedrevokedrevok`;
      tokens.add(revoked);
      const rejected = await call(gw, 'PUT', `/admin/bots/${bot.view.id}/token`, { body: { token: revoked } });
      expectError(rejected, 422, 'token_rejected');
      expect((await deliver(gw, bot.token, bot.secret)).status).toBe(200);
    });

    it('takes a new token of the same bot: the old one is refused at the webhook, the new one accepted', async () => {
      const bot = await registerViaApi(gw);
      expect((await deliver(gw, bot.token, bot.secret)).status).toBe(200);
      const fresh = mint(tg, { id: bot.info.id, first_name: 'Renamed on Telegram' });
      const res = await call(gw, 'PUT', `/admin/bots/${bot.view.id}/token`, { body: { token: fresh.token } });
      expect(res.status, res.raw).toBe(200);
      expect(res.body).toEqual({
        ...bot.view,
        name: 'Renamed on Telegram',
        firstName: 'Renamed on Telegram',
        updatedAt: expect.any(String),
      });
      expect(tg.callsOf('getMe', fresh.token)).toHaveLength(1);
      expect((await deliver(gw, bot.token, bot.secret)).status).toBe(404);
      expect((await deliver(gw, fresh.token, bot.secret)).status).toBe(200);
      // Operations now use the new token with Telegram.
      expect((await call(gw, 'POST', `/admin/bots/${bot.view.id}/webhook`, { body: {} })).status).toBe(200);
      expect(tg.webhookOf(fresh.token)?.url).toBe(`https://gateway.example.com/webhook/${fresh.token}`);
    });
    it('moves an existing webhook to the new token, keeping its secret and settings', async () => {
      const bot = await registerViaApi(gw);
      const set = await call(gw, 'POST', `/admin/bots/${bot.view.id}/webhook`, {
        body: { maxConnections: 10, allowedUpdates: ['message'] },
      });
      expect(set.status, set.raw).toBe(200);
      const fresh = mint(tg, { id: bot.info.id });
      const res = await call(gw, 'PUT', `/admin/bots/${bot.view.id}/token`, { body: { token: fresh.token } });
      expect(res.status, res.raw).toBe(200);
      const hook = tg.webhookOf(fresh.token)!;
      expect(hook.url).toBe(`https://gateway.example.com/webhook/${fresh.token}`);
      expect(hook.secret_token).toBe(bot.secret);
      expect(hook.max_connections).toBe(10);
      expect(hook.allowed_updates).toEqual(['message']);
      // Telegram's next delivery, to the URL it now has, is accepted.
      expect((await deliver(gw, fresh.token, hook.secret_token)).status).toBe(200);
    });
  });

  describe('webhooks', () => {
    it("calls setWebhook with the gateway's URL, the bot's secret and the given options", async () => {
      const bot = await registerViaApi(gw);
      const res = await call(gw, 'POST', `/admin/bots/${bot.view.id}/webhook`, {
        body: { dropPendingUpdates: true, maxConnections: 40, allowedUpdates: ['message', 'callback_query'] },
      });
      expect(res.status, res.raw).toBe(200);
      const given = tg.webhookOf(bot.token)!;
      expect(given).toEqual({
        url: `https://gateway.example.com/webhook/${bot.token}`,
        secret_token: bot.secret,
        drop_pending_updates: true,
        max_connections: 40,
        allowed_updates: ['message', 'callback_query'],
      });
      expect(res.body).toEqual({
        url: 'https://gateway.example.com/webhook/<redacted>',
        expectedUrl: 'https://gateway.example.com/webhook/<redacted>',
        matchesExpected: true,
        drift: [],
        pendingUpdateCount: 0,
        lastErrorDate: null,
        lastErrorMessage: null,
        lastSynchronizationErrorDate: null,
        maxConnections: 40,
        allowedUpdates: ['message', 'callback_query'],
        ipAddress: null,
        hasCustomCertificate: false,
        certificate: null,
        expectedIpAddress: null,
      });
      // What Telegram was given is what the webhook accepts.
      const url = new URL(given.url);
      const accepted = await fetch(`${gw.baseUrl}${url.pathname}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-telegram-bot-api-secret-token': given.secret_token },
        body: JSON.stringify(textUpdate(alice, 'via the URL Telegram got')),
      });
      expect(accepted.status).toBe(200);
      expect((await deliver(gw, bot.token, `${given.secret_token}x`)).status).toBe(401);

      // Options left out are not sent at all; Telegram keeps its defaults.
      expect((await call(gw, 'POST', `/admin/bots/${bot.view.id}/webhook`)).status).toBe(200);
      expect(tg.webhookOf(bot.token)).toEqual({
        url: `https://gateway.example.com/webhook/${bot.token}`,
        secret_token: bot.secret,
      });
    });

    it('sets the webhook on another public URL when asked, and reports drift against PUBLIC_URL', async () => {
      const bot = await registerViaApi(gw);
      const res = await call(gw, 'POST', `/admin/bots/@${bot.info.username}/webhook`, {
        body: { url: 'https://other.example.org/tg/' },
      });
      expect(res.status, res.raw).toBe(200);
      expect(tg.webhookOf(bot.token)?.url).toBe(`https://other.example.org/tg/webhook/${bot.token}`);
      expect(res.body).toMatchObject({
        url: 'https://other.example.org/tg/webhook/<redacted>',
        expectedUrl: 'https://other.example.org/tg/webhook/<redacted>',
        matchesExpected: true,
      });
      const info = await call(gw, 'GET', `/admin/bots/${bot.view.id}/webhook`);
      expect(info.status).toBe(200);
      expect(info.body).toMatchObject({
        url: 'https://other.example.org/tg/webhook/<redacted>',
        expectedUrl: 'https://gateway.example.com/webhook/<redacted>',
        matchesExpected: false,
      });
      expect(info.raw).not.toContain(bot.token);
    });

    it("shows Telegram's webhook info with the token redacted", async () => {
      const bot = await registerViaApi(gw);
      const none = await call(gw, 'GET', `/admin/bots/${bot.view.id}/webhook`);
      expect(none.status).toBe(200);
      expect(none.body).toMatchObject({ url: '', matchesExpected: false, maxConnections: null, allowedUpdates: null });
      await call(gw, 'POST', `/admin/bots/${bot.view.id}/webhook`, { body: { maxConnections: 5 } });
      const set = await call(gw, 'GET', `/admin/bots/${bot.info.id}/webhook`);
      expect(set.body).toMatchObject({
        url: 'https://gateway.example.com/webhook/<redacted>',
        matchesExpected: true,
        maxConnections: 5,
        pendingUpdateCount: 0,
      });
      expect(set.raw).not.toContain(bot.token);
      expect(tg.callsOf('getWebhookInfo', bot.token).length).toBeGreaterThanOrEqual(2);
    });

    it('deletes the webhook, with or without dropping pending updates', async () => {
      const bot = await registerViaApi(gw);
      await call(gw, 'POST', `/admin/bots/${bot.view.id}/webhook`, { body: {} });
      const res = await call(gw, 'DELETE', `/admin/bots/${bot.view.id}/webhook`, {
        body: { dropPendingUpdates: true },
      });
      expect(res.status, res.raw).toBe(200);
      expect(res.body).toMatchObject({ url: '', matchesExpected: false });
      expect(tg.webhookOf(bot.token)).toBeUndefined();
      expect(tg.callsOf('deleteWebhook', bot.token).at(-1)?.params).toEqual({ drop_pending_updates: true });

      const bare = await call(gw, 'DELETE', `/admin/bots/${bot.view.id}/webhook`);
      expect(bare.status, bare.raw).toBe(200);
      expect(tg.callsOf('deleteWebhook', bot.token).at(-1)?.params).toEqual({});
      // The bot itself stays.
      expect((await call(gw, 'GET', `/admin/bots/${bot.view.id}`)).status).toBe(200);
    });

    it("passes Telegram's refusals and failures on as 422, 429 and 502", async () => {
      const bot = await registerViaApi(gw);
      tg.fail(
        'setWebhook',
        FakeTelegram.error(400, 'Bad Request: bad webhook: HTTPS url must be provided for webhook'),
      );
      const refused = await call(gw, 'POST', `/admin/bots/${bot.view.id}/webhook`, { body: {} });
      expectError(refused, 422, 'telegram_rejected');
      expect(refused.body.message).toBe(
        'Telegram setWebhook: Bad Request: bad webhook: HTTPS url must be provided for webhook',
      );
      tg.fail('setWebhook', FakeTelegram.error(429, 'Too Many Requests: retry after 3', { retry_after: 3 }));
      const limited = await call(gw, 'POST', `/admin/bots/${bot.view.id}/webhook`, { body: {} });
      expectError(limited, 429, 'telegram_rate_limited');
      expect(limited.headers.get('retry-after')).toBe('3');
      tg.fail('getWebhookInfo', FakeTelegram.error(502, 'Bad Gateway'));
      expectError(await call(gw, 'GET', `/admin/bots/${bot.view.id}/webhook`), 502, 'telegram_unavailable');
      tg.fail('deleteWebhook', 'network');
      expectError(await call(gw, 'DELETE', `/admin/bots/${bot.view.id}/webhook`), 502, 'telegram_unavailable');
    });
  });

  describe('POST /admin/bots/:id/secret/rotate', () => {
    it('gives Telegram a new secret and accepts both secrets during the overlap', async () => {
      const bot = await registerViaApi(gw);
      await call(gw, 'POST', `/admin/bots/${bot.view.id}/webhook`, {
        body: { maxConnections: 7, allowedUpdates: ['message'] },
      });
      const oldSecret = tg.webhookOf(bot.token)!.secret_token;
      expect(oldSecret).toBe(bot.secret);

      const started = Date.now();
      const res = await call(gw, 'POST', `/admin/bots/${bot.view.id}/secret/rotate`);
      expect(res.status, res.raw).toBe(200);
      expect(res.body).toEqual({
        bot: { ...bot.view, updatedAt: expect.any(String) },
        previousSecretValidUntil: expect.any(String),
        webhookUpdated: true,
      });
      const validUntil = Date.parse(res.body.previousSecretValidUntil);
      expect(validUntil).toBeGreaterThanOrEqual(started + 600_000 - 1_000);
      expect(validUntil).toBeLessThanOrEqual(Date.now() + 600_000 + 1_000);

      const given = tg.webhookOf(bot.token)!;
      const newSecret = await secretOf(gw, bot.view.id);
      expect(newSecret).not.toBe(oldSecret);
      expect(given).toEqual({
        url: `https://gateway.example.com/webhook/${bot.token}`,
        secret_token: newSecret,
        max_connections: 7,
        allowed_updates: ['message'],
      });
      expect((await deliver(gw, bot.token, oldSecret)).status).toBe(200);
      expect((await deliver(gw, bot.token, newSecret)).status).toBe(200);
      expect((await deliver(gw, bot.token, 'neither-of-them')).status).toBe(401);
      expect(res.raw).not.toContain(oldSecret);
      expect(res.raw).not.toContain(newSecret);
    });

    it('rotates without calling setWebhook when the bot has no webhook', async () => {
      const bot = await registerViaApi(gw);
      const res = await call(gw, 'POST', `/admin/bots/${bot.view.id}/secret/rotate`);
      expect(res.status).toBe(200);
      expect(res.body.webhookUpdated).toBe(false);
      expect(tg.callsOf('setWebhook', bot.token)).toHaveLength(0);
      expect(await secretOf(gw, bot.view.id)).not.toBe(bot.secret);
    });

    it('keeps the old secret when Telegram refuses the new one', async () => {
      const bot = await registerViaApi(gw);
      await call(gw, 'POST', `/admin/bots/${bot.view.id}/webhook`, { body: {} });
      tg.fail('setWebhook', FakeTelegram.error(500, 'Internal Server Error'));
      const res = await call(gw, 'POST', `/admin/bots/${bot.view.id}/secret/rotate`);
      expectError(res, 502, 'telegram_unavailable');
      expect(await secretOf(gw, bot.view.id)).toBe(bot.secret);
      expect(tg.webhookOf(bot.token)!.secret_token).toBe(bot.secret);
      expect((await deliver(gw, bot.token, bot.secret)).status).toBe(200);
    });
  });

  describe('concurrent changes of one bot', () => {
    /**
     * Holds the next call of `method` (after the operation read the bot) until released: the other operation runs
     * to completion in between, deterministically.
     */
    function holdNext(method: 'getMe' | 'getWebhookInfo') {
      const telegram = gw.app.get(TelegramService, { strict: false });
      const original = telegram[method].bind(telegram) as (token: string) => Promise<never>;
      let reached!: () => void;
      let release!: () => void;
      const isReached = new Promise<void>((resolve) => (reached = resolve));
      const released = new Promise<void>((resolve) => (release = resolve));
      const spy = vi.spyOn(telegram, method).mockImplementationOnce(async (token: string) => {
        reached();
        await released;
        return original(token);
      });
      return { isReached, release, restore: () => spy.mockRestore() };
    }

    it('a token replaced while the secret rotates keeps the rotated secret (no old secret written back)', async () => {
      const bot = await registerViaApi(gw);
      expect((await call(gw, 'POST', `/admin/bots/${bot.view.id}/webhook`, { body: {} })).status).toBe(200);
      const fresh = mint(tg, { id: bot.info.id });
      const held = holdNext('getMe');
      try {
        // replace-token reads the bot, then waits on getMe...
        const replacing = call(gw, 'PUT', `/admin/bots/${bot.view.id}/token`, { body: { token: fresh.token } });
        await held.isReached;
        // ...while rotate-secret runs through: Telegram gets the new secret.
        const rotated = await call(gw, 'POST', `/admin/bots/${bot.view.id}/secret/rotate`);
        expect(rotated.status, rotated.raw).toBe(200);
        const newSecret = await secretOf(gw, bot.view.id);
        expect(newSecret).not.toBe(bot.secret);
        held.release();
        const replaced = await replacing;
        expect(replaced.status, replaced.raw).toBe(200);
        // Both took effect: the new token, with the rotated secret, which is also what Telegram has.
        expect(await secretOf(gw, bot.view.id)).toBe(newSecret);
        expect(tg.webhookOf(fresh.token)).toMatchObject({
          url: `https://gateway.example.com/webhook/${fresh.token}`,
          secret_token: newSecret,
        });
        expect((await deliver(gw, fresh.token, newSecret)).status).toBe(200);
        expect((await deliver(gw, bot.token, newSecret)).status).toBe(404);
      } finally {
        held.restore();
      }
    });

    it('a secret rotated while the token is replaced never brings the revoked token back', async () => {
      const bot = await registerViaApi(gw);
      expect((await call(gw, 'POST', `/admin/bots/${bot.view.id}/webhook`, { body: {} })).status).toBe(200);
      const fresh = mint(tg, { id: bot.info.id });
      const held = holdNext('getWebhookInfo');
      try {
        // rotate-secret reads the bot (old token), then waits on getWebhookInfo...
        const rotating = call(gw, 'POST', `/admin/bots/${bot.view.id}/secret/rotate`);
        await held.isReached;
        // ...while replace-token runs through.
        const replaced = await call(gw, 'PUT', `/admin/bots/${bot.view.id}/token`, { body: { token: fresh.token } });
        expect(replaced.status, replaced.raw).toBe(200);
        held.release();
        const rotated = await rotating;
        expect(rotated.status, rotated.raw).toBe(200);
        const newSecret = await secretOf(gw, bot.view.id);
        expect(newSecret).not.toBe(bot.secret);
        expect(tg.webhookOf(fresh.token)).toMatchObject({
          url: `https://gateway.example.com/webhook/${fresh.token}`,
          secret_token: newSecret,
        });
        expect((await deliver(gw, fresh.token, newSecret)).status).toBe(200);
        // The replaced token stays refused.
        expect((await deliver(gw, bot.token, newSecret)).status).toBe(404);
        expect((await deliver(gw, bot.token, bot.secret)).status).toBe(404);
      } finally {
        held.restore();
      }
    });
  });

  it('never answers with a token or a secret, on any endpoint', async () => {
    const bot = await registerViaApi(gw, { name: 'Sweep' });
    const oldSecret = bot.secret;
    const paths = [`/admin/bots/${bot.view.id}`, `/admin/bots/@${bot.info.username}`, `/admin/bots/${bot.info.id}`];
    const sweep: Answer[] = [
      await call(gw, 'POST', `${paths[0]}/webhook`, { body: { maxConnections: 3 } }),
      await call(gw, 'POST', `${paths[1]}/secret/rotate`),
      ...(await Promise.all(paths.map((p) => call(gw, 'GET', p)))),
      await call(gw, 'GET', `${paths[2]}/webhook`),
      await call(gw, 'GET', '/admin/bots?limit=200'),
      await call(gw, 'PATCH', paths[0], { body: { name: 'Swept' } }),
      await call(gw, 'PUT', `${paths[0]}/token`, { body: { token: mint(tg, { id: bot.info.id }).token } }),
      await call(gw, 'DELETE', `${paths[0]}/webhook`, { body: {} }),
      await call(gw, 'DELETE', paths[0]),
    ];
    const newSecret = tg.callsOf('setWebhook', bot.token).at(-1)!.params.secret_token as string;
    secrets.add(newSecret);
    expect(newSecret).not.toBe(oldSecret);
    for (const res of sweep) {
      expect(res.status, res.raw).toBeLessThan(300);
      for (const secret of [bot.token, oldSecret, newSecret]) expect(res.raw).not.toContain(secret);
      expect(res.raw).not.toMatch(/\d{5,20}:[A-Za-z0-9_-]{30,}/);
    }
  });
});

describe('admin API when Telegram is unreachable', () => {
  let gw: Harness;

  beforeAll(async () => {
    gw = await start({ role: 'api', env: { TELEGRAM_API_ROOT: 'http://127.0.0.1:1' } });
  });

  afterAll(async () => {
    await gw.close();
  });

  it('answers 502 and registers nothing', async () => {
    const { token, bot } = mint(gw.telegram);
    const res = await call(gw, 'POST', '/admin/bots', { body: { token } });
    expectError(res, 502, 'telegram_unavailable');
    expect(res.body.message).toBe('Telegram is unreachable (getMe)');
    expect(await rowCount(gw, bot.id)).toBe(0);
  });

  it('answers 502 for webhook operations, and still deletes a bot', async () => {
    const bot = await gw.registerBot();
    tokens.add(bot.token);
    secrets.add(bot.secret);
    expectError(
      await call(gw, 'POST', `/admin/bots/${bot.record.id}/webhook`, { body: {} }),
      502,
      'telegram_unavailable',
    );
    expectError(await call(gw, 'GET', `/admin/bots/${bot.record.id}/webhook`), 502, 'telegram_unavailable');
    expectError(await call(gw, 'POST', `/admin/bots/${bot.record.id}/secret/rotate`), 502, 'telegram_unavailable');
    expect(await secretOf(gw, bot.record.id)).toBe(bot.secret);
    const removed = await call(gw, 'DELETE', `/admin/bots/${bot.record.id}`);
    expect(removed.status).toBe(200);
    expect(removed.body).toEqual({
      deleted: true,
      webhookRemoved: false,
      webhookError: 'Telegram is unreachable (deleteWebhook)',
    });
    expect(await rowCount(gw, bot.info.id)).toBe(0);
  });
});

describe('secret rotation without an overlap (WEBHOOK_SECRET_OVERLAP_SECONDS=0)', () => {
  it('refuses the old secret at once and accepts the new one', async () => {
    const gw = await start({ role: 'api', env: { WEBHOOK_SECRET_OVERLAP_SECONDS: '0' } });
    try {
      const bot = await registerViaApi(gw);
      expect((await call(gw, 'POST', `/admin/bots/${bot.view.id}/webhook`, { body: {} })).status).toBe(200);
      expect((await deliver(gw, bot.token, bot.secret)).status).toBe(200);
      const res = await call(gw, 'POST', `/admin/bots/${bot.view.id}/secret/rotate`);
      expect(res.status, res.raw).toBe(200);
      const newSecret = gw.telegram.webhookOf(bot.token)!.secret_token;
      secrets.add(newSecret);
      expect(newSecret).toBe(await secretOf(gw, bot.view.id));
      expect((await deliver(gw, bot.token, bot.secret)).status).toBe(401);
      expect((await deliver(gw, bot.token, newSecret)).status).toBe(200);
    } finally {
      await gw.close();
    }
  });
});

describe('a change through one API process reaches the others', () => {
  let a: Harness;
  let b: Harness;

  beforeAll(async () => {
    // A long cache TTL, so only the change notification (not an expiring entry) can explain a quick effect.
    const cache = { BOT_CACHE_TTL_MS: '600000', BOT_NEGATIVE_CACHE_TTL_MS: '600000' };
    a = await start({ role: 'api', env: cache });
    b = await start({ role: 'api', telegram: a.telegram, env: { ...sharedEnv(a), ...cache } });
  });

  afterAll(async () => {
    await b.close();
    await a.close();
  });

  /** How long until process B answers `status` for a delivery; fails after 5 s. */
  async function untilB(token: string, secret: string, status: number): Promise<number> {
    const started = Date.now();
    for (;;) {
      const res = await deliver(b, token, secret);
      if (res.status === status) return Date.now() - started;
      if (Date.now() - started > 5_000) throw new Error(`process B still answers ${res.status}, not ${status}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  it('disable, enable, new token, new secret and delete take effect on process B within 5 s', async () => {
    const bot = await registerViaApi(a);
    expect((await call(a, 'POST', `/admin/bots/${bot.view.id}/webhook`, { body: {} })).status).toBe(200);
    // Warm B's cache with an accepted delivery.
    expect((await deliver(b, bot.token, bot.secret)).status).toBe(200);

    expect((await call(a, 'PATCH', `/admin/bots/${bot.view.id}`, { body: { enabled: false } })).status).toBe(200);
    expect(await untilB(bot.token, bot.secret, 404)).toBeLessThan(5_000);
    expect((await call(a, 'PATCH', `/admin/bots/${bot.view.id}`, { body: { enabled: true } })).status).toBe(200);
    expect(await untilB(bot.token, bot.secret, 200)).toBeLessThan(5_000);

    const fresh = mint(a.telegram, { id: bot.info.id });
    expect((await deliver(b, fresh.token, bot.secret)).status).toBe(404); // B now remembers it as unknown
    const put = await call(a, 'PUT', `/admin/bots/${bot.view.id}/token`, { body: { token: fresh.token } });
    expect(put.status, put.raw).toBe(200);
    expect(await untilB(bot.token, bot.secret, 404)).toBeLessThan(5_000);
    expect(await untilB(fresh.token, bot.secret, 200)).toBeLessThan(5_000);

    // A new secret: B accepts it at once, and the old one during the overlap.
    expect((await call(a, 'POST', `/admin/bots/${bot.view.id}/webhook`, { body: {} })).status).toBe(200);
    const rotated = await call(a, 'POST', `/admin/bots/${bot.view.id}/secret/rotate`);
    expect(rotated.status).toBe(200);
    const newSecret = a.telegram.webhookOf(fresh.token)!.secret_token;
    secrets.add(newSecret);
    expect(await untilB(fresh.token, newSecret, 200)).toBeLessThan(5_000);
    expect((await deliver(b, fresh.token, bot.secret)).status).toBe(200);

    expect((await call(a, 'DELETE', `/admin/bots/${bot.view.id}`)).status).toBe(200);
    expect(await untilB(fresh.token, newSecret, 404)).toBeLessThan(5_000);
  });

  it("answers B's admin API with the bots A registered (one shared registry)", async () => {
    const bot = await registerViaApi(a);
    const seen = await call(b, 'GET', `/admin/bots/${bot.view.id}`);
    expect(seen.status).toBe(200);
    expect(seen.body).toEqual(bot.view);
  });
});

describe('OpenAPI document and Swagger UI', () => {
  let gw: Harness;

  beforeAll(async () => {
    gw = await start({ role: 'api' });
  });

  afterAll(async () => {
    await gw.close();
  });

  it('serves a valid OpenAPI document at /docs/json with the admin paths and bearer security', async () => {
    const res = await fetch(`${gw.baseUrl}/docs/json`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const doc = await jsonOf(res);
    await SwaggerParser.validate(structuredClone(doc));
    expect(doc.openapi).toMatch(/^3\./);
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });

    const operations: Record<string, string[]> = {
      '/admin/bots': ['get', 'post'],
      '/admin/bots/{id}': ['delete', 'get', 'patch'],
      '/admin/bots/{id}/token': ['put'],
      '/admin/bots/{id}/webhook': ['delete', 'get', 'post'],
      '/admin/bots/{id}/secret/rotate': ['post'],
      '/admin/bots/{id}/dead-letters/retry': ['post'],
      '/admin/dead-letters': ['delete', 'get'],
      '/admin/dead-letters/{id}': ['delete', 'get'],
      '/admin/dead-letters/{id}/retry': ['post'],
      '/admin/features': ['get'],
      '/admin/bots/{id}/features': ['get', 'put'],
      '/admin/bots/{id}/features/{name}': ['delete', 'put'],
      '/admin/bots/{id}/proxy-credentials': ['get', 'post'],
      '/admin/bots/{id}/proxy-credentials/{credentialId}': ['delete'],
      '/admin/bots/{id}/proxy-credentials/{credentialId}/rotate': ['post'],
      '/admin/whoami': ['get'],
      '/admin/tenants': ['get', 'post'],
      '/admin/tenants/{tenant}': ['delete', 'get'],
      '/admin/tenants/{tenant}/quotas': ['put'],
      '/admin/tenants/{tenant}/keys': ['get', 'post'],
      '/admin/tenants/{tenant}/keys/{keyId}': ['delete'],
      '/admin/audit': ['get'],
      '/admin/bots/{id}/destinations': ['get', 'post'],
      '/admin/bots/{id}/destinations/{destinationId}': ['delete', 'get', 'patch'],
      '/admin/bots/{id}/destinations/{destinationId}/rotate-secret': ['post'],
      '/admin/bots/{id}/destinations/{destinationId}/test': ['post'],
      '/admin/bots/{id}/destinations/{destinationId}/attempts': ['get'],
      '/admin/bots/{id}/destinations/{destinationId}/replay': ['post'],
    };
    expect(Object.keys(doc.paths).sort()).toEqual(Object.keys(operations).sort());
    for (const [path, methods] of Object.entries(operations)) {
      expect(Object.keys(doc.paths[path]).sort(), path).toEqual(methods);
      for (const method of methods) {
        const operation = doc.paths[path][method];
        expect(operation.security, `${method} ${path}`).toEqual([{ bearer: [] }]);
        expect(operation.responses['401'], `${method} ${path}`).toBeDefined();
      }
    }

    // Generated from the DTOs that validate the requests, with examples.
    const schemas = doc.components.schemas;
    expect(schemas.RegisterBotDto.required).toEqual(['token']);
    expect(schemas.RegisterBotDto.properties.token).toMatchObject({ type: 'string', example: expect.any(String) });
    expect(schemas.SetWebhookDto.properties.maxConnections).toMatchObject({ minimum: 1, maximum: 100 });
    expect(schemas.SetWebhookDto.properties.allowedUpdates).toMatchObject({
      type: 'array',
      example: ['message', 'callback_query'],
    });
    expect(Object.keys(schemas.BotDto.properties).sort()).toEqual(
      [
        'albums',
        'createdAt',
        'enabled',
        'features',
        'firstName',
        'id',
        'name',
        'revoked',
        'revokedAt',
        'telegramId',
        'tenantId',
        'updatedAt',
        'username',
      ].sort(),
    );
    expect(schemas.ErrorDto.required.sort()).toEqual(['code', 'error', 'message', 'statusCode']);
    const post = doc.paths['/admin/bots'].post;
    expect(post.requestBody.content['application/json'].schema.$ref).toBe('#/components/schemas/RegisterBotDto');
    expect(post.responses['201'].content['application/json'].schema.$ref).toBe('#/components/schemas/BotDto');
    expect(Object.keys(post.responses).sort()).toEqual(['201', '400', '401', '403', '409', '422', '429', '502', '503']);
    const list = doc.paths['/admin/bots'].get;
    expect(list.parameters.map((p: { name: string; in: string }) => `${p.in}:${p.name}`).sort()).toEqual([
      'query:cursor',
      'query:enabled',
      'query:limit',
    ]);
    expect(list.responses['200'].content['application/json'].schema.$ref).toBe('#/components/schemas/BotPageDto');
    const param = doc.paths['/admin/bots/{id}'].get.parameters[0];
    expect(param).toMatchObject({ name: 'id', in: 'path', required: true, schema: { example: '@my_shop_bot' } });
    // The document itself says nothing secret.
    expect(JSON.stringify(doc)).not.toContain(gw.config.adminApiKeys[0]);
  });

  it('serves Swagger UI at /docs, and the webhook route still works beside it', async () => {
    const page = await fetch(`${gw.baseUrl}/docs`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await page.text();
    expect(html).toContain('swagger-ui');
    const init = await fetch(`${gw.baseUrl}/docs/swagger-ui-init.js`);
    expect(init.status).toBe(200);
    expect(await init.text()).toContain('/admin/bots');
    const css = await fetch(`${gw.baseUrl}/docs/swagger-ui.css`);
    expect(css.status).toBe(200);
    // Read to the end: a response left half-read keeps its connection busy, and app.close() waits for it.
    expect(await css.text()).toContain('.swagger-ui');

    const bot = await gw.registerBot();
    tokens.add(bot.token);
    expect((await deliver(gw, bot.token, bot.secret)).status).toBe(200);
    expect((await deliver(gw, bot.token, 'wrong')).status).toBe(401);
  });

  it('has neither the admin API nor the docs in a worker process', async () => {
    const worker = await start({ role: 'worker', telegram: gw.telegram });
    try {
      expect((await fetch(`${worker.baseUrl}/docs/json`)).status).toBe(404);
      expect((await fetch(`${worker.baseUrl}/docs`)).status).toBe(404);
      expect((await call(worker, 'GET', '/admin/bots')).status).toBe(404);
      expect((await fetch(`${worker.baseUrl}/health/live`)).status).toBe(200);
    } finally {
      await worker.close();
    }
  });
});

describe('every admin API answer in this file', () => {
  it('contained no token and no webhook secret', () => {
    for (const fake of fakes) {
      for (const { token, method, params } of fake.calls) {
        tokens.add(token);
        if (method === 'setWebhook') secrets.add(params.secret_token);
      }
    }
    expect(answers.length).toBeGreaterThan(100);
    expect(tokens.size).toBeGreaterThan(20);
    expect(secrets.size).toBeGreaterThan(10);
    const everything = answers.join('\n');
    for (const token of tokens) {
      expect(everything).not.toContain(token);
      expect(everything).not.toContain(token.split(':')[1]);
    }
    for (const secret of secrets) expect(everything).not.toContain(secret);
    expect(everything).not.toMatch(/\d{5,20}:[A-Za-z0-9_-]{30,}/);
  });
});
