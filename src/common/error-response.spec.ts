import { BadRequestException } from '@nestjs/common';
import { describe, expect, it } from 'vitest';
import { toErrorResponse } from './error-response';
import { DatabaseUnavailableError, NotFoundError } from './errors';

describe('toErrorResponse', () => {
  it('maps typed errors with their code', () => {
    expect(toErrorResponse(new NotFoundError('No bot @x', 'bot_not_found')).body).toEqual({
      statusCode: 404,
      error: 'Not Found',
      message: 'No bot @x',
      code: 'bot_not_found',
    });
  });

  it('answers 503 with Retry-After when Postgres or Redis is away, never 500', () => {
    const postgres = toErrorResponse(new DatabaseUnavailableError());
    expect([postgres.body.statusCode, postgres.body.code, postgres.retryAfter]).toEqual([
      503,
      'database_unavailable',
      5,
    ]);
    const closed = toErrorResponse(new Error('Connection is closed.'));
    expect([closed.body.statusCode, closed.body.code, closed.unexpected]).toEqual([503, 'redis_unavailable', false]);
    const retries = Object.assign(new Error('Reached the max retries per request limit'), {
      name: 'MaxRetriesPerRequestError',
    });
    expect(toErrorResponse(retries).body.statusCode).toBe(503);
  });

  it('hides unexpected errors and removes tokens from messages', () => {
    const unexpected = toErrorResponse(new TypeError('x is undefined'));
    expect(unexpected.body).toMatchObject({
      statusCode: 500,
      code: 'internal_error',
      message: 'Internal server error',
    });
    expect(unexpected.unexpected).toBe(true);
    const nest = toErrorResponse(
      new BadRequestException('Cannot POST /webhook/123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawQ'),
    );
    expect(nest.body.message).toBe('Cannot POST /webhook/<redacted>');
  });
});
