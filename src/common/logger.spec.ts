import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createRootLogger, logFormatFor, serializeError } from './logger';

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

describe('log format', () => {
  it('is readable only on a terminal outside production; JSON lines everywhere else', () => {
    expect(logFormatFor('development', true)).toBe('pretty');
    expect(logFormatFor('test', true)).toBe('pretty');
    expect(logFormatFor('production', true)).toBe('json');
    for (const nodeEnv of ['development', 'test', 'production'] as const) {
      expect(logFormatFor(nodeEnv, false)).toBe('json');
      expect(logFormatFor(nodeEnv, undefined)).toBe('json');
    }
  });

  it('writes pretty lines that a person can read, with secrets still redacted', async () => {
    let text = '';
    const sink = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        text += chunk.toString();
        callback();
      },
    });
    const token = '123456789:AAH-abcdefghijklmnopqrstuvwxyz12345';
    const logger = createRootLogger('info', sink, 'pretty');
    logger.info(`tg-gateway api listening on 127.0.0.1:3000`);
    logger.warn({ msg: 'call failed', err: new Error(`GET https://api.telegram.org/bot${token}/getMe`) });
    await new Promise((resolve) => setImmediate(resolve));
    const lines = text.split('\n').filter(Boolean);
    expect(lines[0]).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: tg-gateway api listening on 127\.0\.0\.1:3000$/);
    expect(text).toMatch(/WARN: call failed/);
    expect(() => JSON.parse(lines[0]) as unknown).toThrow();
    expect(text).not.toContain(token);
  });
});
