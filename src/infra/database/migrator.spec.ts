import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client, escapeIdentifier, type QueryResultRow } from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { checksumMatches, migrate, migrationChecksum, MigrationError, redactDatabaseUrl } from './migrator';

// TEST_DATABASE_URL only names the server here: every run works in databases of its own.
const serverUrl = new URL(process.env.TEST_DATABASE_URL || 'postgresql://postgres:postgres@127.0.0.1:5432/postgres');
const runId = randomBytes(4).toString('hex');
const created: string[] = [];
const tempDirs: string[] = [];

const migrationsDir = resolve(__dirname, '../../../prisma/migrations');
const migrationNames = readdirSync(migrationsDir, { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name)
  .sort();

function databaseUrl(suffix: string): string {
  const name = `tgw_migrate_${runId}_${suffix}`;
  created.push(name);
  const url = new URL(serverUrl.toString());
  url.pathname = `/${name}`;
  return url.toString();
}

async function withClient<T>(url: string, fn: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

async function select<T extends QueryResultRow>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  return withClient(url, async (c) => (await c.query<T>(sql, params)).rows);
}

async function databaseExists(name: string): Promise<boolean> {
  const url = new URL(serverUrl.toString());
  url.pathname = '/postgres';
  return withClient(url.toString(), async (c) => {
    const result = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    return result.rowCount === 1;
  });
}

function tempMigrations(migrations: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'tgw-migrations-'));
  tempDirs.push(dir);
  writeFileSync(join(dir, 'migration_lock.toml'), 'provider = "postgresql"\n');
  for (const [name, sql] of Object.entries(migrations)) {
    mkdirSync(join(dir, name));
    writeFileSync(join(dir, name, 'migration.sql'), sql);
  }
  return dir;
}

afterAll(async () => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  const url = new URL(serverUrl.toString());
  url.pathname = '/postgres';
  await withClient(url.toString(), async (c) => {
    for (const name of created) await c.query(`DROP DATABASE IF EXISTS ${escapeIdentifier(name)} WITH (FORCE)`);
  });
});

