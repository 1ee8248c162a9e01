import { randomBytes } from 'node:crypto';
import { cpSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client, escapeIdentifier } from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { migrate } from '../src/infra/database/migrator';
import { DEFAULT_TENANT_ID } from '../src/tenants/tenant.types';
import { TEST_DATABASE_URL } from './support/harness';

const MIGRATIONS = resolve(__dirname, '..', 'prisma', 'migrations');
const TENANTS = '20261207010000_tenants';
const name = `tgw_tenants_upgrade_${randomBytes(4).toString('hex')}`;
const url = (() => {
  const u = new URL(TEST_DATABASE_URL);
  u.pathname = `/${name}`;
  return u.toString();
})();
const dir = mkdtempSync(join(tmpdir(), 'tgw-before-tenants-'));

async function query<T>(sql: string, params: unknown[] = [], database = url): Promise<T[]> {
  const client = new Client({ connectionString: database });
  await client.connect();
  try {
    return (await client.query(sql, params)).rows as T[];
  } finally {
    await client.end();
  }
}

afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  const admin = new URL(TEST_DATABASE_URL);
  admin.pathname = '/postgres';
  await query(`DROP DATABASE IF EXISTS ${escapeIdentifier(name)} WITH (FORCE)`, [], admin.toString());
});

describe('the tenants migration', () => {
  it('moves every existing bot to the default tenant, with nothing else to do', async () => {
    // A database as the release before tenants left it, with a bot in it.
    cpSync(join(MIGRATIONS, 'migration_lock.toml'), join(dir, 'migration_lock.toml'));
    for (const entry of readdirSync(MIGRATIONS, { withFileTypes: true })) {
      if (entry.isDirectory() && entry.name < TENANTS)
        cpSync(join(MIGRATIONS, entry.name), join(dir, entry.name), { recursive: true });
    }
    await migrate(url, { migrationsDir: dir });
    await query(
      `INSERT INTO bots (id, telegram_id, username, username_lower, first_name, bot_info, token_ciphertext,
         token_key_id, token_hash, webhook_secret_ciphertext, updated_at)
       VALUES ('0f8fad5b-d9cb-469f-a165-70867728950e', 7000000001, 'Old_bot', 'old_bot', 'Old', '{}', '\\x00', 'k1',
         '\\x01', '\\x02', now())`,
    );

    // The tenants migration, and those after it.
    const later = readdirSync(MIGRATIONS, { withFileTypes: true })
      .filter((entry) => entry.isDirectory() && entry.name >= TENANTS)
      .map((entry) => entry.name)
      .sort();
    expect(await migrate(url)).toEqual({ applied: later });
    const bots = await query<{ tenant_id: string }>('SELECT tenant_id FROM bots');
    expect(bots).toEqual([{ tenant_id: DEFAULT_TENANT_ID }]);
    expect(await query('SELECT id, name FROM tenants')).toEqual([{ id: DEFAULT_TENANT_ID, name: 'default' }]);
    // The owner is required, and must exist.
    await expect(query(`UPDATE bots SET tenant_id = '11111111-1111-4111-8111-111111111111'`)).rejects.toThrow(
      /foreign key/,
    );
    await expect(query('UPDATE bots SET tenant_id = NULL')).rejects.toThrow(/null/);
  });
});
