import { Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Redis } from 'ioredis';
import { pipeline, Readable, Transform } from 'node:stream';
import { Agent, errors as undiciErrors, request as undiciRequest } from 'undici';
import { BotRegistryService } from '../bots/bot-registry.service';
import { WorkerBot } from '../bots/bot.types';
import { serializeError } from '../common/logger';
import { AppConfig } from '../config/config';
import { APP_CONFIG } from '../config/config.module';
import { withTimeout } from '../infra/database/prisma.service';
import { RedisConnections } from '../infra/redis/redis.module';
import { MetricsService, ProxyOutcome } from '../metrics/metrics.service';
import { methodLabel, refusedMethod } from './proxy-methods';
import { ProxyCredentialsService } from './proxy-credentials.service';
import { PROXY_PAUSE } from './proxy-scripts';

/** A Telegram-shaped error answer: what every Bot API client library knows how to read. */
interface TelegramError {
  status: number;
  description: string;
  retryAfter?: number;
  outcome: ProxyOutcome;
}

type ProxyRequest = FastifyRequest<{ Params: { credential: string; method?: string; '*'?: string } }>;

/** The flood wait check must not hold a call up while Redis is slow: without an answer, the call goes on. */
const PAUSE_CHECK_TIMEOUT_MS = 250;

class BodyTooLargeError extends Error {}

const UNAUTHORIZED: TelegramError = { status: 401, description: 'Unauthorized', outcome: 'unauthorized' };

/**
 * The outbound Bot API proxy: `<PROXY_PATH>/bot<credential>/<method>` (GET or POST) and
 * `<PROXY_PATH>/file/bot<credential>/<path>` (file downloads). A consumer uses a proxy credential as its bot's token;
 * the gateway swaps in the bot's current token, forwards the call to TELEGRAM_API_ROOT as it came (method, content
 * type, body streamed, so JSON, forms and multipart uploads all pass), and streams Telegram's answer back.
 *
 * Registered on Fastify in a scope of its own, like the webhook: no body parser (the body is a stream handed to
 * undici), no Nest guard. The gateway owns the bot's flood control: while the bot is in Telegram's flood wait (set by
 * a worker or by this proxy, in Redis), a call is answered 429 at once without reaching Telegram; a 429 from
 * Telegram puts the whole bot in that wait, its queued updates included. Methods that would take the bot away from
 * the gateway (its webhook, getUpdates, logOut, close) are refused. No answer, log line or error carries the token.
 */
