import { userInfo } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PrismaService } from '../src/infra/database/prisma.service';
import { FakeTelegram } from './support/fake-telegram';
import { runCli } from './support/cli-run';
import { Harness, testEnv, waitUntil } from './support/harness';

/**
 * The tenant commands of the operator CLI (the compiled dist/cli.js, as operators run it) against a running API
 * process with the same configuration: what the CLI creates, the API enforces, and the audit trail names the CLI.
 */
describe('tenant commands of the CLI', () => {
  let telegram: FakeTelegram;
  let gw: Harness;
  let env: Record<string, string>;
  const name = `cli-${Math.random().toString(36).slice(2, 8)}`;

  beforeAll(async () => {
    telegram = await FakeTelegram.start();
    env = { ...testEnv(telegram.apiRoot), LOG_LEVEL: 'warn' };
    gw = await Harness.start({ role: 'api', telegram, env });
  });

  afterAll(async () => {
    const prisma = gw.app.get(PrismaService);
    const tenant = await prisma.tenant.findUnique({ where: { name } });
    if (tenant) {
      await prisma.bot.deleteMany({ where: { tenantId: tenant.id } });
      await prisma.tenant.delete({ where: { id: tenant.id } });
    }
    await gw.close();
    await telegram.close();
  });

  const admin = async (method: string, path: string, key: string) => {
    const res = await fetch(`${gw.baseUrl}${path}`, { method, headers: { authorization: `Bearer ${key}` } });
    return { status: res.status, body: (await res.json()) as any };
  };

  it('creates a tenant and a key, registers a bot for it, sets quotas, revokes the key, and audits it all', async () => {
    const added = await runCli(env, ['tenants', 'add', name, '--max-bots', '1', '--display-name', 'CLI Corp']);
    expect(added.stderr).toBe('');
    expect(added.code).toBe(0);
    expect(added.stdout).toContain(`Created tenant ${name}`);

    const created = await runCli(env, ['keys', 'create', name, '--name', 'deploys', '--scopes', 'read,write']);
    expect(created.code, created.stderr).toBe(0);
    const key = created.stdout.trim().split('\n').pop()!;
    expect(key).toMatch(/^tgw_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    const keyId = key.split('_')[1];
    expect((await admin('GET', '/admin/whoami', key)).body).toMatchObject({ kind: 'tenant', tenant: { name } });

    const { token, bot } = telegram.addBot();
    const registered = await runCli(env, ['bots', 'add', '--tenant', name, '--json'], `${token}\n`);
    expect(registered.code, registered.stderr).toBe(0);
    const view = JSON.parse(registered.stdout);
    gw.botIds.push(view.id);
    expect((await admin('GET', `/admin/bots/@${bot.username}`, key)).status).toBe(200);
    // The tenant's bot quota holds for the CLI too.
    const second = await runCli(env, ['bots', 'add', '--tenant', name], `${telegram.addBot().token}\n`);
    expect(second.code).not.toBe(0);
    expect(second.stderr).toMatch(/quota of 1 bots/);

    const quotas = await runCli(env, [
      'quotas',
      'set',
      name,
      '--max-pending-updates',
      '7',
      '--max-bots',
      'default',
      '--json',
    ]);
    expect(quotas.code, quotas.stderr).toBe(0);
    expect(JSON.parse(quotas.stdout)).toMatchObject({
      quotaSettings: { maxBots: null, maxPendingUpdatesPerBot: 7, adminRequestsPerMinute: null },
      quotas: { maxPendingUpdatesPerBot: 7 },
    });

    const listed = await runCli(env, ['keys', 'list', name, '--json']);
    expect(JSON.parse(listed.stdout)).toEqual([expect.objectContaining({ id: keyId, scopes: ['read', 'write'] })]);
    expect(listed.stdout).not.toContain(key.slice(21));

    const revoked = await runCli(env, ['keys', 'revoke', name, keyId]);
    expect(revoked.code, revoked.stderr).toBe(0);
    // The CLI announced it over Redis: the running API refuses the key (within 5 s at most).
    await waitUntil(async () => (await admin('GET', '/admin/whoami', key)).status === 401, 5_000, 'refusal');

    const audit = await runCli(env, ['audit', '--tenant', name, '--json']);
    expect(audit.code, audit.stderr).toBe(0);
    const entries = JSON.parse(audit.stdout) as { action: string; actor: string; outcome: string }[];
    expect(entries.map((e) => `${e.action}:${e.outcome}`)).toEqual([
      'key.revoke:success',
      'quota.set:success',
      'bot.register:success',
      'key.create:success',
      'tenant.create:success',
    ]);
    expect(entries.every((e) => e.actor === `cli:${userInfo().username}`)).toBe(true);
    expect(audit.stdout).not.toContain(token);
    // A refusal is filed under the caller (an operator: no tenant), with why.
    const refusals = await runCli(env, ['audit', '--action', 'bot.register', '--json']);
    expect(JSON.parse(refusals.stdout)).toContainEqual(
      expect.objectContaining({ outcome: 'failure', tenantId: null, detail: { code: 'bot_quota_exceeded' } }),
    );

    const refused = await runCli(env, ['tenants', 'remove', name]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr.trim()).toBe(`error: Tenant ${name} still owns bots; remove them first`);
    expect((await runCli(env, ['bots', 'remove', view.id])).code).toBe(0);
    const removed = await runCli(env, ['tenants', 'remove', name]);
    expect(removed.code, removed.stderr).toBe(0);
    const tenants = JSON.parse((await runCli(env, ['tenants', 'list', '--json'])).stdout) as { name: string }[];
    expect(tenants.map((t) => t.name)).toContain('default');
    expect(tenants.map((t) => t.name)).not.toContain(name);
  }, 120_000);
});
