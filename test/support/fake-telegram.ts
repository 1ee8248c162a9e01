import multipart from '@fastify/multipart';
import Fastify, { FastifyInstance, FastifyRequest } from 'fastify';
import { X509Certificate } from 'node:crypto';
import { isIPv4 } from 'node:net';

export interface TelegramCall {
  token: string;
  method: string;
  params: Record<string, any>;
  /** Files of a multipart call (Bot API InputFile), by field name. */
  files: Record<string, { filename: string; content: Buffer }>;
  /** The request's Content-Type without parameters (`application/json`, `multipart/form-data`, …). */
  contentType: string;
  at: number;
}

export interface FakeBot {
  id: number;
  is_bot: true;
  first_name: string;
  username: string;
  can_join_groups: boolean;
  can_read_all_group_messages: boolean;
  supports_inline_queries: boolean;
  can_connect_to_business: boolean;
  has_main_web_app: boolean;
  has_topics_enabled: boolean;
  allows_users_to_create_topics: boolean;
  can_manage_bots: boolean;
  supports_join_request_queries: boolean;
}

type Scripted = { status: number; body: unknown } | 'network';

let nextBotId = 7_000_000_000 + Math.floor(Math.random() * 100_000_000);

/**
 * A Telegram Bot API stand-in on 127.0.0.1 that speaks the real wire format (`POST /bot<token>/<method>`,
 * `{ ok, result }` / `{ ok: false, error_code, description, parameters }`), records every call, and can be told
 * to fail a method a number of times.
 */
export class FakeTelegram {
  readonly calls: TelegramCall[] = [];
  private readonly bots = new Map<string, FakeBot>();
  private readonly failures = new Map<string, Scripted[]>();
  /** Tokens all of whose calls get this answer (a bot in flood control), until removed. */
  readonly alwaysFail = new Map<string, Scripted>();
  /** Webhooks by bot id: like Telegram, a webhook belongs to the bot, not to one of its tokens. */
  private readonly webhooks = new Map<number, Record<string, any>>();
  private messageId = 1;
  /** Milliseconds each call of a method takes (a slow Telegram). */
  readonly delays = new Map<string, number>();

  private constructor(
    private readonly server: FastifyInstance,
    readonly apiRoot: string,
  ) {}

  static async start(): Promise<FakeTelegram> {
    const server = Fastify({ logger: false, forceCloseConnections: true });
    server.addContentTypeParser(
      'application/x-www-form-urlencoded',
      { parseAs: 'string' },
      (_req, body: string, done) => done(null, Object.fromEntries(new URLSearchParams(body))),
    );
    await server.register(multipart, { limits: { fileSize: 10 * 1024 * 1024 } });
    const self: { fake?: FakeTelegram } = {};
    server.all('/bot:token/:method', async (request, reply) => {
      const { token, method } = request.params as { token: string; method: string };
      const { params, files } = await readParams(request);
      const delay = self.fake!.delays.get(method);
      if (delay) await new Promise((resolve) => setTimeout(resolve, delay));
      const contentType = (request.headers['content-type'] ?? '').split(';')[0].trim();
      const answer = self.fake!.answer(token, method, params, files, contentType);
      if (answer === 'network') {
        request.raw.socket.destroy();
        return reply;
      }
      return reply.code(answer.status).send(answer.body);
    });
    const address = await server.listen({ port: 0, host: '127.0.0.1' });
    self.fake = new FakeTelegram(server, address);
    return self.fake;
  }

  /** Makes a token known; getMe answers with this bot. */
  addBot(overrides: Partial<FakeBot> = {}): { token: string; bot: FakeBot } {
    const id = overrides.id ?? nextBotId++;
    const bot: FakeBot = {
      id,
      is_bot: true,
      first_name: `Bot ${id}`,
      username: `fake_${id}_bot`,
      can_join_groups: true,
      can_read_all_group_messages: false,
      supports_inline_queries: false,
      can_connect_to_business: false,
      has_main_web_app: false,
      has_topics_enabled: false,
      allows_users_to_create_topics: false,
      can_manage_bots: false,
      supports_join_request_queries: false,
      ...overrides,
    };
    const token = `${id}:AA${Buffer.from(`${id}-${Math.random()}`).toString('base64url').slice(0, 33).padEnd(33, 'x')}`;
    this.bots.set(token, bot);
    return { token, bot };
  }

