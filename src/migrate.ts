/**
 * `npm run db:migrate` / `node dist/migrate.js`: creates the database if needed and applies prisma/migrations.
 * Needs only DATABASE_URL (no key material), so it can run as a separate deployment step.
 */
import { ConfigError, loadDatabaseUrl } from './config/config';
import { migrate } from './infra/database/migrator';

async function main(): Promise<void> {
  const databaseUrl = loadDatabaseUrl();
  const { applied } = await migrate(databaseUrl, { log: (line) => console.log(line) });
  console.log(`Database is up to date, ${applied.length} migration(s) applied`);
}

main().catch((error: unknown) => {
  const message =
    error instanceof ConfigError
      ? `Invalid configuration: ${error.problems.join('; ')}`
      : error instanceof Error
        ? error.message
        : String(error);
  console.error(`Migration failed: ${message.replace(/\s*\n\s*/g, ' ')}`);
  process.exitCode = 1;
});
