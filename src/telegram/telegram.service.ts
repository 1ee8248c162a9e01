import { Inject, Injectable } from '@nestjs/common';
import { Api, GrammyError, HttpError, InputFile } from 'grammy';
import type { UserFromGetMe, WebhookInfo } from 'grammy/types';
import { AppConfig } from '../config/config';
import { APP_CONFIG } from '../config/config.module';
import { BadGatewayError, TooManyRequestsError, UnprocessableError } from '../common/errors';
import { redactSecrets } from '../common/redact';

export interface SetWebhookOptions {
  url: string;
  secretToken: string;
  dropPendingUpdates?: boolean;
  maxConnections?: number;
  allowedUpdates?: string[];
  /** A self-signed certificate (PEM), uploaded as a file: the call then goes as multipart/form-data. */
  certificate?: string | null;
  /** Fixed IPv4 address Telegram posts to instead of resolving the URL's host. */
  ipAddress?: string | null;
}

/** Timeout of an operator's call to Telegram: long enough for a slow answer, short enough for a CLI. */
const ADMIN_TIMEOUT_SECONDS = 15;

/**
 * The Bot API calls operators make (getMe, webhooks), with Telegram's answers turned into typed errors:
 * a refusal (4xx) → 422 with Telegram's description, 429 → 429 with Retry-After, anything else → 502.
 */
@Injectable()
export class TelegramService {
  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  getMe(token: string): Promise<UserFromGetMe> {
    return this.call(token, 'getMe', (api) => api.getMe(), 'token_rejected');
  }

  setWebhook(token: string, options: SetWebhookOptions): Promise<true> {
    return this.call(token, 'setWebhook', (api) =>
      api.setWebhook(options.url, {
        secret_token: options.secretToken,
        drop_pending_updates: options.dropPendingUpdates,
        max_connections: options.maxConnections,
        allowed_updates: options.allowedUpdates as never,
        // An InputFile makes grammY send multipart/form-data; Telegram ignores a certificate sent as a plain string.
        certificate: options.certificate
          ? new InputFile(Buffer.from(options.certificate), 'certificate.pem')
          : undefined,
        ip_address: options.ipAddress ?? undefined,
      }),
    );
  }

  deleteWebhook(token: string, dropPendingUpdates?: boolean): Promise<true> {
    return this.call(token, 'deleteWebhook', (api) => api.deleteWebhook({ drop_pending_updates: dropPendingUpdates }));
  }

  getWebhookInfo(token: string): Promise<WebhookInfo> {
    return this.call(token, 'getWebhookInfo', (api) => api.getWebhookInfo());
  }

  private async call<T>(
    token: string,
    method: string,
    run: (api: Api) => Promise<T>,
    rejectedCode = 'telegram_rejected',
  ): Promise<T> {
    const api = new Api(token, {
      apiRoot: this.config.telegramApiRoot,
      timeoutSeconds: ADMIN_TIMEOUT_SECONDS,
    });
    try {
      return await run(api);
    } catch (error) {
      throw translate(method, error, rejectedCode);
    }
  }
}

/** Telegram refused a call (4xx): a 422 for the caller; `telegramStatus` tells a revoked token (401) apart. */
export class TelegramRejectedError extends UnprocessableError {
  constructor(
    message: string,
    code: string,
    readonly telegramStatus: number,
  ) {
    super(message, code);
  }
}

export function translate(method: string, error: unknown, rejectedCode: string): Error {
  if (error instanceof GrammyError) {
    const description = redactSecrets(error.description);
    if (error.error_code === 429) {
      return new TooManyRequestsError(`Telegram ${method}: ${description}`, error.parameters.retry_after ?? 1);
    }
    if (error.error_code >= 400 && error.error_code < 500) {
      return new TelegramRejectedError(`Telegram ${method}: ${description}`, rejectedCode, error.error_code);
    }
    return new BadGatewayError(`Telegram ${method} failed: ${description}`, 'telegram_unavailable', { cause: error });
  }
  if (error instanceof HttpError) {
    return new BadGatewayError(`Telegram is unreachable (${method})`, 'telegram_unavailable', { cause: error });
  }
  return error instanceof Error ? error : new Error(String(error));
}
