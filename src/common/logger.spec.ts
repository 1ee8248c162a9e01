import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createRootLogger, serializeError } from './logger';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      callback();
    },
  });
  return { logger: createRootLogger('info', sink), lines };
}

describe('root logger', () => {
  it('keeps the message and type of an error serialised at the call site', async () => {
    const { logger, lines } = capture();
    logger.warn({ msg: 'failed', err: serializeError(new TypeError('boom', { cause: new Error('underneath') })) });
    logger.warn({ msg: 'failed too', err: new RangeError('bang') });
    await new Promise((resolve) => setImmediate(resolve));
    const [first, second] = lines.map((line) => line.err as Record<string, unknown>);
    expect(first).toMatchObject({ type: 'TypeError', message: 'boom', cause: { message: 'underneath' } });
    expect(second).toMatchObject({ type: 'RangeError', message: 'bang' });
  });

  it('redacts bot tokens in error messages', async () => {
    const { logger, lines } = capture();
    const token = '123456789:AAH-abcdefghijklmnopqrstuvwxyz12345';
    logger.error({ msg: 'failed', err: serializeError(new Error(`GET https://api.telegram.org/bot${token}/getMe`)) });
    await new Promise((resolve) => setImmediate(resolve));
    expect(JSON.stringify(lines)).not.toContain(token);
  });
});
