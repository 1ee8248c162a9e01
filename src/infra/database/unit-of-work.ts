import { Injectable } from '@nestjs/common';
import { PrismaService } from './prisma.service';

/**
 * Transactions for services, without Prisma types: every repository call made inside `run` (in the same async
 * context) joins one database transaction, so a change and its audit record commit or roll back together.
 */
@Injectable()
export class UnitOfWork {
  constructor(private readonly prisma: PrismaService) {}

  run<T>(work: () => Promise<T>): Promise<T> {
    return this.prisma.transaction(work);
  }

  /** Runs `callback` after the open transaction committed (announcements to other processes); at once outside one. */
  afterCommit(callback: () => Promise<void> | void): Promise<void> {
    return this.prisma.afterCommit(callback);
  }
}
