import { createHash, randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Client, DatabaseError, escapeIdentifier } from 'pg';

/**
 * Applies prisma/migrations with plain `pg`, keeping Prisma Migrate's own bookkeeping (`_prisma_migrations`,
 * sha256 checksums, the same advisory lock), so `prisma migrate deploy` / `migrate status` keep working
 * wherever Prisma's native schema engine is available.
 */

/** Prisma Migrate's advisory lock key: holding the same one also serializes us with `prisma migrate deploy`. */
export const MIGRATION_LOCK_KEY = 72707369;

/** How long to wait for another migrating process before giving up. */
const LOCK_TIMEOUT_MS = 5 * 60_000;
const CONNECT_TIMEOUT_MS = 10_000;

/** Prisma's own DDL for its history table (schema-engine, PostgreSQL flavour). */
const MIGRATIONS_TABLE_DDL = `CREATE TABLE _prisma_migrations (
    id                      VARCHAR(36) PRIMARY KEY NOT NULL,
    checksum                VARCHAR(64) NOT NULL,
    finished_at             TIMESTAMPTZ,
    migration_name          VARCHAR(255) NOT NULL,
    logs                    TEXT,
    rolled_back_at          TIMESTAMPTZ,
    started_at              TIMESTAMPTZ NOT NULL DEFAULT now(),
    applied_steps_count     INTEGER NOT NULL DEFAULT 0
);`;

export interface MigrateOptions {
  /** Folder holding `<name>/migration.sql` entries; defaults to the package's prisma/migrations. */
  migrationsDir?: string;
  /** Receives one human-readable line per notable event (database created, migration applied, waiting). */
  log?: (line: string) => void;
}

export interface MigrateResult {
  /** Names of the migrations this call applied, in order; empty when the database was up to date. */
  applied: string[];
}

export class MigrationError extends Error {
  constructor(
    message: string,
    readonly migrationName?: string,
  ) {
    super(message);
    this.name = 'MigrationError';
  }
}

interface LocalMigration {
  name: string;
  script: string;
  checksum: string;
}

interface MigrationRow {
  id: string;
  checksum: string;
  finished_at: Date | null;
  migration_name: string;
  logs: string | null;
  rolled_back_at: Date | null;
  started_at: Date;
}

export async function migrate(databaseUrl: string, options: MigrateOptions = {}): Promise<MigrateResult> {
  const log = options.log ?? (() => undefined);
  const migrationsDir = options.migrationsDir ?? defaultMigrationsDir();
  const target = parseTarget(databaseUrl);
  const migrations = readMigrations(migrationsDir);

  const client = await connectCreatingDatabase(target, log);
  try {
    await acquireLock(client, target, log);
    try {
      await useSchema(client, target.schema);
      await ensureMigrationsTable(client);
      return { applied: await applyPending(client, migrations, log) };
    } finally {
      // Also released when the session ends, so a failed unlock (connection lost) is harmless.
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => undefined);
    }
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The URL with its password replaced by `***`, safe for logs and error messages. */
export function redactDatabaseUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return url.replace(/\/\/([^/@:]*):[^/@]*@/, '//$1:***@');
  }
}

/** Prisma's checksum: lowercase hex sha256 of the migration script. */
export function migrationChecksum(script: string | Buffer): string {
  return createHash('sha256').update(script).digest('hex');
}

/**
 * Same tolerance as Prisma's `script_matches_checksum`: CRLF/LF conversions by git do not count as changes, and
 * checksums written by old Prisma versions without zero padding still match.
 */
export function checksumMatches(script: string, stored: string): boolean {
  const variants = [script, script.replace(/\r\n/g, '\n'), script.replace(/\n/g, '\r\n')];
  return variants.some((variant) => {
    const digest = createHash('sha256').update(variant).digest();
    const rendered =
      stored.length > 0 && stored.length !== 64
        ? Array.from(digest, (byte) => byte.toString(16)).join('')
        : digest.toString('hex');
    return rendered === stored;
  });
}

// ---------------------------------------------------------------------------------------------------------------

interface Target {
  url: URL;
  database: string;
  schema: string;
  redacted: string;
}

