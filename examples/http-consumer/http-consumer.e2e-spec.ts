import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupsAfterEach, Harness, RegisteredBot, waitUntil } from '../../test/support/harness';
import { alice, bob, stickerUpdate, textUpdate } from '../../test/support/updates';
import { Consumer, createConsumer, Delivery } from './server';

/**
 * The example consumer behind a real gateway (webhook, mailbox, worker delivering to the destination) with the fake
 * Bot API: what a tenant's service sees, and what it does with it.
 */
describe('example HTTP consumer (examples/http-consumer)', () => {
  let gw: Harness;
  const cleanups = cleanupsAfterEach();

  beforeAll(async () => {
    gw = await Harness.start({
      env: {
        DESTINATION_ALLOWED_IPS: '127.0.0.1',
        DESTINATION_RETRY_SCHEDULE: '100ms,200ms,300ms,300ms,500ms,500ms,1s,1s,1s,1s,1s,1s,1s,1s',
        DESTINATION_BREAKER_FAILURES: '100',
      },
    });
  });

  afterAll(async () => {
    await gw?.close();
  });

  /** A port nobody listens on yet: the destination is added before the consumer (which needs its secret) starts. */
  async function freePort(): Promise<number> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    await new Promise((resolve) => server.close(resolve));
    return port;
  }

  async function addDestination(bot: RegisteredBot, port: number) {
    const res = await gw.admin('POST', `/admin/bots/${bot.record.id}/destinations`, {
      kind: 'http',
      url: `http://127.0.0.1:${port}/`,
    });
    expect(res.status).toBe(201);
    return res.body as { destination: { id: string }; secret: string };
  }

  async function start(
    options: Parameters<typeof createConsumer>[0],
  ): Promise<{ consumer: Consumer; seen: Delivery[] }> {
    const seen: Delivery[] = [];
    const consumer = await createConsumer({
      host: '127.0.0.1',
      log: () => undefined,
      ...options,
      onDelivery: (d) => void seen.push(d),
    });
    cleanups.push(() => consumer.close());
    return { consumer, seen };
  }

  async function attempts(bot: RegisteredBot, destinationId: string) {
    const res = await gw.admin('GET', `/admin/bots/${bot.record.id}/destinations/${destinationId}/attempts?limit=1000`);
    return res.body as { outcome: string; status: number | null; messageId: string }[];
  }

  it('verifies every delivery, handles it, and handles a redelivered webhook-id once', async () => {
    const bot = await gw.registerWithFeatures([]);
    const port = await freePort();
    const { destination, secret } = await addDestination(bot, port);
    const { consumer, seen } = await start({ webhookSecret: secret, port });

    for (const update of [textUpdate(alice, 'one'), textUpdate(bob, 'two'), stickerUpdate(alice)]) {
      expect((await gw.deliver(bot, update)).status).toBe(200);
    }
    await waitUntil(() => seen.length === 3, 10_000, 'three deliveries');
    expect(seen.map((d) => d.type)).toEqual(['update.message', 'update.message', 'update.message']);
    expect(seen.map((d) => d.data.bot_id)).toEqual([bot.record.id, bot.record.id, bot.record.id]);
    expect(seen.map((d) => d.data.update.message?.text).sort()).toEqual([undefined, 'one', 'two'].sort());
    expect(consumer.stats).toMatchObject({ handled: 3, duplicates: 0, refused: 0 });

    // The gateway delivers one of them again, with its webhook-id (as after a lost 2xx): answered 200, not handled.
    const delivered = (await attempts(bot, destination.id)).filter((a) => a.outcome === 'delivered');
    const replay = await gw.admin('POST', `/admin/bots/${bot.record.id}/destinations/${destination.id}/replay`, {
      messageIds: [delivered[0].messageId],
    });
    expect(replay.body).toEqual({ queued: 1 });
    await waitUntil(() => consumer.stats.duplicates === 1, 10_000, 'the redelivery');
    expect(seen).toHaveLength(3);
    expect((await attempts(bot, destination.id)).filter((a) => a.outcome === 'delivered')).toHaveLength(4);
    // No proxy credential given: nothing was sent to Telegram.
    expect(gw.telegram.callsOf('sendMessage', bot.token)).toEqual([]);
  });

  it('refuses a forged signature or an old timestamp with 401 and never acts on it; the gateway retries', async () => {
    const bot = await gw.registerWithFeatures([]);
    const port = await freePort();
    const { destination, secret } = await addDestination(bot, port);

    // A consumer holding another secret: to it, every delivery of the gateway is forged.
    const wrong = await start({ webhookSecret: `whsec_${Buffer.alloc(32, 7).toString('base64')}`, port });
    const update = textUpdate(alice, 'signed');
    expect((await gw.deliver(bot, update)).status).toBe(200);
    await waitUntil(
      async () => (await attempts(bot, destination.id)).filter((a) => a.status === 401).length >= 2,
      10_000,
      'refused attempts, retried',
    );
    expect(wrong.seen).toEqual([]);
    expect(wrong.consumer.stats.handled).toBe(0);
    await wrong.consumer.close();

    // The right secret: the gateway's next attempt of the same update is verified and handled, once.
    const right = await start({ webhookSecret: secret, port });
    await waitUntil(() => right.seen.length === 1, 15_000, 'the retried delivery');
    expect(right.seen[0].data.update.update_id).toBe(update.update_id);

    // Someone else posting to the consumer: a changed body under a real signature, a signature made with another
    // key, and a real signature of a delivery that is too old (a captured request played again later).
    const body = JSON.stringify({
      type: 'update.message',
      timestamp: new Date().toISOString(),
      data: { bot_id: bot.record.id, update_id: 1, update: textUpdate(alice, 'forged') },
    });
    const sign = (key: string, id: string, at: Date, payload = body) => ({
      'webhook-id': id,
      'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
      'webhook-signature': new Webhook(key).sign(id, at, payload),
    });
    const tampered = sign(secret, 'msg_forged_1', new Date(), body.replace('forged', 'hello'));
    const otherKey = sign(`whsec_${Buffer.alloc(32, 9).toString('base64')}`, 'msg_forged_2', new Date());
    const old = sign(secret, 'msg_forged_3', new Date(Date.now() - 10 * 60_000));
    for (const headers of [tampered, otherKey, old]) {
      const res = await fetch(right.consumer.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body,
      });
      expect(res.status, headers['webhook-id']).toBe(401);
    }
    // The same body, signed now with the destination's secret, is accepted: the refusals were the signature's.
    const fresh = await fetch(right.consumer.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...sign(secret, 'msg_real', new Date()) },
      body,
    });
    expect(fresh.status).toBe(200);
    expect(right.seen.map((d) => d.data.update.message?.text)).toEqual(['signed', 'forged']);
    expect(right.consumer.stats).toMatchObject({ handled: 2, refused: 3 });
  });

  it('replies to text messages through the gateway Bot API proxy', async () => {
    const bot = await gw.registerWithFeatures([]);
    const created = await gw.admin('POST', `/admin/bots/${bot.record.id}/proxy-credentials`, {});
    expect(created.status).toBe(201);
    const credential = created.body.credential as string;
    expect(credential).toMatch(/^\d+:tgwp/);

    const port = await freePort();
    const { secret } = await addDestination(bot, port);
    const { seen } = await start({ webhookSecret: secret, port, gatewayUrl: gw.baseUrl, proxyCredential: credential });
    expect((await gw.deliver(bot, stickerUpdate(alice))).status).toBe(200);
    expect((await gw.deliver(bot, textUpdate(alice, 'hello'))).status).toBe(200);
    await gw.telegram.waitFor(() => gw.telegram.callsOf('sendMessage', bot.token).length === 1, 10_000, 'the reply');
    expect(gw.telegram.callsOf('sendMessage', bot.token)[0].params).toMatchObject({
      chat_id: alice.id,
      text: 'You said: hello',
    });
    await waitUntil(() => seen.length === 2, 10_000, 'both deliveries');
    expect(gw.telegram.callsOf('sendMessage', bot.token)).toHaveLength(1);
  });
});

/** The credential in the proxy's answer: the one string shaped like a bot token whose secret starts with tgwp. */
