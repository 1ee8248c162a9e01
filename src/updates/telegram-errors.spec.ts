import { GrammyError } from 'grammy';
import { describe, expect, it } from 'vitest';
import { DatabaseUnavailableError } from '../common/errors';
import { classifyFailure } from './telegram-errors';

describe('classifyFailure', () => {
  it('waits for our own Redis or Postgres without spending an attempt', () => {
    const retries = Object.assign(new Error('Reached the max retries per request limit (which is 2)'), {
      name: 'MaxRetriesPerRequestError',
    });
    expect(classifyFailure(retries).kind).toBe('unavailable');
    expect(classifyFailure(new Error('Connection is closed.')).kind).toBe('unavailable');
    expect(classifyFailure(new DatabaseUnavailableError()).kind).toBe('unavailable');
  });

  it("takes a socket error from elsewhere (a handler's own call) as transient: it spends attempts", () => {
    for (const message of [
      'read ECONNRESET',
      'connect ETIMEDOUT 10.0.0.1:443',
      'write EPIPE',
      'connect ECONNREFUSED',
    ]) {
      expect(classifyFailure(new Error(message)).kind, message).toBe('transient');
    }
  });

  it('takes 401 as a revoked token (the update waits), other 4xx as permanent', () => {
    const telegram = (error_code: number, description: string) =>
      new GrammyError('Call failed', { ok: false, error_code, description }, 'sendMessage', {});
    expect(classifyFailure(telegram(401, 'Unauthorized')).kind).toBe('revoked');
    expect(classifyFailure(telegram(400, 'Bad Request: chat not found')).kind).toBe('permanent');
    expect(classifyFailure(telegram(403, 'Forbidden: bot was blocked by the user')).kind).toBe('permanent');
  });
});
