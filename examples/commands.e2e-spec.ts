import { ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import { Redis } from 'ioredis';
import { Webhook } from 'standardwebhooks';
import { afterEach, describe, expect, it } from 'vitest';
import { waitUntil } from '../test/support/harness';

/** The examples' one commands, run as the README gives them (`npx tsx …`), from the repository's root. */
const ROOT = resolve(__dirname, '..');
const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

const children: ChildProcess[] = [];
afterEach(() => {
  // npx starts tsx, which starts node: the whole process group goes.
  for (const child of children.splice(0)) {
    try {
      if (child.pid) process.kill(-child.pid, 'SIGKILL');
    } catch {
      // Gone already.
    }
  }
});

function run(file: string, env: Record<string, string>): { child: ChildProcess; output: () => string } {
  const child = spawn('npx', ['tsx', file], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...env },
    detached: true,
  });
  children.push(child);
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return { child, output: () => output };
}

function freePort(): Promise<number> {
  return new Promise((done) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => done(port));
    });
  });
}

describe('the examples run with their one command', () => {
  it('http-consumer: listens, acknowledges a signed delivery, refuses a forged one', async () => {
    const secret = `whsec_${randomBytes(32).toString('base64')}`;
    const port = await freePort();
    const consumer = run('examples/http-consumer/server.ts', { WEBHOOK_SECRET: secret, PORT: String(port) });
    await waitUntil(() => consumer.output().includes('"msg":"listening"'), 30_000, 'the consumer to listen');
    const body = JSON.stringify({
      type: 'update.message',
      timestamp: new Date().toISOString(),
      data: { bot_id: 'b', update_id: 1, update: { update_id: 1, message: { chat: { id: 1 }, text: 'hi' } } },
    });
    const post = (signature: string) =>
      fetch(`http://127.0.0.1:${port}/`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'webhook-id': 'msg-1',
          'webhook-timestamp': String(Math.floor(Date.now() / 1000)),
          'webhook-signature': signature,
        },
        body,
      });
    const now = new Date();
    const forged = new Webhook(`whsec_${randomBytes(32).toString('base64')}`).sign('msg-1', now, body);
    expect((await post(forged)).status).toBe(401);
    expect((await post(new Webhook(secret).sign('msg-1', now, body))).status).toBe(200);
  }, 60_000);

  it('stream-consumer: reads a stream with a consumer group and acknowledges what it handled', async () => {
    const stream = `tgw-example-${randomBytes(4).toString('hex')}:st:test`;
    const redis = new Redis(REDIS_URL);
    try {
      await redis.xadd(
        stream,
        '*',
        'bot',
        'b',
        'update_id',
        '7',
        'kind',
        'message',
        'update',
        '{"update_id":7,"message":{"text":"hello"}}',
      );
      const consumer = run('examples/stream-consumer/consumer.ts', { REDIS_URL, STREAM_KEY: stream, CONSUMER: 'one' });
      await waitUntil(() => consumer.output().includes('"updateId":7'), 30_000, 'the entry to be handled');
      expect(consumer.output()).toContain('"text":"hello"');
      // Acknowledged once handled: nothing left pending for the group.
      const pending = async () => ((await redis.xpending(stream, 'tg-consumers')) as [number])[0];
      await waitUntil(async () => (await pending()) === 0, 10_000, 'the entry to be acknowledged');
      expect(await pending()).toBe(0);
    } finally {
      await redis.del(stream);
      redis.disconnect();
    }
  }, 60_000);
});