describe('migrate', () => {
  const url = databaseUrl('main');
  const dbName = new URL(url).pathname.slice(1);

  it('creates the database and applies every migration exactly once under concurrency', async () => {
    expect(await databaseExists(dbName)).toBe(false);
    expect(migrationNames).toContain('20261122000000_init');

    const [first, second] = await Promise.all([migrate(url), migrate(url)]);

    expect([...first.applied, ...second.applied].sort()).toEqual(migrationNames);
    expect(await databaseExists(dbName)).toBe(true);
    const rows = await select<{
      id: string;
      checksum: string;
      finished_at: Date | null;
      migration_name: string;
      logs: string | null;
      rolled_back_at: Date | null;
      applied_steps_count: number;
    }>(url, 'SELECT * FROM _prisma_migrations ORDER BY migration_name');
    expect(rows.map((row) => row.migration_name)).toEqual(migrationNames);
    for (const row of rows) {
      const file = readFileSync(join(migrationsDir, row.migration_name, 'migration.sql'));
      expect(row.checksum).toBe(migrationChecksum(file));
      expect(row.finished_at).toBeInstanceOf(Date);
      expect(row.rolled_back_at).toBeNull();
      expect(row.logs).toBeNull();
      expect(row.applied_steps_count).toBe(1);
      expect(row.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    }
  });

  it('creates _prisma_migrations with Prisma’s column types', async () => {
    const columns = await select<{
      column_name: string;
      data_type: string;
      character_maximum_length: number | null;
      is_nullable: string;
    }>(
      url,
      `SELECT column_name, data_type, character_maximum_length, is_nullable
         FROM information_schema.columns WHERE table_name = '_prisma_migrations' ORDER BY ordinal_position`,
    );
    expect(columns.map((c) => [c.column_name, c.data_type, c.character_maximum_length, c.is_nullable])).toEqual([
      ['id', 'character varying', 36, 'NO'],
      ['checksum', 'character varying', 64, 'NO'],
      ['finished_at', 'timestamp with time zone', null, 'YES'],
      ['migration_name', 'character varying', 255, 'NO'],
      ['logs', 'text', null, 'YES'],
      ['rolled_back_at', 'timestamp with time zone', null, 'YES'],
      ['started_at', 'timestamp with time zone', null, 'NO'],
      ['applied_steps_count', 'integer', null, 'NO'],
    ]);
  });

  it('creates the bots table as the Prisma schema describes it', async () => {
    const columns = await select<{
      column_name: string;
      udt_name: string;
      is_nullable: string;
      datetime_precision: number | null;
      column_default: string | null;
    }>(
      url,
      `SELECT column_name, udt_name, is_nullable, datetime_precision, column_default
         FROM information_schema.columns WHERE table_name = 'bots' ORDER BY ordinal_position`,
    );
    const indexes = await select<{ indexname: string; indexdef: string }>(
      url,
      `SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'bots' ORDER BY 1`,
    );
    expect(columns.map((c) => [c.column_name, c.udt_name, c.is_nullable])).toEqual([
      ['id', 'uuid', 'NO'],
      ['telegram_id', 'int8', 'NO'],
      ['username', 'text', 'NO'],
      ['first_name', 'text', 'NO'],
      ['name', 'text', 'YES'],
      ['enabled', 'bool', 'NO'],
      ['bot_info', 'jsonb', 'NO'],
      ['token_ciphertext', 'bytea', 'NO'],
      ['token_key_id', 'text', 'NO'],
      ['token_hash', 'bytea', 'NO'],
      ['webhook_secret_ciphertext', 'bytea', 'NO'],
      ['previous_secret_ciphertext', 'bytea', 'YES'],
      ['previous_secret_expires_at', 'timestamptz', 'YES'],
      ['created_at', 'timestamptz', 'NO'],
      ['updated_at', 'timestamptz', 'NO'],
      ['username_lower', 'text', 'NO'],
      ['secrets_version', 'int4', 'NO'],
      ['features', 'jsonb', 'NO'],
      ['features_version', 'int4', 'NO'],
      ['revoked_at', 'timestamptz', 'YES'],
      ['webhook_certificate', 'text', 'YES'],
      ['webhook_ip_address', 'text', 'YES'],
      ['tenant_id', 'uuid', 'NO'],
      ['webhook_max_connections', 'int4', 'YES'],
      ['webhook_allowed_updates', 'jsonb', 'YES'],
      ['albums', 'bool', 'NO'],
    ]);
    const byName = Object.fromEntries(columns.map((c) => [c.column_name, c]));
    expect(byName.created_at.datetime_precision).toBe(3);
    expect(byName.created_at.column_default).toBe('CURRENT_TIMESTAMP');
    expect(byName.enabled.column_default).toBe('true');
    expect(indexes.map((i) => i.indexname)).toEqual([
      'bots_pkey',
      'bots_telegram_id_key',
      'bots_tenant_id_created_at_idx',
      'bots_token_hash_key',
      'bots_token_key_id_idx',
      'bots_username_lower_key',
    ]);
    expect(indexes.find((i) => i.indexname === 'bots_token_hash_key')!.indexdef).toContain('UNIQUE');
    expect(indexes.find((i) => i.indexname === 'bots_username_lower_key')!.indexdef).toContain('UNIQUE');
  });

  it('creates the proxy_credentials table, whose rows go with their bot', async () => {
    const columns = await select<{ column_name: string; udt_name: string; is_nullable: string }>(
      url,
      `SELECT column_name, udt_name, is_nullable
         FROM information_schema.columns WHERE table_name = 'proxy_credentials' ORDER BY ordinal_position`,
    );
    expect(columns.map((c) => [c.column_name, c.udt_name, c.is_nullable])).toEqual([
      ['id', 'text', 'NO'],
      ['bot_id', 'uuid', 'NO'],
      ['name', 'text', 'YES'],
      ['secret_hash', 'bytea', 'NO'],
      ['created_by', 'text', 'NO'],
      ['created_at', 'timestamptz', 'NO'],
      ['last_used_at', 'timestamptz', 'YES'],
      ['revoked_at', 'timestamptz', 'YES'],
    ]);
    const indexes = await select<{ indexname: string }>(
      url,
      `SELECT indexname FROM pg_indexes WHERE tablename = 'proxy_credentials' ORDER BY 1`,
    );
    expect(indexes.map((i) => i.indexname)).toEqual([
      'proxy_credentials_bot_id_created_at_idx',
      'proxy_credentials_pkey',
    ]);
    const [bot] = await select<{ id: string }>(
      url,
      `INSERT INTO bots (id, telegram_id, username, username_lower, first_name, bot_info, token_ciphertext,
         token_key_id, token_hash, webhook_secret_ciphertext, updated_at)
       VALUES (gen_random_uuid(), 4242, 'Proxied_bot', 'proxied_bot', 'P', '{}', '\\x00', 'k1', '\\x03', '\\x04', now())
       RETURNING id`,
    );
    await select(
      url,
      `INSERT INTO proxy_credentials (id, bot_id, secret_hash, created_by) VALUES ('00aa', $1, '\\x05', 'test')`,
      [bot.id],
    );
    await select(url, 'DELETE FROM bots WHERE id = $1', [bot.id]);
    expect(await select(url, `SELECT id FROM proxy_credentials WHERE id = '00aa'`)).toEqual([]);
  });

  it('gives bots registered before features were per bot every demo feature, in the old order', async () => {
    const upgradeUrl = databaseUrl('features');
    const before = migrationNames.filter((name) => name < '20261207010000_bot_features');
    const earlier = Object.fromEntries(
      before.map((name) => [name, readFileSync(join(migrationsDir, name, 'migration.sql'), 'utf8')]),
    );
    await migrate(upgradeUrl, { migrationsDir: tempMigrations(earlier), log: () => undefined });
    await select(
      upgradeUrl,
      `INSERT INTO bots (id, telegram_id, username, username_lower, first_name, bot_info, token_ciphertext,
         token_key_id, token_hash, webhook_secret_ciphertext, updated_at)
       VALUES (gen_random_uuid(), 42, 'Old_bot', 'old_bot', 'Old', '{}', '\\x00', 'k1', '\\x01', '\\x02', now())`,
    );
    const { applied } = await migrate(upgradeUrl, { migrationsDir, log: () => undefined });
    expect(applied).toContain('20261207010000_bot_features');
    const [row] = await select<{ features: unknown; features_version: number }>(
      upgradeUrl,
      'SELECT features, features_version FROM bots',
    );
    expect(row).toEqual({
      features: [
        { name: 'start' },
        { name: 'form' },
        { name: 'counter' },
        { name: 'callback-query' },
        { name: 'echo' },
      ],
      features_version: 1,
    });
  });

  it('applies nothing on a second run', async () => {
    const logs: string[] = [];
    expect(await migrate(url, { log: (line) => logs.push(line) })).toEqual({ applied: [] });
    expect(logs).toEqual([]);
  });

  it('refuses to run when an applied migration was modified, naming it', async () => {
    await select(url, "UPDATE _prisma_migrations SET checksum = repeat('0', 64) WHERE migration_name = $1", [
      '20261122000000_init',
    ]);
    const error: unknown = await migrate(url).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MigrationError);
    expect((error as MigrationError).migrationName).toBe('20261122000000_init');
    expect((error as Error).message).toMatch(/Migration "20261122000000_init" was modified after it was applied/);
  });
});

