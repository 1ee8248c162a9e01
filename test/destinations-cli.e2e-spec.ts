import { createServer, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { userInfo } from 'node:os';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './support/cli-run';
import { FakeTelegram } from './support/fake-telegram';
import { Harness, RegisteredBot, testEnv, waitUntil } from './support/harness';
import { alice, textUpdate } from './support/updates';

/** The destinations commands of the operator CLI (dist/cli.js) against a running gateway with the same settings. */
describe('destinations commands of the CLI', () => {
  let telegram: FakeTelegram;
  let gw: Harness;
  let env: Record<string, string>;
  let bot: RegisteredBot;
  let receiver: Server;
  const received: { headers: Record<string, string>; body: string }[] = [];

  beforeAll(async () => {
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        received.push({ headers: req.headers as Record<string, string>, body });
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    telegram = await FakeTelegram.start();
    env = { ...testEnv(telegram.apiRoot), LOG_LEVEL: 'warn', DESTINATION_ALLOWED_IPS: '127.0.0.1' };
    gw = await Harness.start({ telegram, env });
    bot = await gw.registerWithFeatures([]);
  }, 60_000);

  afterAll(async () => {
    await gw.close();
    await telegram.close();
    receiver.closeAllConnections();
    receiver.close();
  });

  it('adds, lists, tests, disables, enables, rotates, replays and removes, each audited as the CLI', async () => {
    const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    const added = await runCli(env, [
      'destinations',
      'add',
      bot.record.id,
      'http',
      '--url',
      url,
      '--kinds',
      'message',
      '--json',
    ]);
    expect(added.code, added.stderr).toBe(0);
    const { destination, secret } = JSON.parse(added.stdout) as { destination: { id: string }; secret: string };
    expect(secret).toMatch(/^whsec_/);
    const id = destination.id;

    const listed = await runCli(env, ['destinations', 'list', `@${bot.record.username}`]);
    expect(listed.stdout).toContain(id);
    expect(listed.stdout).toContain(url);
    expect(listed.stdout).not.toContain(secret);

    const tested = await runCli(env, ['destinations', 'test', bot.record.id, id]);
    expect(tested.stdout).toMatch(/^OK \(HTTP 200\)/);
    expect(JSON.parse(received[0].body).type).toBe('test');
    new Webhook(secret).verify(received[0].body, received[0].headers);

    expect((await gw.deliver(bot, textUpdate(alice, 'via the CLI'))).status).toBe(200);
    await waitUntil(() => received.length === 2, 10_000, 'the delivery');

    const shown = await runCli(env, ['destinations', 'show', bot.record.id, id]);
    expect(shown.stdout).toContain('delivered');

    expect((await runCli(env, ['destinations', 'disable', bot.record.id, id])).stdout).toContain('disabled');
    expect((await runCli(env, ['destinations', 'enable', bot.record.id, id])).stdout).toContain('enabled');

    const rotated = await runCli(env, ['destinations', 'rotate-secret', bot.record.id, id]);
    const fresh = /secret \(shown once\): (whsec_\S+)/.exec(rotated.stdout)?.[1];
    expect(fresh).toBeDefined();

    const replayed = await runCli(env, [
      'destinations',
      'replay',
      bot.record.id,
      id,
      '--from',
      new Date(Date.now() - 60_000).toISOString(),
    ]);
    expect(replayed.stdout).toContain('Queued 1 deliveries again');
    await waitUntil(() => received.length === 3, 10_000, 'the replay');
    // Both secrets sign during the overlap.
    new Webhook(secret).verify(received[2].body, received[2].headers);
    new Webhook(fresh!).verify(received[2].body, received[2].headers);

    const bad = await runCli(env, ['destinations', 'add', bot.record.id, 'http', '--url', 'http://169.254.169.254/']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/link-local/);

    expect((await runCli(env, ['destinations', 'remove', bot.record.id, id])).code).toBe(0);
    expect((await runCli(env, ['destinations', 'list', bot.record.id])).stdout).toContain('(no destinations)');

    const audit = await gw.admin('GET', `/admin/audit?bot=${bot.record.id}&limit=50`);
    const actions = audit.body.items
      .filter((e: { actor: string }) => e.actor === `cli:${userInfo().username}`)
      .map((e: { action: string }) => e.action);
    for (const action of [
      'destination.create',
      'destination.update',
      'destination.secret.rotate',
      'destination.replay',
      'destination.remove',
    ]) {
      expect(actions).toContain(action);
    }
  }, 120_000);
});
