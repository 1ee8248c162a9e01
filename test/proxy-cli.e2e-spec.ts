import { userInfo } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './support/cli-run';
import { FakeTelegram } from './support/fake-telegram';
import { Harness, RegisteredBot, testEnv, waitUntil } from './support/harness';

/**
 * The proxy-credential commands of the operator CLI (the compiled dist/cli.js) against a running API process with
 * the same configuration: what the CLI creates works on the proxy, what it revokes stops working, and the audit
 * trail names the CLI.
 */
describe('proxy-credential commands of the CLI', () => {
  let telegram: FakeTelegram;
  let gw: Harness;
  let env: Record<string, string>;
  let bot: RegisteredBot;

  beforeAll(async () => {
    telegram = await FakeTelegram.start();
    env = { ...testEnv(telegram.apiRoot), LOG_LEVEL: 'warn' };
    gw = await Harness.start({ role: 'api', telegram, env });
    bot = await gw.registerBot();
  });

  afterAll(async () => {
    await gw.close();
    await telegram.close();
  });

  const getMe = (credential: string) => fetch(`${gw.baseUrl}/telegram/bot${credential}/getMe`);

  it('creates, lists, rotates and revokes credentials, audited as the CLI', async () => {
    const created = await runCli(env, ['proxy-credential', 'create', `@${bot.record.username}`, '--name', 'orders']);
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    const lines = created.stdout.trim().split('\n');
    expect(lines[0]).toMatch(
      /^Created proxy credential [0-9a-f]{16}; API root https:\/\/gateway\.example\.com\/telegram\. Shown this once:$/,
    );
    const credential = lines[1];
    expect(credential).toMatch(new RegExp(`^${bot.record.telegramId}:tgwp[0-9a-f]{16}[A-Za-z0-9_-]{43}$`));
    const id = credential.slice(credential.indexOf('tgwp') + 4, credential.indexOf('tgwp') + 20);
    expect((await getMe(credential)).status).toBe(200);
    expect(telegram.callsOf('getMe', bot.token).length).toBeGreaterThan(0);

    const listed = await runCli(env, ['proxy-credential', 'list', bot.record.id]);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toMatch(/^ID\s+NAME\s+CREATED\s+CREATED BY\s+LAST USED\s+REVOKED/);
    expect(listed.stdout).toContain(id);
    expect(listed.stdout).toContain('orders');
    expect(listed.stdout).not.toContain(credential.split(':')[1].slice(20));
    const json = await runCli(env, ['proxy-credential', 'list', bot.record.id, '--json']);
    expect(JSON.parse(json.stdout)).toEqual([expect.objectContaining({ id, name: 'orders', revokedAt: null })]);

    const rotated = await runCli(env, ['proxy-credential', 'rotate', bot.record.id, id]);
    expect(rotated.code, rotated.stderr).toBe(0);
    const replacement = rotated.stdout.trim().split('\n')[1];
    expect(replacement).not.toBe(credential);
    expect((await getMe(replacement)).status).toBe(200);
    await waitUntil(async () => (await getMe(credential)).status === 401, 5_000, 'the old credential refused');

    const newId = replacement.slice(replacement.indexOf('tgwp') + 4, replacement.indexOf('tgwp') + 20);
    const revoked = await runCli(env, ['proxy-credential', 'revoke', String(bot.record.telegramId), newId]);
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(revoked.stdout.trim()).toBe(`Revoked proxy credential ${newId} (orders)`);
    await waitUntil(async () => (await getMe(replacement)).status === 401, 5_000, 'the revoked credential refused');

    const audit = await gw.admin('GET', `/admin/audit?bot=${bot.record.id}`);
    const actor = `cli:${userInfo().username}`;
    expect(audit.body.items.map((e: { action: string; actor: string }) => [e.action, e.actor])).toEqual([
      ['proxy_credential.revoke', actor],
      ['proxy_credential.rotate', actor],
      ['proxy_credential.create', actor],
    ]);
  });

  it('fails with one line and a non-zero status for an unknown bot or credential', async () => {
    const unknownBot = await runCli(env, ['proxy-credential', 'create', '@no_such_bot_here']);
    expect(unknownBot.code).toBe(1);
    expect(unknownBot.stderr.trim()).toMatch(/No bot @no_such_bot_here/);
    const unknownCredential = await runCli(env, ['proxy-credential', 'revoke', bot.record.id, 'ffffffffffffffff']);
    expect(unknownCredential.code).toBe(1);
    expect(unknownCredential.stderr.trim()).toMatch(/No proxy credential ffffffffffffffff/);
    const usage = await runCli(env, ['proxy-credential', 'revoke', bot.record.id]);
    expect(usage.code).toBe(2);
  });
});
