import { Api, GrammyError } from 'grammy';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeTelegram } from './support/fake-telegram';

const ROOT = join(__dirname, '..');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === 'generated' ? [] : sourceFiles(path);
    return name.endsWith('.ts') && !name.endsWith('.spec.ts') ? [path] : [];
  });
}

/**
 * The Bot API methods the gateway's code calls: `api.<method>(` on grammY's Api, and grammY's context shortcuts
 * (`ctx.reply(` is sendMessage), read from grammY's own Context source.
 */
function methodsTheGatewayCalls(): string[] {
  const apiMethods = new Set(Object.getOwnPropertyNames(Api.prototype).filter((name) => name !== 'constructor'));
  const contextSource = readFileSync(join(dirname(require.resolve('grammy')), 'context.js'), 'utf8');
  const shortcuts = new Map<string, string>();
  for (const [, name, method] of contextSource.matchAll(
    /\n {4}(\w+)\([^)]*\) \{\n(?:(?!\n {4}\}).)*?this\.api\.(\w+)\(/gs,
  )) {
    shortcuts.set(name, method);
  }
  const called = new Set<string>();
  for (const file of sourceFiles(join(ROOT, 'src'))) {
    for (const [, receiver, name] of readFileSync(file, 'utf8').matchAll(/\b(api|ctx)\.(\w+)\(/g)) {
      if (receiver === 'api' && apiMethods.has(name)) called.add(name);
      if (receiver === 'ctx' && shortcuts.has(name)) called.add(shortcuts.get(name)!);
    }
  }
  return [...called].sort();
}

describe('the fake Bot API', () => {
  let telegram: FakeTelegram;
  let token: string;

  beforeAll(async () => {
    telegram = await FakeTelegram.start();
    token = telegram.addBot().token;
  });

  afterAll(() => telegram.close());

  const call = async (method: string, params: unknown, as = token) => {
    const res = await fetch(`${telegram.apiRoot}/bot${as}/${method}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(params),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  it('covers every Bot API method the gateway calls (operator calls and handlers)', () => {
    const called = methodsTheGatewayCalls();
    expect(called).toEqual(
      expect.arrayContaining([
        'answerCallbackQuery',
        'copyMessage',
        'deleteWebhook',
        'getMe',
        'getWebhookInfo',
        'sendMessage',
        'setWebhook',
      ]),
    );
    expect(called.filter((method) => !FakeTelegram.methods.includes(method))).toEqual([]);
  });

  it.each([
    ['sendMessage', { text: 'hi' }, 'Bad Request: chat_id is empty'],
    ['sendMessage', { chat_id: 1 }, 'Bad Request: message text is empty'],
    ['sendMessage', { chat_id: 1, text: '   ' }, 'Bad Request: message text is empty'],
    ['sendMessage', { chat_id: 1, text: 'x'.repeat(4097) }, 'Bad Request: message is too long'],
    ['sendMessage', { chat_id: 'nobody', text: 'hi' }, 'Bad Request: chat not found'],
    ['sendMessage', { chat_id: 1, text: 'hi', parse_mode: 'html' }, 'Bad Request: unsupported parse_mode "html"'],
    [
      'sendMessage',
      { chat_id: 1, text: 'hi', reply_markup: 'x' },
      "Bad Request: can't parse reply keyboard markup JSON object",
    ],
    ['copyMessage', { chat_id: 1, message_id: 5 }, 'Bad Request: from_chat_id is empty'],
    ['copyMessage', { chat_id: 1, from_chat_id: 1 }, 'Bad Request: message to copy not found'],
    ['answerCallbackQuery', {}, 'Bad Request: query is too old and response timeout expired or query ID is invalid'],
    ['answerCallbackQuery', { callback_query_id: 'q', text: 'x'.repeat(201) }, 'Bad Request: MESSAGE_TOO_LONG'],
    ['setWebhook', {}, 'Bad Request: url is empty'],
    [
      'setWebhook',
      { url: 'http://gateway.example.com/webhook/x' },
      'Bad Request: bad webhook: An HTTPS URL must be provided for webhook',
    ],
    [
      'setWebhook',
      { url: 'https://gateway.example.com:8080/x' },
      'Bad Request: bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443',
    ],
    [
      'setWebhook',
      { url: 'https://gateway.example.com/x', max_connections: 101 },
      'Bad Request: bad webhook: max_connections must be from 1 to 100',
    ],
    [
      'setWebhook',
      { url: 'https://gateway.example.com/x', secret_token: 'a b' },
      'Bad Request: bad webhook: secret token contains unallowed characters',
    ],
    [
      'setWebhook',
      { url: 'https://gateway.example.com/x', allowed_updates: 'message' },
      "Bad Request: can't parse allowed updates JSON object",
    ],
    ['deleteWebhook', { drop_pending_updates: 'yes' }, "Bad Request: can't parse drop_pending_updates as Boolean"],
  ])('%s: 400 %s', async (method, params, description) => {
    expect(await call(method, params)).toEqual({
      status: 400,
      body: { ok: false, error_code: 400, description },
    });
  });

  it('accepts what grammY sends for the calls the gateway makes', async () => {
    const api = new Api(token, { apiRoot: telegram.apiRoot });
    expect((await api.sendMessage(1, 'x'.repeat(4096))).text).toHaveLength(4096);
    expect(await api.copyMessage(1, 2, 3)).toMatchObject({ message_id: expect.any(Number) });
    expect(await api.answerCallbackQuery('q1', { text: 'ok' })).toBe(true);
    expect(
      await api.setWebhook('https://gateway.example.com:8443/webhook/x', {
        secret_token: 'A-z_09',
        max_connections: 100,
        allowed_updates: ['message', 'chat_member'],
        drop_pending_updates: true,
      }),
    ).toBe(true);
    expect(await api.getWebhookInfo()).toMatchObject({
      url: 'https://gateway.example.com:8443/webhook/x',
      max_connections: 100,
      allowed_updates: ['message', 'chat_member'],
    });
    expect(await api.deleteWebhook()).toBe(true);
    expect((await api.getWebhookInfo()).url).toBe('');
  });

  it('answers 401 Unauthorized for a revoked token, and 404 for a method Telegram does not have', async () => {
    const { token: revoked } = telegram.addBot();
    expect((await call('getMe', {}, revoked)).status).toBe(200);
    telegram.revoke(revoked);
    expect(await call('getMe', {}, revoked)).toEqual({
      status: 401,
      body: { ok: false, error_code: 401, description: 'Unauthorized' },
    });
    const error = await new Api(revoked, { apiRoot: telegram.apiRoot }).getWebhookInfo().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GrammyError);
    expect((error as GrammyError).error_code).toBe(401);
    expect(await call('sendMessagee', { chat_id: 1, text: 'hi' })).toEqual({
      status: 404,
      body: { ok: false, error_code: 404, description: 'Not Found' },
    });
  });
});
