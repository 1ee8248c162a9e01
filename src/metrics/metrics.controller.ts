import { Controller, Get, Header, Inject, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { bearerMatcher } from '../admin/admin-auth.guard';
import { UnauthorizedError } from '../common/errors';
import { AppConfig } from '../config/config';
import { APP_CONFIG } from '../config/config.module';
import { MetricsService } from './metrics.service';

/**
 * Prometheus scrapes. Unless METRICS_PUBLIC, a scrape needs `Authorization: Bearer <key>` with one of
 * METRICS_API_KEYS (Prometheus' `authorization` setting) or ADMIN_API_KEYS: the metrics name bots' update kinds and
 * volumes, and a scrape reads Redis.
 */
@Controller('metrics')
export class MetricsController {
  private readonly allows: (authorization: string | undefined) => boolean;

  constructor(
    private readonly metrics: MetricsService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    this.allows = bearerMatcher([...config.metrics.apiKeys, ...config.adminApiKeys]);
  }

  @Get()
  @Header('Cache-Control', 'no-store')
  async scrape(@Req() request: FastifyRequest, @Res() reply: FastifyReply) {
    if (!this.config.metrics.public && !this.allows(request.headers.authorization)) {
      void reply.header('WWW-Authenticate', 'Bearer realm="tg-gateway metrics"');
      throw new UnauthorizedError('Missing or wrong metrics key (send Authorization: Bearer <key>)');
    }
    const body = await this.metrics.render();
    await reply.header('Content-Type', this.metrics.contentType).send(body);
  }
}