@Injectable()
export class ProxyRoute implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('BotApiProxy');
  private readonly dispatcher: Agent;
  private readonly redis: Redis & {
    tgwProxyPause?: (prefix: string, bot: string, ttlMs: number) => Promise<number>;
  };
  private readonly prefix: string;

  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly credentials: ProxyCredentialsService,
    private readonly registry: BotRegistryService,
    private readonly metrics: MetricsService,
    redis: RedisConnections,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    this.dispatcher = new Agent({
      connections: 256,
      keepAliveTimeout: 30_000,
      headersTimeout: config.proxy.timeoutMs,
      bodyTimeout: config.proxy.timeoutMs,
    });
    this.redis = redis.general;
    if (!('tgwProxyPause' in this.redis))
      this.redis.defineCommand('tgwProxyPause', { numberOfKeys: 0, lua: PROXY_PAUSE });
    this.prefix = `${config.redisPrefix}:`;
  }

  onModuleInit() {
    const fastify = this.adapterHost.httpAdapter.getInstance<FastifyInstance>();
    const base = this.config.proxy.path;
    void fastify.register((scope, _options, done) => {
      // Bodies are not parsed: whatever the content type, the request stream goes to Telegram as it is.
      scope.removeAllContentTypeParsers();
      scope.addContentTypeParser('*', (_request, payload, parsed) => parsed(null, payload));
      scope.route({
        method: ['GET', 'POST'],
        url: `${base}/bot:credential/:method`,
        // Returning the reply tells Fastify the answer is on its way: an async handler resolving to undefined after
        // `send(stream)` makes it answer an empty body.
        handler: async (request, reply) => {
          await this.call(request as ProxyRequest, reply);
          return reply;
        },
      });
      scope.route({
        method: 'GET',
        url: `${base}/file/bot:credential/*`,
        handler: async (request, reply) => {
          await this.download(request as ProxyRequest, reply);
          return reply;
        },
      });
      done();
    });
  }

  async onModuleDestroy() {
    await this.dispatcher.close().catch(() => undefined);
  }

  private async call(request: ProxyRequest, reply: FastifyReply): Promise<void> {
    const method = request.params.method ?? '';
    const label = methodLabel(method);
    const bot = await this.botOf(request, reply, label);
    if (!bot) return;
    const refused = refusedMethod(method);
    if (refused) return this.fail(reply, label, { status: 403, description: refused, outcome: 'refused' });
    if (!/^[A-Za-z0-9_]{1,64}$/.test(method)) {
      return this.fail(reply, label, { status: 404, description: 'Not Found', outcome: 'refused' });
    }
    const waitMs = await this.floodWaitLeft(bot.id);
    if (waitMs > 0) {
      const retryAfter = Math.ceil(waitMs / 1000);
      return this.fail(reply, label, {
        status: 429,
        description: `Too Many Requests: retry after ${retryAfter}`,
        retryAfter,
        outcome: 'flood_wait_local',
      });
    }
    const query = request.url.includes('?') ? request.url.slice(request.url.indexOf('?')) : '';
    await this.forward(request, reply, bot, `/bot${bot.token}/${method}${query}`, label);
  }

  private async download(request: ProxyRequest, reply: FastifyReply): Promise<void> {
    const bot = await this.botOf(request, reply, 'file');
    if (!bot) return;
    const path = request.params['*'] ?? '';
    if (path === '' || path.split('/').some((segment) => segment === '..' || segment === '.')) {
      return this.fail(reply, 'file', { status: 404, description: 'Not Found', outcome: 'refused' });
    }
    const encoded = path.split('/').map(encodeURIComponent).join('/');
    await this.forward(request, reply, bot, `/file/bot${bot.token}/${encoded}`, 'file');
  }

  /** The bot a call's credential stands for, or null once a Telegram-shaped refusal was sent. */
  private async botOf(request: ProxyRequest, reply: FastifyReply, label: string): Promise<WorkerBot | null> {
    let bot: WorkerBot | null = null;
    try {
      const caller = await this.credentials.authenticate(request.params.credential);
      bot = caller && (await this.registry.findForWorker(caller.botId));
      // The credential starts with its bot's Telegram id: one that was edited to another bot's is refused.
      if (bot && String(bot.botInfo.id) !== caller!.telegramId) bot = null;
    } catch (error) {
      this.logger.warn({ msg: 'Cannot check a proxy credential', err: serializeError(error) });
      this.fail(reply, label, {
        status: 503,
        description: 'Service Unavailable: the gateway cannot check credentials right now',
        retryAfter: this.config.webhook.retryAfterSeconds,
        outcome: 'error',
      });
      return null;
    }
    if (!bot) {
      this.fail(reply, label, UNAUTHORIZED);
      return null;
    }
    if (!bot.enabled) {
      this.fail(reply, label, {
        status: 403,
        description: 'Forbidden: the bot is disabled in the gateway',
        outcome: 'refused',
      });
      return null;
    }
    if (bot.revoked) {
      this.fail(reply, label, {
        status: 401,
        description: "Unauthorized: Telegram rejected the bot's token; the gateway's operator must replace it",
        outcome: 'refused',
      });
      return null;
    }
    return bot;
  }

  /** Milliseconds left of the bot's flood wait (0: none, or Redis did not answer in time: then Telegram decides). */
  private async floodWaitLeft(botId: string): Promise<number> {
    const key = `${this.prefix}pause:${botId}`;
    try {
      const [value, left] = await withTimeout(
        Promise.all([this.redis.get(key), this.redis.pttl(key)]),
        PAUSE_CHECK_TIMEOUT_MS,
      );
      // A worker's pause while the bot was disabled is no flood wait: the bot may call again once enabled.
      return value === 'disabled' ? 0 : Math.max(0, left);
    } catch {
      return 0;
    }
  }

  private async forward(
    request: ProxyRequest,
    reply: FastifyReply,
    bot: WorkerBot,
    path: string,
    label: string,
  ): Promise<void> {
    const headers: Record<string, string> = {};
    const contentType = request.headers['content-type'];
    if (contentType) headers['content-type'] = contentType;
    const length = request.headers['content-length'];
    if (length !== undefined && Number(length) > this.config.proxy.bodyLimit) {
      return this.tooLarge(reply, label);
    }
    if (length !== undefined) headers['content-length'] = length;
    const hasBody = request.method === 'POST' && request.body instanceof Readable;
    // The call stops when the consumer goes away (no point uploading to Telegram for nobody).
    const abort = new AbortController();
    const onClose = () => {
      if (!reply.raw.writableFinished) abort.abort();
    };
    reply.raw.once('close', onClose);
    try {
      const answer = await undiciRequest(`${this.config.telegramApiRoot}${path}`, {
        method: request.method as 'GET' | 'POST',
        headers,
        body: hasBody ? limited(request.body as Readable, this.config.proxy.bodyLimit) : undefined,
        signal: abort.signal,
        dispatcher: this.dispatcher,
      });
      const status = answer.statusCode;
      const type = answer.headers['content-type'];
      if (type) void reply.header('content-type', type);
      if (status === 429) {
        // Read the (small) answer for retry_after; the whole bot waits, then the answer goes back unchanged.
        const text = await answer.body.text();
        await this.pause(bot.id, retryAfterOf(text));
        this.count('forwarded', label);
        return void reply.code(status).send(text);
      }
      if (status === 401 && label !== 'file') {
        // The bot's token itself was refused: the bot is marked revoked, as when a worker's call meets a 401.
        void this.registry.markRevoked(bot.id, bot.token).catch((error: unknown) => {
          this.logger.warn({ msg: 'Could not mark a bot revoked', botId: bot.id, err: serializeError(error) });
        });
      }
      const answerLength = answer.headers['content-length'];
      if (typeof answerLength === 'string') void reply.header('content-length', answerLength);
      this.count('forwarded', label);
      return void reply.code(status).send(answer.body);
    } catch (error) {
      if (error instanceof BodyTooLargeError || (error as { cause?: unknown }).cause instanceof BodyTooLargeError) {
        return this.tooLarge(reply, label);
      }
      if (abort.signal.aborted) {
        this.count('error', label);
        return;
      }
      const timeout =
        error instanceof undiciErrors.HeadersTimeoutError || error instanceof undiciErrors.BodyTimeoutError;
      this.logger.warn({
        msg: 'A proxied Bot API call failed',
        botId: bot.id,
        method: label,
        err: serializeError(error),
      });
      return this.fail(
        reply,
        label,
        timeout
          ? { status: 504, description: 'Gateway Timeout: Telegram did not answer in time', outcome: 'error' }
          : { status: 502, description: 'Bad Gateway: Telegram could not be reached', outcome: 'error' },
      );
    } finally {
      reply.raw.off('close', onClose);
    }
  }

  /** Puts the bot in Telegram's flood wait (see proxy-scripts.ts); best effort: Telegram's answer goes back anyway. */
  private async pause(botId: string, retryAfter: number | null): Promise<void> {
    if (retryAfter === null) return;
    try {
      await withTimeout(this.redis.tgwProxyPause!(this.prefix, botId, retryAfter * 1000), 1_000);
      this.logger.warn({ msg: `Telegram's flood control: the bot waits ${retryAfter} s`, botId });
    } catch (error) {
      this.logger.warn({ msg: "Could not record a bot's flood wait in Redis", botId, err: serializeError(error) });
    }
  }

  private tooLarge(reply: FastifyReply, label: string): void {
    this.fail(reply, label, {
      status: 413,
      description: `Request Entity Too Large: the gateway forwards at most ${this.config.proxy.bodyLimit} bytes`,
      outcome: 'refused',
    });
  }

  private fail(reply: FastifyReply, label: string, error: TelegramError): void {
    this.count(error.outcome, label);
    if (error.retryAfter !== undefined) void reply.header('retry-after', String(error.retryAfter));
    void reply.code(error.status).send({
      ok: false,
      error_code: error.status,
      description: error.description,
      ...(error.retryAfter !== undefined ? { parameters: { retry_after: error.retryAfter } } : {}),
    });
  }

  private count(outcome: ProxyOutcome, method: string): void {
    this.metrics.proxyRequests.inc({ outcome, method });
  }
}

/** `parameters.retry_after` of a Telegram 429 answer, or null. */
export function retryAfterOf(text: string): number | null {
  try {
    const value = (JSON.parse(text) as { parameters?: { retry_after?: unknown } }).parameters?.retry_after;
    return typeof value === 'number' && Number.isFinite(value) && value > 0 ? Math.ceil(value) : null;
  } catch {
    return null;
  }
}

/** The body, cut off with BodyTooLargeError past `limit` bytes (a body sent without Content-Length). */
function limited(body: Readable, limit: number): Readable {
  let seen = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      seen += chunk.length;
      callback(seen > limit ? new BodyTooLargeError() : null, chunk);
    },
  });
  // Errors of either side end the stream undici reads; undici then fails the call with it.
  return pipeline(body, counter, () => undefined);
}
