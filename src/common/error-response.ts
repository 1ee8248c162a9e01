import { HttpException } from '@nestjs/common';
import { STATUS_CODES } from 'node:http';
import { AppError, DatabaseUnavailableError, isRedisUnavailable } from './errors';
import { redactSecrets } from './redact';

export interface ErrorBody {
  statusCode: number;
  error: string;
  message: string;
  code: string;
}

export interface ErrorResponse {
  body: ErrorBody;
  retryAfter?: number;
  /** An unexpected error the caller cannot see the details of: worth logging with its stack. */
  unexpected: boolean;
}

const FASTIFY_CODES: Record<string, { status: number; code: string; message?: string }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, code: 'payload_too_large', message: 'Request body is too large' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: {
    status: 415,
    code: 'unsupported_media_type',
    message: 'Content-Type must be application/json',
  },
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, code: 'invalid_json', message: 'Body is not valid JSON' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, code: 'invalid_json', message: 'Body is empty' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, code: 'bad_request', message: 'Invalid Content-Length' },
};

const DEFAULT_RETRY_AFTER_SECONDS = 5;

/** One mapping from any thrown value to the JSON error every endpoint answers with. */
export function toErrorResponse(error: unknown): ErrorResponse {
  if (error instanceof AppError) {
    return { body: body(error.status, error.code, error.message), retryAfter: error.retryAfter, unexpected: false };
  }
  if (error instanceof DatabaseUnavailableError) {
    return {
      body: body(503, 'database_unavailable', 'The database is unavailable; retry later'),
      retryAfter: DEFAULT_RETRY_AFTER_SECONDS,
      unexpected: false,
    };
  }
  // Nest hands Fastify's own errors (a body that is not JSON, too large…) to filters wrapped in an HttpException,
  // with the Fastify error as its cause; the webhook route's error handler gets them unwrapped.
  const fastifyCode = ((error instanceof HttpException ? error.cause : error) as { code?: unknown } | null)?.code;
  if (typeof fastifyCode === 'string' && fastifyCode in FASTIFY_CODES) {
    const known = FASTIFY_CODES[fastifyCode];
    return { body: body(known.status, known.code, known.message ?? 'Bad request'), unexpected: false };
  }
  if (isRedisUnavailable(error)) {
    return {
      body: body(503, 'redis_unavailable', 'Redis is unavailable; retry later'),
      retryAfter: DEFAULT_RETRY_AFTER_SECONDS,
      unexpected: false,
    };
  }
  if (error instanceof HttpException) {
    const status = error.getStatus();
    const response = error.getResponse();
    const message =
      typeof response === 'object' && response !== null && 'message' in response ? response.message : error.message;
    const text = Array.isArray(message) ? message.join('; ') : String(message);
    return { body: body(status, codeFor(status), text), unexpected: status >= 500 };
  }
  if (error instanceof SyntaxError)
    return { body: body(400, 'invalid_json', 'Body is not valid JSON'), unexpected: false };
  const statusCode = (error as { statusCode?: unknown } | null)?.statusCode;
  if (typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500) {
    return { body: body(statusCode, codeFor(statusCode), (error as Error).message), unexpected: false };
  }
  return { body: body(500, 'internal_error', 'Internal server error'), unexpected: true };
}

function body(statusCode: number, code: string, message: string): ErrorBody {
  return { statusCode, error: STATUS_CODES[statusCode] ?? 'Error', message: redactSecrets(message), code };
}

function codeFor(status: number): string {
  return (STATUS_CODES[status] ?? 'error').toLowerCase().replace(/[^a-z]+/g, '_');
}
