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
 * `{ ok, result }` / `{ ok: false, error_code, description, parameters }`), records every call, checks parameters
 * the way Telegram does (400 Bad Request), answers 401 Unauthorized for an unknown or revoked token and 404 for a
 * method it does not know, and can be told to fail a method a number of times.
 */
export class FakeTelegram {
  readonly calls: TelegramCall[] = [];
  readonly bots = new Map<string, FakeBot>();
  private readonly failures = new Map<string, Scripted[]>();
  /** Tokens all of whose calls get this answer (a bot in flood control), until removed. */
  readonly alwaysFail = new Map<string, Scripted>();
  /** Webhooks by bot id: like Telegram, a webhook belongs to the bot, not to one of its tokens. */
  private readonly webhooks = new Map<number, Record<string, any>>();
  private messageId = 1;
  /** Milliseconds each call of a method takes (a slow Telegram). */
  readonly delays = new Map<string, number>();
  /** Files served under /file/bot<token>/<file_path> (getFile answers with their paths), and the downloads made. */
  readonly fileContents = new Map<string, Buffer>();
  readonly downloads: { token: string; path: string }[] = [];

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
    // File downloads, as https://api.telegram.org/file/bot<token>/<file_path>.
    server.get('/file/bot:token/*', async (request, reply) => {
      const { token, '*': path } = request.params as { token: string; '*': string };
      const fake = self.fake!;
      fake.downloads.push({ token, path });
      if (!fake.bots.has(token))
        return reply.code(401).send({ ok: false, error_code: 401, description: 'Unauthorized' });
      const file = fake.fileContents.get(path);
      if (!file) return reply.code(404).send({ ok: false, error_code: 404, description: 'Not Found' });
      return reply.header('content-type', 'application/octet-stream').send(file);
    });
    const address = await server.listen({ port: 0, host: '127.0.0.1' });
    self.fake = new FakeTelegram(server, address);
    return self.fake;
  }

  /** The Bot API methods the fake implements (with Telegram's parameter checks). */
  static get methods(): string[] {
    return Object.keys(METHODS);
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

  /**
   * Makes a token invalid, as @BotFather's "revoke" does: every call with it answers 401 Unauthorized. The bot, and
   * its webhook, stay; `addBot({ id })` gives it a new token.
   */
  revoke(token: string): void {
    this.bots.delete(token);
  }

  /** Sets what getWebhookInfo reports about deliveries (pending updates, last error) for a bot. */
  setWebhookState(
    token: string,
    state: { pending_update_count?: number; last_error_date?: number; last_error_message?: string | null },
  ): void {
    const bot = this.bots.get(token);
    if (!bot) throw new Error('unknown token');
    this.deliveryState.set(bot.id, { ...this.deliveryState.get(bot.id), ...state });
  }

  private readonly deliveryState = new Map<number, Record<string, unknown>>();

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
    const handler = METHODS[method];
    if (!handler) return FakeTelegram.error(404, 'Not Found');
    const problem = handler.check(params);
    if (problem) return FakeTelegram.error(400, `Bad Request: ${problem}`);
    const ok = (result: unknown) => ({ status: 200, body: { ok: true, result } });
    switch (method) {
      case 'getMe':
        return ok(bot);
      case 'sendMessage':
        return ok({
          message_id: this.messageId++,
          date: now(),
          chat: { id: Number(params.chat_id), type: 'private' },
          text: params.text,
        });
      case 'copyMessage':
        return ok({ message_id: this.messageId++ });
      case 'sendDocument': {
        const file = files.document;
        if (!file && !params.document)
          return FakeTelegram.error(400, 'Bad Request: there is no document in the request');
        return ok({
          message_id: this.messageId++,
          date: now(),
          chat: { id: Number(params.chat_id), type: 'private' },
          document: file
            ? { file_id: `doc-${this.messageId}`, file_unique_id: `u${this.messageId}`, file_name: file.filename }
            : { file_id: String(params.document), file_unique_id: `u${this.messageId}` },
        });
      }
      case 'getFile': {
        const path = `documents/${String(params.file_id)}`;
        if (!this.fileContents.has(path)) return FakeTelegram.error(400, 'Bad Request: invalid file_id');
        return ok({
          file_id: params.file_id,
          file_unique_id: `u-${String(params.file_id)}`,
          file_size: this.fileContents.get(path)!.length,
          file_path: path,
        });
      }
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
        // Like Telegram: an empty URL removes the webhook.
        if (!params.url) {
          this.webhooks.delete(bot.id);
          return ok(true);
        }
        const refused = checkSetWebhook(params, files);
        if (refused) return FakeTelegram.error(400, `Bad Request: ${refused}`);
        // Like Telegram: only an uploaded file counts as a certificate, and a call without one drops the old one.
        const certificate = files.certificate?.content.toString('utf8');
        this.webhooks.set(bot.id, {
          ...params,
          allowed_updates: jsonParam(params.allowed_updates),
          ...(certificate ? { certificate } : {}),
        });
        return ok(true);
      }
      case 'deleteWebhook':
        this.webhooks.delete(bot.id);
        return ok(true);
      case 'getWebhookInfo': {
        const hook = this.webhooks.get(bot.id);
        const state = hook ? this.deliveryState.get(bot.id) : undefined;
        return ok({
          url: hook?.url ?? '',
          has_custom_certificate: hook?.certificate !== undefined,
          pending_update_count: Number(state?.pending_update_count ?? 0),
          ...(state?.last_error_message
            ? { last_error_date: state.last_error_date ?? now(), last_error_message: state.last_error_message }
            : {}),
          ...(hook?.ip_address ? { ip_address: hook.ip_address } : {}),
          ...(hook?.max_connections ? { max_connections: Number(hook.max_connections) } : {}),
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
  if (!request.isMultipart()) {
    return { params: { ...(request.query as object), ...(request.body ?? {}) }, files };
  }
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

/**
 * The Bot API methods the gateway calls (operator calls in src/telegram, handler calls in src/handlers), each with
 * the parameter checks Telegram makes; the problem is answered as `400 Bad Request: <problem>`, as Telegram words it.
 * A method not listed here answers 404 Not Found, like Telegram for a method that does not exist.
 */
const METHODS: Record<string, { check: (p: Record<string, any>) => string | null }> = {
  getMe: { check: () => null },
  getWebhookInfo: { check: () => null },
  deleteWebhook: { check: (p) => booleanProblem(p, 'drop_pending_updates') },
  setWebhook: {
    check: (p) => {
      if (p.url === undefined) return 'url is empty';
      if (typeof p.url !== 'string') return "can't parse URL";
      if (p.url !== '') {
        let url: URL;
        try {
          url = new URL(p.url);
        } catch {
          return 'bad webhook: invalid URL';
        }
        if (url.protocol !== 'https:') return 'bad webhook: An HTTPS URL must be provided for webhook';
        if (url.port && !['80', '88', '443', '8443'].includes(url.port)) {
          return 'bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443';
        }
      }
      if (p.max_connections !== undefined) {
        const n = Number(p.max_connections);
        if (!Number.isInteger(n) || n < 1 || n > 100) return 'bad webhook: max_connections must be from 1 to 100';
      }
      if (p.secret_token !== undefined) {
        if (typeof p.secret_token !== 'string' || p.secret_token.length < 1 || p.secret_token.length > 256) {
          return 'bad webhook: secret token must be 1-256 characters';
        }
        if (!/^[A-Za-z0-9_-]+$/.test(p.secret_token)) return 'bad webhook: secret token contains unallowed characters';
      }
      if (p.allowed_updates !== undefined) {
        const list = jsonParam(p.allowed_updates);
        if (!Array.isArray(list) || list.some((item) => typeof item !== 'string')) {
          return "can't parse allowed updates JSON object";
        }
      }
      return booleanProblem(p, 'drop_pending_updates');
    },
  },
  sendMessage: {
    check: (p) => {
      const chat = chatIdProblem(p.chat_id, 'chat_id');
      if (chat) return chat;
      if (p.text === undefined || p.text === null || String(p.text).trim() === '') return 'message text is empty';
      if (typeof p.text !== 'string') return "can't parse message text";
      // Telegram counts UTF-16 code units after entity parsing; without parse_mode that is the text itself.
      if (p.text.length > 4096) return 'message is too long';
      if (p.parse_mode !== undefined && !['HTML', 'Markdown', 'MarkdownV2'].includes(p.parse_mode)) {
        return `unsupported parse_mode "${String(p.parse_mode)}"`;
      }
      return replyMarkupProblem(p.reply_markup);
    },
  },
  copyMessages: {
    check: (p) =>
      chatIdProblem(p.chat_id, 'chat_id') ??
      chatIdProblem(p.from_chat_id, 'from_chat_id') ??
      (Array.isArray(p.message_ids) && p.message_ids.length > 0 ? null : 'message identifiers are not specified'),
  },
  sendDocument: {
    // The document itself (a file part, or a file_id) is checked when answering: an upload is not a parameter.
    check: (p) => chatIdProblem(p.chat_id, 'chat_id'),
  },
  getFile: {
    check: (p) => (typeof p.file_id === 'string' && p.file_id !== '' ? null : 'invalid file_id'),
  },
  copyMessage: {
    check: (p) =>
      chatIdProblem(p.chat_id, 'chat_id') ??
      chatIdProblem(p.from_chat_id, 'from_chat_id') ??
      (isInteger(p.message_id) && Number(p.message_id) > 0 ? null : 'message to copy not found') ??
      replyMarkupProblem(p.reply_markup),
  },
  answerCallbackQuery: {
    check: (p) => {
      if (typeof p.callback_query_id !== 'string' || p.callback_query_id === '') {
        return 'query is too old and response timeout expired or query ID is invalid';
      }
      if (p.text !== undefined && (typeof p.text !== 'string' || p.text.length > 200)) return 'MESSAGE_TOO_LONG';
      return booleanProblem(p, 'show_alert');
    },
  },
};

function isInteger(value: unknown): boolean {
  return (
    (typeof value === 'number' && Number.isSafeInteger(value)) || (typeof value === 'string' && /^-?\d+$/.test(value))
  );
}

function chatIdProblem(value: unknown, name: string): string | null {
  if (value === undefined || value === null || value === '') return `${name} is empty`;
  if (isInteger(value)) return null;
  if (typeof value === 'string' && /^@[A-Za-z0-9_]{4,}$/.test(value)) return null;
  return 'chat not found';
}

function booleanProblem(p: Record<string, any>, name: string): string | null {
  const value: unknown = p[name];
  if (value === undefined || typeof value === 'boolean' || value === 'true' || value === 'false') return null;
  return `can't parse ${name} as Boolean`;
}

function replyMarkupProblem(value: unknown): string | null {
  if (value === undefined) return null;
  const parsed = jsonParam(value);
  return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
    ? null
    : "can't parse reply keyboard markup JSON object";
}

/** A parameter that is JSON-serialised in a form body and an object in a JSON body. */
function jsonParam(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

function now(): number {
  return Math.floor(Date.now() / 1000);
}