describe('migrate with failures', () => {
  it('rolls back a failing migration, reports its name and the Postgres error, and records nothing', async () => {
    const url = databaseUrl('failing');
    const dir = tempMigrations({
      '001_ok': 'CREATE TABLE "one" ("id" INTEGER NOT NULL);\n',
      '002_broken': 'CREATE TABLE "two" ("id" INTEGER NOT NULL);\n\nCREATE TABLE "three" ("id" NOPE);\n',
    });

    const error: unknown = await migrate(url, { migrationsDir: dir }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MigrationError);
    expect((error as MigrationError).migrationName).toBe('002_broken');
    expect((error as Error).message).toMatch(
      /Migration "002_broken" failed and was rolled back: type "nope" does not exist \(SQLSTATE 42704\) at line 3/,
    );

    const history = await select<{ migration_name: string }>(url, 'SELECT migration_name FROM _prisma_migrations');
    const tables = await select<{ tablename: string }>(
      url,
      `SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> '_prisma_migrations' ORDER BY 1`,
    );
    const state = { history: history.map((r) => r.migration_name), tables: tables.map((r) => r.tablename) };
    expect(state).toEqual({ history: ['001_ok'], tables: ['one'] });

    // Once the migration is fixed, the next run applies it.
    writeFileSync(join(dir, '002_broken', 'migration.sql'), 'CREATE TABLE "two" ("id" INTEGER NOT NULL);\n');
    expect(await migrate(url, { migrationsDir: dir })).toEqual({ applied: ['002_broken'] });
  });

  it('refuses to run after a failed attempt recorded by Prisma (P3009), naming the migration', async () => {
    const url = databaseUrl('p3009');
    const dir = tempMigrations({ '001_ok': 'SELECT 1;\n', '002_next': 'SELECT 2;\n' });
    await migrate(url, { migrationsDir: dir });
    await select(
      url,
      `INSERT INTO _prisma_migrations (id, checksum, migration_name, logs, applied_steps_count)
       VALUES (gen_random_uuid()::text, $1, '003_half_done', 'boom', 0)`,
      [migrationChecksum('SELECT 3;\n')],
    );
    mkdirSync(join(dir, '003_half_done'));
    writeFileSync(join(dir, '003_half_done', 'migration.sql'), 'SELECT 3;\n');

    await expect(migrate(url, { migrationsDir: dir })).rejects.toThrow(
      /Migration "003_half_done" failed in an earlier run .*: boom\. .*prisma migrate resolve --rolled-back 003_half_done/,
    );

    // Marked as rolled back (what `prisma migrate resolve --rolled-back` does), it is applied again.
    await select(url, "UPDATE _prisma_migrations SET rolled_back_at = now() WHERE logs = 'boom'");
    expect(await migrate(url, { migrationsDir: dir })).toEqual({ applied: ['003_half_done'] });
  });

  it('never puts the password in its errors', async () => {
    const url = new URL(serverUrl.toString());
    url.port = '1';
    url.password = 'S3cret-Pa55word';
    url.pathname = '/whatever';
    const error: unknown = await migrate(url.toString()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MigrationError);
    expect((error as Error).message).toMatch(
      /^Cannot connect to PostgreSQL at postgres(ql)?:\/\/[^:/@]*:\*\*\*@[^/]+:1\/whatever: /,
    );
    expect((error as Error).message).not.toContain('S3cret');
    expect(redactDatabaseUrl('postgres://u:p%40ss@h:5/db?schema=s')).toBe('postgres://u:***@h:5/db?schema=s');
  });
});

describe('checksumMatches', () => {
  it('accepts the same script with other line endings and old unpadded checksums, like Prisma', () => {
    const script = 'CREATE TABLE "a" ();\n\nCREATE TABLE "b" ();\n';
    expect(checksumMatches(script, migrationChecksum(script))).toBe(true);
    expect(checksumMatches(script.replace(/\n/g, '\r\n'), migrationChecksum(script))).toBe(true);
    expect(checksumMatches(script, migrationChecksum(script.replace(/\n/g, '\r\n')))).toBe(true);
    expect(checksumMatches(`${script}-- edited\n`, migrationChecksum(script))).toBe(false);
    expect(migrationChecksum('hello')).toBe('2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824');
    // Zero padding was missing in early Prisma versions (prisma-engines#1887): "0e" was written as "e".
    expect(checksumMatches('hello', '2cf24dba5fb0a3e26e83b2ac5b9e29e1b161e5c1fa7425e7343362938b9824')).toBe(true);
  });
});
