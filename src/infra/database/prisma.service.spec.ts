import { describe, expect, it } from 'vitest';
import { DatabaseUnavailableError } from '../../common/errors';
import type { AppConfig } from '../../config/config';
import { asDatabaseError, PrismaService } from './prisma.service';

const server = new URL(
  process.env.TEST_DATABASE_URL ?? 'postgresql://postgres:postgres@127.0.0.1:5432/tg_gateway_test',
);

async function failureAt(databaseUrl: string): Promise<unknown> {
  const prisma = new PrismaService({ databaseUrl } as AppConfig);
  try {
    await prisma.db.bot.findMany();
  } catch (error) {
    return asDatabaseError(error);
  } finally {
    await prisma.$disconnect();
  }
  throw new Error('expected the query to fail');
}

describe('asDatabaseError', () => {
  it('says to run the migration when the server has no such database', async () => {
    const url = new URL(server);
    url.pathname = `/tg_gateway_missing_${process.pid}`;
    const error = await failureAt(url.toString());
    expect(error).toBeInstanceOf(DatabaseUnavailableError);
    expect((error as Error).message).toBe(
      'Database unavailable: the database in DATABASE_URL does not exist; create it with `npm run db:migrate` (`node dist/migrate.js`)',
    );
    // Neither the URL nor its password.
    expect((error as Error).message).not.toContain(url.password || 'postgres:');
  });

  it('gives no hint when the server cannot be reached', async () => {
    const url = new URL(server);
    url.port = '1';
    const error = await failureAt(url.toString());
    expect(error).toBeInstanceOf(DatabaseUnavailableError);
    expect((error as Error).message).toBe('Database unavailable');
  });
});
