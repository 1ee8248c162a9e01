import { CanActivate, ExecutionContext, Inject, Injectable } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { createHash, timingSafeEqual } from 'node:crypto';
import { UnauthorizedError } from '../common/errors';
import { AppConfig } from '../config/config';
import { APP_CONFIG } from '../config/config.module';

/**
 * `Authorization: Bearer <key>` with one of ADMIN_API_KEYS. It runs before the handler and its pipes, so a caller
 * without a key gets the same 401 whatever it asks for and learns nothing about bots. The key is never logged:
 * the request log has only the method and the path.
 */
@Injectable()
export class AdminAuthGuard implements CanActivate {
  private readonly keyDigests: Buffer[];

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    this.keyDigests = config.adminApiKeys.map(digest);
  }

  canActivate(context: ExecutionContext): boolean {
    const http = context.switchToHttp();
    const presented = bearerToken(http.getRequest<FastifyRequest>().headers.authorization);
    if (presented !== undefined && this.isValidKey(presented)) return true;
    void http.getResponse<FastifyReply>().header('WWW-Authenticate', 'Bearer realm="tg-gateway admin"');
    throw new UnauthorizedError('Missing or wrong admin API key (send Authorization: Bearer <key>)');
  }

  /**
   * Both sides are hashed to 32 bytes first, because timingSafeEqual needs equal lengths: comparing digests in
   * constant time reveals neither a key's length nor how much of it matched. Every key is compared (no early exit),
   * so the time taken does not tell which key matched either.
   */
  private isValidKey(presented: string): boolean {
    const candidate = digest(presented);
    let matched = false;
    for (const key of this.keyDigests) matched = timingSafeEqual(key, candidate) || matched;
    return matched;
  }
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header ?? '');
  return match?.[1];
}