function parseTarget(databaseUrl: string): Target {
  let url: URL;
  try {
    url = new URL(databaseUrl);
  } catch {
    throw new MigrationError('DATABASE_URL is not a valid URL');
  }
  if (url.protocol !== 'postgresql:' && url.protocol !== 'postgres:') {
    throw new MigrationError(`DATABASE_URL must be a postgresql:// URL (got ${url.protocol}//…)`);
  }
  const database =
    decodeURIComponent(url.pathname.replace(/^\//, '')) || decodeURIComponent(url.username) || 'postgres';
  const schema = url.searchParams.get('schema') || 'public';
  return { url, database, schema, redacted: redactDatabaseUrl(databaseUrl) };
}

function withDatabase(url: URL, database: string): string {
  const copy = new URL(url.toString());
  copy.pathname = `/${encodeURIComponent(database)}`;
  return copy.toString();
}

async function connect(connectionString: string): Promise<Client> {
  const client = new Client({
    connectionString,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    application_name: 'tg-gateway-migrate',
  });
  // An idle connection dropped by the server emits 'error'; without a listener that would crash the process.
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

async function connectCreatingDatabase(target: Target, log: (line: string) => void): Promise<Client> {
  try {
    return await connect(target.url.toString());
  } catch (error) {
    if (!isPgError(error, '3D000')) throw connectionError(target, error);
  }
  await createDatabase(target, log);
  try {
    return await connect(target.url.toString());
  } catch (error) {
    throw connectionError(target, error);
  }
}

/** Creates the target database from the `postgres` maintenance database (or `template1`), as Prisma does. */
async function createDatabase(target: Target, log: (line: string) => void): Promise<void> {
  let admin: Client | undefined;
  let lastError: unknown;
  for (const maintenance of ['postgres', 'template1']) {
    if (maintenance === target.database) continue;
    try {
      admin = await connect(withDatabase(target.url, maintenance));
      break;
    } catch (error) {
      lastError = error;
      if (!isPgError(error, '3D000')) break;
    }
  }
  if (!admin) {
    throw new MigrationError(
      `Database "${target.database}" does not exist and no maintenance database could be reached to create it ` +
        `(${target.redacted}): ${describeError(lastError)}`,
    );
  }
  try {
    const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [target.database]);
    if (exists.rowCount) return;
    await admin.query(`CREATE DATABASE ${escapeIdentifier(target.database)}`);
    log(`Created database "${target.database}"`);
  } catch (error) {
    // Another process created it between our check and our CREATE: 42P04 duplicate_database, or 23505 when
    // both inserts into pg_database raced.
    if (isPgError(error, '42P04') || isPgError(error, '23505')) return;
    throw new MigrationError(
      `Database "${target.database}" does not exist and could not be created: ${describeError(error)}`,
    );
  } finally {
    await admin.end().catch(() => undefined);
  }
}

async function acquireLock(client: Client, target: Target, log: (line: string) => void): Promise<void> {
  const tried = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1) AS locked', [
    MIGRATION_LOCK_KEY,
  ]);
  if (tried.rows[0]?.locked) return;
  log(`Another process is migrating database "${target.database}"; waiting for it to finish`);
  try {
    await client.query(`SET lock_timeout = ${LOCK_TIMEOUT_MS}`);
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
  } catch (error) {
    if (isPgError(error, '55P03')) {
      throw new MigrationError(
        `Timed out after ${LOCK_TIMEOUT_MS / 1000} s waiting for another process migrating database ` +
          `"${target.database}" (advisory lock ${MIGRATION_LOCK_KEY})`,
      );
    }
    throw error;
  } finally {
    await client.query('RESET lock_timeout').catch(() => undefined);
  }
}

/** Mirrors Prisma's `?schema=` URL parameter: history table and migrations live in that schema. */
async function useSchema(client: Client, schema: string): Promise<void> {
  const found = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]);
  if (!found.rowCount) await client.query(`CREATE SCHEMA IF NOT EXISTS ${escapeIdentifier(schema)}`);
  await client.query(`SET search_path TO ${escapeIdentifier(schema)}`);
}

async function ensureMigrationsTable(client: Client): Promise<void> {
  const found = await client.query<{ found: string | null }>(
    "SELECT to_regclass(quote_ident(current_schema()) || '._prisma_migrations')::text AS found",
  );
  if (!found.rows[0]?.found) await client.query(MIGRATIONS_TABLE_DDL);
}

