import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { HttpDelivery } from '../src/destinations/http-delivery';
import { FakeTelegram } from './support/fake-telegram';
import { cleanupsAfterEach, Harness, RegisteredBot, waitUntil } from './support/harness';
import { alice, bob, Person, textUpdate } from './support/updates';

interface Delivery {
  /** When it arrived (ms). */
  at: number;
  headers: IncomingMessage['headers'];
  body: string;
  status: number;
}

/** A tenant's service: records every delivery and answers with `answer` (200 unless told otherwise). */
class Receiver {
  readonly deliveries: Delivery[] = [];
  answer: (d: Delivery) => { status: number; headers?: Record<string, string> } = () => ({ status: 200 });
  private constructor(private readonly server: Server) {}

  static async start(): Promise<Receiver> {
    const holder: { self?: Receiver } = {};
    const server = createServer((req: IncomingMessage, res: ServerResponse) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        const delivery: Delivery = { at: Date.now(), headers: req.headers, body, status: 0 };
        const self = holder.self!;
        const { status, headers } = self.answer(delivery);
        delivery.status = status;
        self.deliveries.push(delivery);
        res.writeHead(status, headers).end();
      });
    });
    holder.self = new Receiver(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return holder.self;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hook`;
  }

  /** Texts of the acknowledged deliveries of one chat, in the order they arrived. */
  textsOf(chat: number): string[] {
    return this.ok()
      .map((d) => JSON.parse(d.body) as { data: { update: { message?: { chat: { id: number }; text: string } } } })
      .filter((b) => b.data.update.message?.chat.id === chat)
      .map((b) => b.data.update.message!.text);
  }

  ok(): Delivery[] {
    return this.deliveries.filter((d) => d.status >= 200 && d.status < 300);
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

const FAST_RETRIES = {
  DESTINATION_ALLOWED_IPS: '127.0.0.1',
  DESTINATION_RETRY_SCHEDULE: '100ms,200ms,300ms,400ms,500ms,500ms,500ms,500ms,500ms,500ms,500ms,500ms',
  DESTINATION_BREAKER_FAILURES: '3',
  DESTINATION_BREAKER_COOLDOWN_MS: '200',
};

describe('destinations: forwarding updates to the tenants own services', () => {
  const cleanups = cleanupsAfterEach();

  async function setUp(env: Record<string, string> = FAST_RETRIES) {
    const telegram = await FakeTelegram.start();
    cleanups.push(() => telegram.close());
    const gw = await Harness.start({ env: { ...env }, telegram });
    cleanups.push(() => gw.close());
    const receiver = await Receiver.start();
    cleanups.push(() => receiver.close());
    return { telegram, gw, receiver };
  }

  async function addHttp(gw: Harness, bot: RegisteredBot, url: string, extra: Record<string, unknown> = {}) {
    const res = await gw.admin('POST', `/admin/bots/${bot.record.id}/destinations`, { kind: 'http', url, ...extra });
    expect(res.status).toBe(201);
    expect(res.body.secret).toMatch(/^whsec_/);
    return res.body as { destination: { id: string }; secret: string };
  }

  async function burst(gw: Harness, bot: RegisteredBot, people: Person[], perChat: number) {
    await Promise.all(
      people.map(async (person) => {
        for (let n = 1; n <= perChat; n++) {
          expect((await gw.deliver(bot, textUpdate(person, `${person.first_name} ${n}`))).status).toBe(200);
        }
      }),
    );
  }

  it('delivers every update once, signed, in order per conversation, through an outage of the receiver', async () => {
    const { telegram, gw, receiver } = await setUp();
    // A bot without features: its updates only go to its destination.
    const bot = await gw.registerWithFeatures([]);
    const { destination, secret } = await addHttp(gw, bot, receiver.url);

    // The receiver is down: answers 503 for a while.
    let down = true;
    receiver.answer = () => (down ? { status: 503 } : { status: 204 });
    const people = [alice, bob, { id: 1003, first_name: 'Carol' }];
    await burst(gw, bot, people, 5);
    await waitUntil(() => receiver.deliveries.length >= 4, 10_000, 'failed attempts');
    // The breaker opened: the destination waits (no storm of attempts while it is down).
    const shown = await gw.admin('GET', `/admin/bots/${bot.record.id}/destinations/${destination.id}`);
    expect(shown.body.failuresInARow).toBeGreaterThanOrEqual(3);
    expect(shown.body.failingSince).not.toBeNull();
    down = false;

    await waitUntil(() => receiver.ok().length >= 15, 30_000, 'every delivery');
    for (const person of people) {
      expect(receiver.textsOf(person.id)).toEqual([1, 2, 3, 4, 5].map((n) => `${person.first_name} ${n}`));
    }
    // Once each: 15 distinct webhook-ids among the acknowledged deliveries.
    expect(new Set(receiver.ok().map((d) => d.headers['webhook-id'])).size).toBe(15);
    const wh = new Webhook(secret);
    for (const d of receiver.deliveries) {
      const verified = wh.verify(d.body, {
        'webhook-id': String(d.headers['webhook-id']),
        'webhook-timestamp': String(d.headers['webhook-timestamp']),
        'webhook-signature': String(d.headers['webhook-signature']),
      }) as { type: string; data: { bot_id: string } };
      expect(verified.type).toBe('update.message');
      expect(verified.data.bot_id).toBe(bot.record.id);
      // Never the bot's token.
      expect(JSON.stringify(d)).not.toContain(bot.token);
    }
    // A bot without features runs none: nothing was sent to Telegram.
    expect(telegram.callsOf('sendMessage', bot.token)).toEqual([]);
    expect(await gw.queued()).toEqual([]);
    expect(await gw.redis.exists(`${gw.config.redisPrefix}:pb:${bot.record.id}`)).toBe(0);

    // The log of attempts shows the failures and the deliveries.
    const attempts = await gw.admin(
      'GET',
      `/admin/bots/${bot.record.id}/destinations/${destination.id}/attempts?limit=1000`,
    );
    const outcomes = new Set(attempts.body.map((a: { outcome: string }) => a.outcome));
    expect(outcomes).toEqual(new Set(['failed', 'delivered']));
    const after = await gw.admin('GET', `/admin/bots/${bot.record.id}/destinations/${destination.id}`);
    expect(after.body.failuresInARow).toBe(0);
    // Metrics per destination, labelled by its id only.
    const metrics = await (await fetch(`${gw.baseUrl}/metrics`)).text();
    const labels = `destination="${destination.id}"`;
    expect(metrics).toMatch(
      new RegExp(`tg_gateway_destination_deliveries_total\\{${labels},outcome="delivered"\\} 15`),
    );
    expect(metrics).toMatch(
      new RegExp(`tg_gateway_destination_deliveries_total\\{${labels},outcome="failed"\\} [1-9]`),
    );
    expect(metrics).toMatch(new RegExp(`tg_gateway_destination_delivery_seconds_count\\{${labels}\\} [1-9]`));
    expect(metrics).not.toContain(`tg_gateway_destination_breaker_open{${labels}}`);

    // Replay of single deliveries: the same webhook-id again; of a time range: all of them.
    const first = receiver.ok()[0];
    const one = await gw.admin('POST', `/admin/bots/${bot.record.id}/destinations/${destination.id}/replay`, {
      messageIds: [first.headers['webhook-id']],
    });
    expect(one.body).toEqual({ queued: 1 });
    await waitUntil(() => receiver.ok().length === 16, 10_000, 'the replayed delivery');
    expect(receiver.ok()[15].headers['webhook-id']).toBe(first.headers['webhook-id']);
    const range = await gw.admin('POST', `/admin/bots/${bot.record.id}/destinations/${destination.id}/replay`, {
      from: new Date(Date.now() - 60_000).toISOString(),
    });
    expect(range.body.queued).toBe(15);
    await waitUntil(() => receiver.ok().length === 31, 10_000, 'the replayed range');

    // Removed: its series leave /metrics (a destination's id is never reused, so they would stay for nothing).
    expect((await gw.admin('DELETE', `/admin/bots/${bot.record.id}/destinations/${destination.id}`)).status).toBe(204);
    const afterRemoval = await (await fetch(`${gw.baseUrl}/metrics`)).text();
    expect(afterRemoval).toContain('tg_gateway_destination_deliveries_total');
    expect(afterRemoval).not.toContain(labels);
    for (const line of gw.logs) {
      expect(line).not.toContain(bot.token);
      expect(line).not.toContain(secret);
    }
  }, 60_000);

  it('keeps features and destinations apart: the bot runs its features and forwards only the kinds asked for', async () => {
    const { telegram, gw, receiver } = await setUp();
    const bot = await gw.registerWithFeatures([{ name: 'echo' }]);
    await addHttp(gw, bot, receiver.url, { updateKinds: ['edited_message'] });
    const stream = await gw.admin('POST', `/admin/bots/${bot.record.id}/destinations`, { kind: 'stream' });
    expect(stream.status).toBe(201);
    expect(stream.body.secret).toBeNull();
    const key = stream.body.destination.streamKey as string;

    const message = textUpdate(alice, 'hello');
    expect((await gw.deliver(bot, message)).status).toBe(200);
    const edited = { update_id: message.update_id + 1, edited_message: { ...message.message, text: 'hello!' } };
    expect((await gw.deliver(bot, edited)).status).toBe(200);
    // Telegram retries: a duplicate reaches nobody twice.
    expect((await gw.deliver(bot, message)).status).toBe(200);

    await telegram.waitFor(() => telegram.callsOf('sendMessage', bot.token).length === 1, 10_000, 'the echo');
    await waitUntil(() => receiver.ok().length === 1, 10_000, 'the edited message');
    expect(JSON.parse(receiver.ok()[0].body).type).toBe('update.edited_message');
    const entries = await gw.redis.xrange(key, '-', '+');
    expect(entries.map(([, f]) => f[f.indexOf('kind') + 1])).toEqual(['message', 'edited_message']);
    expect(JSON.parse(entries[0][1][entries[0][1].indexOf('update') + 1])).toEqual(message);
    await waitUntil(async () => (await gw.queued()).length === 0, 10_000, 'nothing left');
  }, 30_000);

  it('dead-letters a delivery after its last attempt, and a retry of it delivers it', async () => {
    const { gw, receiver } = await setUp({
      ...FAST_RETRIES,
      DESTINATION_RETRY_SCHEDULE: '50ms,50ms',
      DESTINATION_BREAKER_FAILURES: '100',
    });
    const bot = await gw.registerWithFeatures([]);
    const { destination } = await addHttp(gw, bot, receiver.url);
    receiver.answer = () => ({ status: 400 });
    const update = textUpdate(alice, 'refused');
    expect((await gw.deliver(bot, update)).status).toBe(200);
    // Its conversation moves on: the next update is tried too.
    expect((await gw.deliver(bot, textUpdate(alice, 'next'))).status).toBe(200);
    await waitUntil(async () => (await gw.failed(bot.record.id)).length === 2, 10_000, 'two dead letters');
    expect(receiver.deliveries.length).toBe(6);
    const letters = await gw.admin('GET', `/admin/dead-letters?bot=${bot.record.id}`);
    expect(letters.body.items.map((d: { destinationId: string }) => d.destinationId)).toEqual([
      destination.id,
      destination.id,
    ]);

    receiver.answer = () => ({ status: 200 });
    const retried = await gw.admin('POST', `/admin/bots/${bot.record.id}/dead-letters/retry`);
    expect(retried.status).toBe(200);
    await waitUntil(() => receiver.ok().length === 2, 10_000, 'the retried deliveries');
    expect(receiver.textsOf(alice.id).sort()).toEqual(['next', 'refused']);
  }, 30_000);

  it("honours a receiver's Retry-After: the whole destination waits, and the attempt comes again after it", async () => {
    const { gw, receiver } = await setUp();
    const bot = await gw.registerWithFeatures([]);
    await addHttp(gw, bot, receiver.url);
    let first = true;
    receiver.answer = () => {
      if (!first) return { status: 200 };
      first = false;
      return { status: 429, headers: { 'retry-after': '2' } };
    };
    expect((await gw.deliver(bot, textUpdate(alice, 'one'))).status).toBe(200);
    await waitUntil(() => receiver.deliveries.length === 1, 10_000, 'the first attempt');
    const refusedAt = Date.now();
    // Another conversation waits too: the receiver asked the sender, not one delivery, to slow down.
    expect((await gw.deliver(bot, textUpdate(bob, 'two'))).status).toBe(200);
    await waitUntil(() => receiver.ok().length === 2, 10_000, 'both deliveries');
    const waited = receiver.deliveries.slice(1).map((d) => d.at - refusedAt);
    for (const ms of waited) expect(ms).toBeGreaterThanOrEqual(1_900);
    expect(receiver.deliveries).toHaveLength(3);
    expect(receiver.textsOf(alice.id)).toEqual(['one']);
    expect(receiver.textsOf(bob.id)).toEqual(['two']);
  }, 30_000);

  it('keeps each delivery on its retry schedule while the breaker pauses the destination: an outage longer than the cooldowns loses nothing', async () => {
    const { gw, receiver } = await setUp({
      DESTINATION_ALLOWED_IPS: '127.0.0.1',
      // Attempts 100 ms, then 3 s apart; the breaker opens at 2 failures for 200 ms, 400 ms, …
      DESTINATION_RETRY_SCHEDULE: '100ms,3s,3s,3s',
      DESTINATION_BREAKER_FAILURES: '2',
      DESTINATION_BREAKER_COOLDOWN_MS: '200',
    });
    const bot = await gw.registerWithFeatures([]);
    await addHttp(gw, bot, receiver.url);
    let down = true;
    receiver.answer = () => (down ? { status: 503 } : { status: 200 });
    await burst(gw, bot, [alice], 2);
    // Longer than the breaker's cooldowns add up to before the last attempt (0.1 + 0.2 + 0.4 + 0.8 s): if a pause
    // spent attempts, the first delivery would be a dead letter by now; on its schedule it is tried again at 3.1 s.
    await new Promise((r) => setTimeout(r, 2_500));
    down = false;
    await waitUntil(() => receiver.ok().length === 2, 20_000, 'every delivery');
    expect(receiver.textsOf(alice.id)).toEqual(['Alice 1', 'Alice 2']);
    expect(await gw.failed(bot.record.id)).toEqual([]);
    // The head was tried on its schedule (0, 0.1 s, then 3.1 s), not at every end of a pause.
    expect(receiver.deliveries.map((d) => d.status)).toEqual([503, 503, 200, 200]);
  }, 40_000);

  it("does not hold a bot's updates when one destination falls behind: the lane's backlog has its own quota", async () => {
    const { telegram, gw, receiver } = await setUp({ ...FAST_RETRIES, QUOTA_PENDING_UPDATES_PER_BOT: '3' });
    const bot = await gw.registerWithFeatures([{ name: 'echo' }]);
    const { destination } = await addHttp(gw, bot, receiver.url);
    receiver.answer = () => ({ status: 503 });
    const updates = [1, 2, 3, 4, 5].map((n) => textUpdate(alice, `m${n}`));
    // One at a time, each after the bot's own echo: the bot's backlog (same quota) never fills, so any refusal
    // would be the destination's lane holding the bot up.
    for (const [i, update] of updates.entries()) {
      expect((await gw.deliver(bot, update)).status).toBe(200);
      await telegram.waitFor(() => telegram.callsOf('sendMessage', bot.token).length === i + 1, 10_000, 'the echo');
    }
    const path = `/admin/bots/${bot.record.id}/destinations/${destination.id}`;
    expect((await gw.admin('GET', path)).body.pending).toBe(3);
    const attempts = await gw.admin('GET', `${path}/attempts?limit=100`);
    const skipped = attempts.body.filter((a: { outcome: string }) => a.outcome === 'skipped');
    expect(skipped.map((a: { updateId: number }) => a.updateId).sort()).toEqual(
      [updates[3], updates[4]].map((u) => u.update_id).sort(),
    );
    expect(skipped[0].error).toBe('backlog full');
    // Back up: the backlog drains, and a replay of the skipped ones delivers them.
    receiver.answer = () => ({ status: 200 });
    await waitUntil(() => receiver.ok().length === 3, 20_000, 'the backlog');
    const replay = await gw.admin('POST', `${path}/replay`, {
      messageIds: skipped.map((a: { messageId: string }) => a.messageId),
    });
    expect(replay.body).toEqual({ queued: 2 });
    await waitUntil(() => receiver.ok().length === 5, 10_000, 'the replayed ones');
    expect(receiver.textsOf(alice.id).sort()).toEqual(['m1', 'm2', 'm3', 'm4', 'm5']);
  }, 40_000);

  it('rotates the signing secret with an overlap in which both secrets sign', async () => {
    const { gw, receiver } = await setUp();
    const bot = await gw.registerWithFeatures([]);
    const { destination, secret: old } = await addHttp(gw, bot, receiver.url);
    const rotated = await gw.admin('POST', `/admin/bots/${bot.record.id}/destinations/${destination.id}/rotate-secret`);
    expect(rotated.status).toBe(200);
    const fresh = rotated.body.secret as string;
    expect(fresh).not.toBe(old);
    expect(rotated.body.destination.previousSecretExpiresAt).not.toBeNull();
    expect((await gw.deliver(bot, textUpdate(alice, 'after rotation'))).status).toBe(200);
    await waitUntil(() => receiver.ok().length === 1, 10_000, 'the delivery');
    const d = receiver.ok()[0];
    const headers = {
      'webhook-id': String(d.headers['webhook-id']),
      'webhook-timestamp': String(d.headers['webhook-timestamp']),
      'webhook-signature': String(d.headers['webhook-signature']),
    };
    expect(headers['webhook-signature'].split(' ')).toHaveLength(2);
    expect(() => new Webhook(old).verify(d.body, headers)).not.toThrow();
    expect(() => new Webhook(fresh).verify(d.body, headers)).not.toThrow();
    expect(() => new Webhook(`whsec_${Buffer.alloc(32, 1).toString('base64')}`).verify(d.body, headers)).toThrow();
  }, 30_000);

  it('disables a destination that keeps failing, with an audit record, and resumes when it is enabled again', async () => {
    const { gw, receiver } = await setUp({ ...FAST_RETRIES, DESTINATION_DISABLE_AFTER_SECONDS: '1' });
    const bot = await gw.registerWithFeatures([]);
    const { destination } = await addHttp(gw, bot, receiver.url);
    receiver.answer = () => ({ status: 500 });
    expect((await gw.deliver(bot, textUpdate(alice, 'while down'))).status).toBe(200);
    const path = `/admin/bots/${bot.record.id}/destinations/${destination.id}`;
    await waitUntil(async () => (await gw.admin('GET', path)).body.enabled === false, 20_000, 'disabled');
    const shown = await gw.admin('GET', path);
    expect(shown.body.disabledReason).toMatch(/^Failing for/);
    const audit = await gw.admin('GET', `/admin/audit?bot=${bot.record.id}&action=destination.disable`);
    expect(audit.body.items.map((e: { actor: string }) => e.actor)).toEqual(['system:destination-breaker']);
    const metrics = await (await fetch(`${gw.baseUrl}/metrics`)).text();
    expect(metrics).toMatch(/tg_gateway_destinations_disabled_total\{reason="failing"\} 1/);

    // Updates accepted while it is disabled are not forwarded to it, only noted in its log; the one waiting stays.
    const later = textUpdate(alice, 'while disabled');
    expect((await gw.deliver(bot, later)).status).toBe(200);
    receiver.answer = () => ({ status: 200 });
    const before = receiver.deliveries.length;
    await waitUntil(
      async () => {
        const log = await gw.admin('GET', `${path}/attempts`);
        return log.body.some(
          (a: { outcome: string; updateId: number }) => a.outcome === 'skipped' && a.updateId === later.update_id,
        );
      },
      5_000,
      'the note in the log',
    );
    expect(receiver.deliveries.length).toBe(before);
    // Enabled again: what waited goes at once (not after the 30 s pause of a disabled destination).
    expect((await gw.admin('PATCH', path, { enabled: true })).status).toBe(200);
    await waitUntil(() => receiver.ok().length === 1, 5_000, 'the waiting delivery');
    expect(receiver.textsOf(alice.id)).toEqual(['while down']);
    // And a replay of the time range delivers what came while it was disabled.
    const replay = await gw.admin('POST', `${path}/replay`, { from: new Date(Date.now() - 60_000).toISOString() });
    expect(replay.body.queued).toBe(2);
    await waitUntil(() => receiver.ok().length === 3, 10_000, 'the replay');
    expect(receiver.textsOf(alice.id)).toEqual(['while down', 'while down', 'while disabled']);
    expect(receiver.deliveries.length - before).toBe(3);
  }, 90_000);

  it('refuses loopback, private and link-local destinations unless the operator allows them', async () => {
    const { gw, receiver } = await setUp({});
    const bot = await gw.registerWithFeatures([]);
    for (const url of [
      receiver.url,
      'http://localhost:8080/x',
      'http://169.254.169.254/latest',
      'http://10.1.2.3/',
      'http://[::1]/',
    ]) {
      const res = await gw.admin('POST', `/admin/bots/${bot.record.id}/destinations`, { kind: 'http', url });
      expect(res.status, url).toBe(422);
      expect(res.body.code).toBe('destination_url_not_allowed');
    }
    for (const url of ['ftp://example.com/', 'http://user:pw@93.184.216.34/', 'not a url']) {
      const res = await gw.admin('POST', `/admin/bots/${bot.record.id}/destinations`, { kind: 'http', url });
      expect(res.status, url).toBe(422);
    }
    // A public address is accepted (nothing is sent until an update comes).
    const ok = await gw.admin('POST', `/admin/bots/${bot.record.id}/destinations`, {
      kind: 'http',
      url: 'https://93.184.216.34/hook',
    });
    expect(ok.status).toBe(201);
  });

  it('checks the address actually connected to, so a name that later resolves to a private address is refused', async () => {
    const receiver = await Receiver.start();
    cleanups.push(() => receiver.close());
    const port = new URL(receiver.url).port;
    let answer = '93.184.216.34';
    // DNS is outside the process: the lookup is the one thing replaced, as if the name's record changed.
    const lookup = (_host: string, options: { all?: boolean }, cb: (...args: unknown[]) => void) =>
      options.all ? cb(null, [{ address: answer, family: 4 }]) : cb(null, answer, 4);
    const delivery = new HttpDelivery({ allowPrivate: false, allowedIps: [] }, 4, lookup);
    cleanups.push(() => Promise.resolve(delivery.close()));
    answer = '127.0.0.1';
    const result = await delivery.post(
      `http://receiver.example:${port}/hook`,
      { id: 'm1', timestamp: new Date(), body: '{}' },
      [`whsec_${Buffer.alloc(32, 2).toString('base64')}`],
      2_000,
    );
    expect(result.ok).toBe(false);
    expect(result.error).toMatch(/not allowed/);
    expect(receiver.deliveries).toEqual([]);
    // Allowed by the operator: the same connection goes through.
    const allowed = new HttpDelivery({ allowPrivate: false, allowedIps: ['127.0.0.1/32'] }, 4, lookup);
    cleanups.push(() => Promise.resolve(allowed.close()));
    const through = await allowed.post(
      `http://receiver.example:${port}/hook`,
      { id: 'm2', timestamp: new Date(), body: '{}' },
      [`whsec_${Buffer.alloc(32, 2).toString('base64')}`],
      2_000,
    );
    expect(through).toMatchObject({ ok: true, status: 200 });
    // Redirects are not followed.
    receiver.answer = () => ({ status: 302, headers: { location: 'http://169.254.169.254/' } });
    const redirected = await allowed.post(
      `http://receiver.example:${port}/hook`,
      { id: 'm3', timestamp: new Date(), body: '{}' },
      [`whsec_${Buffer.alloc(32, 2).toString('base64')}`],
      2_000,
    );
    expect(redirected.ok).toBe(false);
    expect(redirected.error).toMatch(/redirects are not followed/);
    expect(receiver.deliveries).toHaveLength(2);
  });
});
