/**
 * Every failure the gateway reports on purpose is an AppError with a stable machine-readable code; one
 * exception filter maps them to HTTP. Messages must never contain a token or a secret.
 */
export abstract class AppError extends Error {
  abstract readonly status: number;
  abstract readonly code: string;
  /** Seconds, for errors that ask the caller (Telegram) to come back later. */
  readonly retryAfter?: number;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

export class BadRequestError extends AppError {
  readonly status = 400;
  constructor(
    message: string,
    readonly code = 'bad_request',
  ) {
    super(message);
  }
}

export class UnauthorizedError extends AppError {
  readonly status = 401;
  constructor(
    message = 'Unauthorized',
    readonly code = 'unauthorized',
  ) {
    super(message);
  }
}

export class ForbiddenError extends AppError {
  readonly status = 403;
  constructor(
    message = 'Forbidden',
    readonly code = 'forbidden',
  ) {
    super(message);
  }
}

export class NotFoundError extends AppError {
  readonly status = 404;
  constructor(
    message = 'Not found',
    readonly code = 'not_found',
  ) {
    super(message);
  }
}

export class UnsupportedMediaTypeError extends AppError {
  readonly status = 415;
  readonly code = 'unsupported_media_type';
}

/** A dependency (Postgres, Redis, the queue) cannot serve the request right now; the caller should retry. */
export class ServiceUnavailableError extends AppError {
  readonly status = 503;
  constructor(
    message: string,
    readonly code: string,
    override readonly retryAfter: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Postgres could not answer; never reported as "not found". */
export class DatabaseUnavailableError extends Error {
  /** `hint`: what an operator can do about it, when that is known (never sent to API callers). */
  constructor(options?: { cause?: unknown; hint?: string }) {
    super(options?.hint ? `Database unavailable: ${options.hint}` : 'Database unavailable', options);
    this.name = 'DatabaseUnavailableError';
  }
}

export class ConflictError extends AppError {
  readonly status = 409;
  constructor(
    message: string,
    readonly code = 'conflict',
  ) {
    super(message);
  }
}

/** The request was understood but cannot be carried out (e.g. Telegram rejected the token). */
export class UnprocessableError extends AppError {
  readonly status = 422;
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

/** Telegram could not be reached or failed on its side. */
export class BadGatewayError extends AppError {
  readonly status = 502;
  constructor(
    message: string,
    readonly code = 'telegram_unavailable',
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export class TooManyRequestsError extends AppError {
  readonly status = 429;
  readonly code = 'telegram_rate_limited';
  constructor(
    message: string,
    override readonly retryAfter: number,
  ) {
    super(message);
  }
}

/** A tenant quota refuses the request (`code` says which); `retryAfter` when waiting helps. */
export class QuotaExceededError extends AppError {
  readonly status: number;
  constructor(
    message: string,
    readonly code: string,
    override readonly retryAfter?: number,
    status = 429,
  ) {
    super(message);
    this.status = status;
  }
}

/**
 * ioredis failures that mean "Redis is not reachable right now", not "this request or update is bad": the errors
 * ioredis rejects commands with while its connection is down. Not bare socket errors (ECONNRESET, ETIMEDOUT, …):
 * ioredis reports those as events and retries; as a rejection they come from elsewhere (a handler calling another
 * service), and taking them for a Redis outage would retry that update forever without spending an attempt.
 */
export function isRedisUnavailable(error: unknown): boolean {
  return (
    error instanceof Error &&
    (error.name === 'MaxRetriesPerRequestError' || /^(Connection is closed|Stream isn't writeable)/.test(error.message))
  );
}
