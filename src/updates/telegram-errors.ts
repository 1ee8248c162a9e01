import { BotError, GrammyError, HttpError } from 'grammy';
import { DatabaseUnavailableError, isRedisUnavailable } from '../common/errors';
import { redactSecrets } from '../common/redact';

export type Failure =
  | { kind: 'permanent'; reason: string }
  | { kind: 'revoked'; reason: string }
  | { kind: 'rate_limited'; retryAfterMs: number; reason: string }
  | { kind: 'transient'; reason: string }
  | { kind: 'unavailable'; reason: string };

/**
 * How a failed update is retried. A Telegram 4xx other than 401 and 429 will fail the same way every time (chat
 * not found, bot blocked, bad request): retrying only delays the rest, so it is permanent. 429 says when to come
 * back. 401 is about the bot's token, not the update: the token was revoked, and the update waits until it is
 * replaced. 5xx, network errors and anything unexpected are transient and retried with backoff. Our own Redis or
 * Postgres being away is `unavailable`: the update is fine, so waiting for them spends no attempt.
 */
export function classifyFailure(error: unknown): Failure {
  const inner: unknown = error instanceof BotError ? error.error : error;
  if (inner instanceof GrammyError) {
    const reason = redactSecrets(`Telegram ${inner.method} failed: ${inner.error_code} ${inner.description}`);
    if (inner.error_code === 429) {
      const seconds = inner.parameters.retry_after ?? 1;
      return { kind: 'rate_limited', retryAfterMs: Math.max(1, seconds) * 1000, reason };
    }
    if (inner.error_code === 401) return { kind: 'revoked', reason };
    if (inner.error_code >= 400 && inner.error_code < 500) return { kind: 'permanent', reason };
    return { kind: 'transient', reason };
  }
  if (inner instanceof HttpError) return { kind: 'transient', reason: redactSecrets(inner.message) };
  if (inner instanceof DatabaseUnavailableError) return { kind: 'unavailable', reason: 'Postgres is unavailable' };
  if (inner instanceof Error && isRedisUnavailable(inner)) {
    return { kind: 'unavailable', reason: redactSecrets(`Redis is unavailable: ${inner.message}`) };
  }
  const message = inner instanceof Error ? inner.message : String(inner);
  return { kind: 'transient', reason: redactSecrets(message) };
}