  /** The next `times` calls of `method` fail this way (an HTTP answer, or the connection dropped). */
  fail(method: string, failure: Scripted, times = 1): void {
    const queue = this.failures.get(method) ?? [];
    for (let i = 0; i < times; i++) queue.push(failure);
    this.failures.set(method, queue);
  }

  static error(code: number, description: string, parameters?: Record<string, unknown>): Scripted {
    return { status: code, body: { ok: false, error_code: code, description, ...(parameters ? { parameters } : {}) } };
  }

  callsOf(method: string, token?: string): TelegramCall[] {
    return this.calls.filter((c) => c.method === method && (token === undefined || c.token === token));
  }

  /** Waits until `predicate` holds for the recorded calls (polling), or fails after `timeoutMs`. */
  async waitFor(predicate: (calls: TelegramCall[]) => boolean, timeoutMs = 10_000, what = 'calls'): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate(this.calls)) {
      if (Date.now() > deadline) {
        const seen = this.calls.map((c) => `${c.method}(${JSON.stringify(c.params).slice(0, 80)})`).join('\n  ');
        throw new Error(`Timed out waiting for ${what}; fake Telegram saw:\n  ${seen}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  async close(): Promise<void> {
    await this.server.close();
  }

  private answer(
    token: string,
    method: string,
    params: Record<string, any>,
    files: TelegramCall['files'],
    contentType: string,
  ): Scripted {
    this.calls.push({ token, method, params, files, contentType, at: Date.now() });
    const bot = this.bots.get(token);
    if (!bot) return FakeTelegram.error(401, 'Unauthorized');
    const always = this.alwaysFail.get(token);
    if (always) return always;
    const scripted = this.failures.get(method)?.shift();
    if (scripted) return scripted;
    const ok = (result: unknown) => ({ status: 200, body: { ok: true, result } });
    const chat = { id: Number(params.chat_id), type: 'private' };
    switch (method) {
      case 'getMe':
        return ok(bot);
      case 'sendMessage':
        return ok({ message_id: this.messageId++, date: now(), chat, text: params.text });
      case 'copyMessage':
        return ok({ message_id: this.messageId++ });
      case 'copyMessages': {
        const ids = params.message_ids;
        if (!Array.isArray(ids) || ids.length < 1 || ids.length > 100) {
          return FakeTelegram.error(400, 'Bad Request: message_ids must contain 1-100 identifiers');
        }
        if (ids.some((id: unknown, i: number) => typeof id !== 'number' || (i > 0 && id <= ids[i - 1]))) {
          return FakeTelegram.error(400, 'Bad Request: message identifiers must be in strictly increasing order');
        }
        return ok(ids.map(() => ({ message_id: this.messageId++ })));
      }
      case 'setWebhook': {
        const refused = checkSetWebhook(params, files);
        if (refused) return FakeTelegram.error(400, `Bad Request: ${refused}`);
        // Like Telegram: only an uploaded file counts as a certificate, and a call without one drops the old one.
        const certificate = files.certificate?.content.toString('utf8');
        this.webhooks.set(bot.id, { ...params, ...(certificate ? { certificate } : {}) });
        return ok(true);
      }
      case 'deleteWebhook':
        this.webhooks.delete(bot.id);
        return ok(true);
      case 'getWebhookInfo': {
        const hook = this.webhooks.get(bot.id);
        return ok({
          url: hook?.url ?? '',
          has_custom_certificate: hook?.certificate !== undefined,
          pending_update_count: 0,
          ...(hook?.ip_address ? { ip_address: hook.ip_address } : {}),
          ...(hook?.max_connections ? { max_connections: hook.max_connections } : {}),
          ...(hook?.allowed_updates ? { allowed_updates: hook.allowed_updates } : {}),
        });
      }
      default:
        return ok(true);
    }
  }

  /** What setWebhook last received for a token (Telegram's view of the webhook). */
  webhookOf(token: string): Record<string, any> | undefined {
    const bot = this.bots.get(token);
    return bot && this.webhooks.get(bot.id);
  }
}

/** Parameters as JSON, a form, or multipart/form-data (where every field is a string, JSON for arrays). */
async function readParams(
  request: FastifyRequest,
): Promise<{ params: Record<string, any>; files: TelegramCall['files'] }> {
  const files: TelegramCall['files'] = {};
  if (!request.isMultipart()) return { params: (request.body ?? {}) as Record<string, any>, files };
  const params: Record<string, any> = {};
  for await (const part of request.parts()) {
    if (part.type === 'file') {
      files[part.fieldname] = { filename: part.filename, content: await part.toBuffer() };
    } else {
      const value = String(part.value);
      params[part.fieldname] = /^(\[.*\]|\{.*\}|true|false|\d{1,9})$/s.test(value) ? JSON.parse(value) : value;
    }
  }
  // A file parameter may name another part (`certificate=attach://<part>`, what grammY sends): Telegram reads it as
  // that file. A plain string is not a file, and Telegram ignores it as a certificate.
  for (const [name, value] of Object.entries(params)) {
    const attached = typeof value === 'string' && value.startsWith('attach://') ? files[value.slice(9)] : undefined;
    if (!attached) continue;
    files[name] = attached;
    delete files[(value as string).slice(9)];
    delete params[name];
  }
  return { params, files };
}

/** Telegram's MAX_CERTIFICATE_FILE_SIZE in the Bot API server. */
const MAX_CERTIFICATE_FILE_SIZE = 3 << 20;

/** What Telegram's Bot API server refuses in setWebhook (its words), or null. */
function checkSetWebhook(params: Record<string, any>, files: TelegramCall['files']): string | null {
  let url: URL;
  try {
    url = new URL(String(params.url ?? ''));
  } catch {
    return 'bad webhook: Failed to resolve host: Name or service not known';
  }
  if (url.protocol !== 'https:') return 'bad webhook: An HTTPS URL must be provided for webhook';
  if (!['', '80', '88', '443', '8443'].includes(url.port)) {
    return 'bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443';
  }
  if (params.secret_token !== undefined && !/^[A-Za-z0-9_-]{1,256}$/.test(String(params.secret_token))) {
    return 'secret token contains unallowed characters';
  }
  const certificate = files.certificate?.content;
  if (certificate) {
    if (certificate.length > MAX_CERTIFICATE_FILE_SIZE)
      return `Certificate size is too big (${certificate.length} bytes)`;
    try {
      new X509Certificate(certificate);
    } catch {
      return 'bad webhook: Failed to set custom certificate file';
    }
  }
  if (params.ip_address !== undefined && params.ip_address !== '') {
    const ip = String(params.ip_address);
    if (!isIPv4(ip)) return 'bad webhook: Invalid IP address specified';
    if (isReservedIpv4(ip)) return `bad webhook: IP address ${ip} is reserved`;
  }
  return null;
}

function isReservedIpv4(ip: string): boolean {
  const [a, b, c] = ip.split('.').map(Number);
  return (
    a === 0 ||
    a === 10 ||
    a === 127 ||
    a >= 224 ||
    (a === 100 && b >= 64 && b < 128) ||
    (a === 169 && b === 254) ||
    (a === 172 && b >= 16 && b < 32) ||
    (a === 192 && b === 168) ||
    (a === 192 && b === 0 && (c === 0 || c === 2)) ||
    (a === 198 && (b === 18 || b === 19)) ||
    (a === 198 && b === 51 && c === 100) ||
    (a === 203 && b === 0 && c === 113)
  );
}

function now(): number {
  return Math.floor(Date.now() / 1000);
}