async function applyPending(
  client: Client,
  migrations: LocalMigration[],
  log: (line: string) => void,
): Promise<string[]> {
  const { rows } = await client.query<MigrationRow>(
    `SELECT id, checksum, finished_at, migration_name, logs, rolled_back_at, started_at
       FROM _prisma_migrations ORDER BY started_at ASC`,
  );

  // P3009: a failed attempt must be resolved by a human before anything else runs.
  const failed = rows.filter((row) => row.finished_at === null && row.rolled_back_at === null);
  if (failed.length > 0) {
    const row = failed[0];
    const logs = row.logs?.trim() ? `: ${firstLine(row.logs)}` : '';
    throw new MigrationError(
      `Migration "${row.migration_name}" failed in an earlier run (started ${row.started_at.toISOString()})${logs}. ` +
        `Repair the database, then mark it with \`prisma migrate resolve --rolled-back ${row.migration_name}\` ` +
        `(or --applied) before migrating again`,
      row.migration_name,
    );
  }

  const applied = new Map<string, MigrationRow>();
  for (const row of rows) if (row.rolled_back_at === null) applied.set(row.migration_name, row);

  const localNames = new Set(migrations.map((m) => m.name));
  for (const name of applied.keys()) {
    if (!localNames.has(name)) {
      log(`Warning: migration "${name}" is recorded in the database but missing from the migrations folder`);
    }
  }

  for (const migration of migrations) {
    const row = applied.get(migration.name);
    if (row && !checksumMatches(migration.script, row.checksum)) {
      throw new MigrationError(
        `Migration "${migration.name}" was modified after it was applied (recorded checksum ${row.checksum}, ` +
          `file checksum ${migration.checksum}). Restore its migration.sql and put the change in a new migration`,
        migration.name,
      );
    }
  }

  const done: string[] = [];
  for (const migration of migrations) {
    if (applied.has(migration.name)) continue;
    await applyOne(client, migration);
    done.push(migration.name);
    log(`Applied migration ${migration.name}`);
  }
  return done;
}

async function applyOne(client: Client, migration: LocalMigration): Promise<void> {
  await client.query('BEGIN');
  try {
    // Without parameters pg uses the simple query protocol, which runs a multi-statement script as is.
    await client.query(migration.script);
    await client.query(
      `INSERT INTO _prisma_migrations (id, checksum, finished_at, migration_name, logs, started_at, applied_steps_count)
       VALUES ($1, $2, clock_timestamp(), $3, NULL, now(), 1)`,
      [randomUUID(), migration.checksum, migration.name],
    );
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw new MigrationError(
      `Migration "${migration.name}" failed and was rolled back: ${describeError(error, migration.script)}`,
      migration.name,
    );
  }
}

function readMigrations(migrationsDir: string): LocalMigration[] {
  if (!existsSync(migrationsDir)) throw new MigrationError(`Migrations folder not found: ${migrationsDir}`);
  const lockfile = join(migrationsDir, 'migration_lock.toml');
  if (existsSync(lockfile)) {
    const provider = /^\s*provider\s*=\s*"([^"]*)"/m.exec(readFileSync(lockfile, 'utf8'))?.[1];
    if (provider && provider !== 'postgresql') {
      throw new MigrationError(`${lockfile} is for provider "${provider}", not "postgresql"`);
    }
  }
  return readdirSync(migrationsDir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && !entry.name.startsWith('.'))
    .map((entry) => entry.name)
    .sort()
    .map((name) => {
      const file = join(migrationsDir, name, 'migration.sql');
      if (!existsSync(file)) throw new MigrationError(`Migration "${name}" has no migration.sql (${file})`, name);
      const bytes = readFileSync(file);
      return { name, script: bytes.toString('utf8'), checksum: migrationChecksum(bytes) };
    });
}

/** prisma/migrations of the package this file belongs to: works from src/ (vitest) and from dist/. */
function defaultMigrationsDir(): string {
  let dir = __dirname;
  for (;;) {
    const candidate = join(dir, 'prisma', 'migrations');
    if (existsSync(join(dir, 'package.json')) && existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) {
      throw new MigrationError(`No prisma/migrations folder found above ${__dirname}; pass migrationsDir`);
    }
    dir = parent;
  }
}

function isPgError(error: unknown, code: string): boolean {
  return error instanceof DatabaseError ? error.code === code : (error as { code?: unknown })?.code === code;
}

function connectionError(target: Target, error: unknown): MigrationError {
  return new MigrationError(`Cannot connect to PostgreSQL at ${target.redacted}: ${describeError(error)}`);
}

function describeError(error: unknown, script?: string): string {
  if (error instanceof DatabaseError) {
    let text = `${error.message} (SQLSTATE ${error.code})`;
    if (script && error.position) text += ` at line ${lineOf(script, Number(error.position))}`;
    if (error.detail) text += `. ${error.detail}`;
    if (error.hint) text += `. Hint: ${error.hint}`;
    return text;
  }
  if (error instanceof AggregateError && error.errors.length > 0) {
    // Node reports a refused connection to every address of a host name as an AggregateError without a message.
    return [...new Set(error.errors.map((e) => describeError(e)))].join('; ');
  }
  if (error instanceof Error) return error.message || (error as { code?: string }).code || error.name;
  return String(error);
}

/** 1-based line of a 1-based character position, as Postgres reports it for syntax errors. */
function lineOf(script: string, position: number): number {
  return script.slice(0, Math.max(0, position - 1)).split('\n').length;
}

function firstLine(text: string): string {
  const line = text.trim().split('\n')[0] ?? '';
  return line.length > 300 ? `${line.slice(0, 300)}…` : line;
}
