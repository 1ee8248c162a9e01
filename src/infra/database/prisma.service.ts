import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import { PrismaPg } from '@prisma/adapter-pg';
import { AppConfig } from '../../config/config';
import { APP_CONFIG } from '../../config/config.module';
import { Prisma, PrismaClient } from '../../generated/prisma/client';
import { DatabaseUnavailableError } from '../../common/errors';

/** The one Prisma client of a process. Only repositories inject it. */
@Injectable()
export class PrismaService extends PrismaClient implements OnApplicationShutdown {
  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    super({
      adapter: new PrismaPg({
        connectionString: config.databaseUrl,
        // Fail fast while Postgres is away: the webhook answers 503 instead of holding Telegram's connection.
        connectionTimeoutMillis: 2_000,
        query_timeout: 5_000,
        max: 10,
      }),
    });
  }

  // Last step of shutdown (see bootstrap.ts): in-flight requests and jobs have finished by then.
  async onApplicationShutdown() {
    await this.$disconnect();
  }

  /** Readiness probe: true when Postgres answers within the timeout. */
  async ping(timeoutMs = 1_000): Promise<boolean> {
    try {
      await withTimeout(this.$queryRaw`SELECT 1`, timeoutMs);
      return true;
    } catch {
      return false;
    }
  }
}

/**
 * Turns a failure that is not about the data (connection refused, timeout, pool exhausted) into
 * DatabaseUnavailableError, so callers answer 503 rather than mistaking an outage for "not found".
 */
export function asDatabaseError(error: unknown): unknown {
  if (error instanceof Prisma.PrismaClientKnownRequestError && !error.code.startsWith('P1')) return error;
  if (error instanceof Prisma.PrismaClientValidationError) return error;
  return new DatabaseUnavailableError({ cause: error });
}

export function isUniqueViolation(error: unknown): boolean {
  return error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002';
}

export async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`Timed out after ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
