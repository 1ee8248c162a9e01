import { Controller, Get, Injectable, OnModuleDestroy, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { PrismaService } from '../infra/database/prisma.service';
import { RedisConnections } from '../infra/redis/redis.module';

@Injectable()
export class HealthState implements OnModuleDestroy {
  shuttingDown = false;

  // The first hook Nest runs on close, for every module before any other step: readiness turns false while the
  // workers are still finishing their jobs and the HTTP server still answers.
  onModuleDestroy() {
    this.shuttingDown = true;
  }
}

@Controller('health')
export class HealthController {
  constructor(
    private readonly prisma: PrismaService,
    private readonly redis: RedisConnections,
    private readonly state: HealthState,
  ) {}

  /** The process is up and its event loop answers. */
  @Get('live')
  live() {
    return { status: 'ok' };
  }

  /** Postgres and Redis answer, and the process is not shutting down. */
  @Get('ready')
  async ready(@Res({ passthrough: true }) reply: FastifyReply) {
    const [postgres, redis] = await Promise.all([this.prisma.ping(), this.redis.ping()]);
    const ok = postgres && redis && !this.state.shuttingDown;
    void reply.status(ok ? 200 : 503);
    return {
      status: ok ? 'ok' : 'unavailable',
      checks: {
        postgres: postgres ? 'up' : 'down',
        redis: redis ? 'up' : 'down',
        ...(this.state.shuttingDown ? { process: 'shutting_down' } : {}),
      },
    };
  }
}
