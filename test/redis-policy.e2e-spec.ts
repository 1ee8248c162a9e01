import { spawn, ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { Harness, waitUntil } from './support/harness';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('Redis eviction policy check at start', () => {
  let redisServer: ChildProcess;
  let url: string;

  beforeAll(async () => {
    const port = await freePort();
    // A private Redis that may evict keys, so the shared test Redis is never reconfigured.
    redisServer = spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--maxmemory-policy',
        'allkeys-lru',
      ],
      { stdio: 'ignore' },
    );
    url = `redis://127.0.0.1:${port}`;
    const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0 });
    probe.on('error', () => undefined);
    await waitUntil(async () => (await probe.ping().catch(() => '')) === 'PONG', 10_000, 'the private Redis');
    probe.disconnect();
  });

  afterAll(() => {
    redisServer?.kill('SIGKILL');
  });

  it('refuses to start on a Redis that may evict keys, naming the fix', async () => {
    await expect(Harness.start({ role: 'all', env: { REDIS_URL: url } })).rejects.toThrow(
      /maxmemory-policy is "allkeys-lru".*noeviction.*REDIS_ALLOW_EVICTION=true/,
    );
  });

  it('starts anyway when REDIS_ALLOW_EVICTION=true', async () => {
    const gw = await Harness.start({ role: 'all', env: { REDIS_URL: url, REDIS_ALLOW_EVICTION: 'true' } });
    try {
      // Polled: on a loaded machine the first probe may exceed its 1 s timeout.
      await waitUntil(async () => (await fetch(`${gw.baseUrl}/health/ready`)).status === 200, 10_000, 'readiness');
    } finally {
      await gw.close();
    }
  });
});
