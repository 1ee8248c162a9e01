import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppConfig } from '../config/config';
import { APP_CONFIG } from '../config/config.module';
import { IngressBot } from '../bots/bot.types';
import { ForbiddenError, UnsupportedMediaTypeError } from '../common/errors';
import { toErrorResponse } from '../common/error-response';
import { serializeError } from '../common/logger';
import { MetricsService, WebhookOutcome } from '../metrics/metrics.service';
import type { Counter } from 'prom-client';
import { EnqueueResult } from '../updates/update.producer';
import { updateKindLabel } from '../telegram/update-kinds';
import { updateKind } from '../updates/update-queue';
import { IpAllowlist } from './ip-allowlist';
import { WebhookService } from './webhook.service';

export const SECRET_HEADER = 'x-telegram-bot-api-secret-token';

const OUTCOMES: Record<string, WebhookOutcome> = {
  bot_not_found: 'unknown_bot',
  bot_disabled: 'disabled_bot',
  bot_revoked: 'revoked_bot',
  invalid_secret_token: 'bad_secret',
  invalid_json: 'bad_request',
  invalid_update: 'bad_request',
  bad_request: 'bad_request',
  unsupported_media_type: 'unsupported_media_type',
  payload_too_large: 'payload_too_large',
  ip_not_allowed: 'forbidden_ip',
  backlog_quota_exceeded: 'over_quota',
};

/** The request as the webhook route sees it: the caller's bot (set once checked) and the body's JSON text. */
type WebhookRequest = FastifyRequest<{ Params: { token: string } }> & {
  tgwBot: IngressBot | null;
  tgwJson: string | null;
};

/**
 * `POST /webhook/:token`, registered on Fastify directly rather than as a Nest controller: the caller is
 * checked in `onRequest` (IP, content type, token, secret) before Fastify reads the body, so a stranger cannot
 * make the gateway buffer and parse a megabyte; the body limit applies to this route alone.
 */
@Injectable()
export class WebhookRoute implements OnModuleInit {
  private readonly logger = new Logger(WebhookRoute.name);
  private readonly allowlist: IpAllowlist;
  /** The counters of the two 2xx outcomes, bound once (a labelled `inc` hashes its labels on every call). */
  private readonly outcomes: Record<Exclude<EnqueueResult, 'over_quota'>, Counter.Internal>;
  /** The received-updates counter per kind, bound once (the same reason). */
  private readonly received = new Map<string, Counter.Internal>();

  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly webhook: WebhookService,
    private readonly metrics: MetricsService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    this.allowlist = new IpAllowlist(config.webhook.allowedIps, config.webhook.trustedProxies);
    this.outcomes = {
      accepted: metrics.webhookRequests.labels({ outcome: 'accepted' }),
      duplicate: metrics.webhookRequests.labels({ outcome: 'duplicate' }),
    };
  }

  onModuleInit() {
    const fastify = this.adapterHost.httpAdapter.getInstance<FastifyInstance>();
    // A scope of its own, so that the route parses JSON with Fastify's parser directly (Nest's body parser wraps it
    // per request) and keeps the body's text, which goes into the mailbox entry as it is instead of re-serialised.
    void fastify.register((scope, _options, done) => {
      const parseJson = scope.getDefaultJsonParser('error', 'error');
      scope.decorateRequest('tgwBot', null);
      scope.decorateRequest('tgwJson', null);
      scope.removeContentTypeParser('application/json');
      scope.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, parsed) => {
        (request as WebhookRequest).tgwJson = body as string;
        void parseJson(request, body as string, parsed);
      });
      scope.route<{ Params: { token: string } }>({
        method: 'POST',
        url: '/webhook/:token',
        bodyLimit: this.config.webhook.bodyLimit,
        onRequest: (request, _reply) => this.checkCaller(request as WebhookRequest),
        handler: (request, reply) => this.handle(request as WebhookRequest, reply),
        errorHandler: (error: unknown, _request: FastifyRequest, reply: FastifyReply) => this.fail(error, reply),
      });
      done();
    });
  }

  private async checkCaller(request: WebhookRequest): Promise<void> {
    if (!this.allowlist.allows(request.socket.remoteAddress ?? '', request.headers['x-forwarded-for'])) {
      throw new ForbiddenError('This address may not call the webhook', 'ip_not_allowed');
    }
    const contentType = request.headers['content-type'];
    if (!contentType || !/^application\/json\s*(;|$)/i.test(contentType)) {
      throw new UnsupportedMediaTypeError('Content-Type must be application/json');
    }
    const secret = request.headers[SECRET_HEADER];
    request.tgwBot = await this.webhook.authenticate(request.params.token, Array.isArray(secret) ? secret[0] : secret);
  }

  private async handle(request: WebhookRequest, reply: FastifyReply): Promise<void> {
    const result = await this.webhook.accept(request.tgwBot!, request.body, request.tgwJson);
    this.outcomes[result].inc();
    if (result === 'accepted') {
      const kind = updateKindLabel(updateKind(request.body as object));
      let counter = this.received.get(kind);
      if (!counter) this.received.set(kind, (counter = this.metrics.updatesReceived.labels({ kind })));
      counter.inc();
    }
    // An empty body: a body with a `method` field would make Telegram run it as a Bot API call.
    await reply.code(200).send();
  }

  private fail(error: unknown, reply: FastifyReply): void {
    const { body, retryAfter, unexpected } = toErrorResponse(error);
    if (unexpected || body.statusCode === 503) {
      this.logger.warn({ msg: 'Webhook request not accepted', status: body.statusCode, err: serializeError(error) });
    }
    this.metrics.webhookRequests.inc({
      outcome: body.statusCode === 503 ? 'unavailable' : (OUTCOMES[body.code] ?? 'bad_request'),
    });
    if (retryAfter !== undefined) void reply.header('Retry-After', String(retryAfter));
    void reply.code(body.statusCode).send(body);
  }
}
