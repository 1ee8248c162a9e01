import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import { AsyncLocalStorage } from 'node:async_hooks';
import { PrismaPg } from '@prisma/adapter-pg';
import { AppConfig } from '../../config/config';
import { APP_CONFIG } from '../../config/config.module';
import { Prisma, PrismaClient } from '../../generated/prisma/client';
import { AppError, DatabaseUnavailableError } from '../../common/errors';

interface TransactionScope {
  client: Prisma.TransactionClient;
  afterCommit: (() => Promise<void> | void)[];
}

/** The one Prisma client of a process. Only repositories inject it. */
@Injectable()
export class PrismaService extends PrismaClient implements OnApplicationShutdown {
  private readonly scope = new AsyncLocalStorage<TransactionScope>();
  /** The client as constructed (Prisma's models live on it, not on the object a getter sees as `this`). */
  private readonly client: Prisma.TransactionClient;

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
    this.client = this;
  }

  /**
   * The client repositories query with: the transaction of `UnitOfWork.run` when one is open in this async context,
   * so a change and its audit record commit or roll back together, else the plain client.
   */
  get db(): Prisma.TransactionClient {
    return this.scope.getStore()?.client ?? this.client;
  }

  /** Runs `work` in one transaction (joins the one already open); callbacks of `afterCommit` run once committed. */
  async transaction<T>(work: () => Promise<T>): Promise<T> {
    if (this.scope.getStore()) return work();
    const afterCommit: TransactionScope['afterCommit'] = [];
    let result: T;
    try {
      result = await this.$transaction((client) => this.scope.run({ client, afterCommit }, work), {
        timeout: 15_000,
        maxWait: 5_000,
      });
    } catch (error) {
      // What the work threw on purpose passes through; the transaction's own failures are the database's.
      if (error instanceof AppError || error instanceof DatabaseUnavailableError) throw error;
      throw asDatabaseError(error);
    }
    for (const callback of afterCommit) await callback();
    return result;
  }

  /** Runs `callback` once the open transaction committed (at once outside a transaction). */
  async afterCommit(callback: () => Promise<void> | void): Promise<void> {
    const store = this.scope.getStore();
    if (store) store.afterCommit.push(callback);
    else await callback();
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
  // P1003: the server answers but has no such database (a first start before any migration).
  const missing = error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P1003';
  return new DatabaseUnavailableError({
    cause: error,
    hint: missing
      ? 'the database in DATABASE_URL does not exist; create it with `npm run db:migrate` (`node dist/migrate.js`)'
      : undefined,
  });
}

export function isForeignKeyViolation(error: unknown): boolean {
  return error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2003';
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
