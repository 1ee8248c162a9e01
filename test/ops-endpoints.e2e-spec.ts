import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { RedisConnections } from '../src/infra/redis/redis.module';
import { cleanupsAfterEach, Harness } from './support/harness';

describe('operations endpoints on the public listener', () => {
  const cleanups = cleanupsAfterEach();

  it('/metrics needs a metrics or admin key unless METRICS_PUBLIC; /docs only with API_DOCS', async () => {
    const metricsKey = randomBytes(24).toString('base64url');
    const gw = await Harness.start({
      role: 'api',
      env: { METRICS_PUBLIC: 'false', METRICS_API_KEYS: metricsKey, API_DOCS: 'false' },
    });
    cleanups.push(() => gw.close());
    const scrape = (authorization?: string) =>
      fetch(`${gw.baseUrl}/metrics`, { headers: authorization ? { authorization } : {} });

    const anonymous = await scrape();
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toContain('Bearer');
    expect(await anonymous.text()).not.toContain('tg_gateway_');
    expect((await scrape('Bearer wrong-key-wrong-key-wrong')).status).toBe(401);
    const withMetricsKey = await scrape(`Bearer ${metricsKey}`);
    expect(withMetricsKey.status).toBe(200);
    expect(await withMetricsKey.text()).toContain('tg_gateway_webhook_requests_total');
    expect((await scrape(`Bearer ${gw.config.adminApiKeys[0]}`)).status).toBe(200);

    expect((await fetch(`${gw.baseUrl}/docs`)).status).toBe(404);
    expect((await fetch(`${gw.baseUrl}/docs/json`)).status).toBe(404);
  });

  it('production defaults: metrics behind a key, no /docs', async () => {
    const gw = await Harness.start({ role: 'api', env: { NODE_ENV: 'production' } });
    cleanups.push(() => gw.close());
    expect(gw.config.metrics.public).toBe(false);
    expect(gw.config.apiDocs).toBe(false);
    expect((await fetch(`${gw.baseUrl}/metrics`)).status).toBe(401);
    expect((await fetch(`${gw.baseUrl}/docs/json`)).status).toBe(404);
  });

  it('reads the gauges from Redis at most once per 5 s, however often it is scraped', async () => {
    const gw = await Harness.start({ role: 'api', env: { METRICS_CACHE_MS: '5000' } });
    cleanups.push(() => gw.close());
    // Every command the API process sends on its general connection (the one the gauges are read with). Counted in
    // the process rather than with MONITOR: the shared Redis carries every other test file's traffic too.
    const general = gw.app.get(RedisConnections).general;
    const commands: string[] = [];
    const send = general.sendCommand.bind(general);
    general.sendCommand = (command, stream) => {
      commands.push(command.name);
      return send(command, stream);
    };
    expect((await fetch(`${gw.baseUrl}/metrics`)).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const first = commands.length;
    expect(first).toBeGreaterThan(0);
    for (let i = 0; i < 20; i++) expect((await fetch(`${gw.baseUrl}/metrics`)).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(commands.length).toBe(first);
  });
});
