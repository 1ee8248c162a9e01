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
});
