import { CanActivate, ExecutionContext, Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { createHash, timingSafeEqual } from 'node:crypto';
import { UnauthorizedError } from '../common/errors';
import { toErrorResponse } from '../common/error-response';
import { AppConfig } from '../config/config';
import { APP_CONFIG } from '../config/config.module';

const CHALLENGE = 'Bearer realm="tg-gateway admin"';
const REFUSAL = 'Missing or wrong admin API key (send Authorization: Bearer <key>)';

/**
 * `Authorization: Bearer <key>` with one of ADMIN_API_KEYS. Checked twice: in a Fastify `onRequest` hook for every
 * path under /admin however it is spelled (see isAdminRequest), before the body is read, so a caller without a key cannot make the gateway buffer and parse a
 * body, and gets the same 401 whatever it sends; and as a Nest guard on the admin controllers, in case a route is
 * ever mounted elsewhere. Nothing about bots leaks to a caller without a key. The key is never logged: the request
 * log has only the method and the path.
 */
@Injectable()
export class AdminAuthGuard implements CanActivate {
  private readonly keyDigests: Buffer[];

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    this.keyDigests = config.adminApiKeys.map(digest);
  }

  canActivate(context: ExecutionContext): boolean {
    const http = context.switchToHttp();
    if (this.allows(http.getRequest<FastifyRequest>().headers.authorization)) return true;
    void http.getResponse<FastifyReply>().header('WWW-Authenticate', CHALLENGE);
    throw new UnauthorizedError(REFUSAL);
  }

  allows(authorization: string | undefined): boolean {
    const presented = bearerToken(authorization);
    return presented !== undefined && this.isValidKey(presented);
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

/**
 * Whether `authorization` is `Bearer <one of keys>`, compared as AdminAuthGuard does (digests in constant time,
 * every key compared).
 */
export function bearerMatcher(keys: string[]): (authorization: string | undefined) => boolean {
  const digests = keys.map(digest);
  return (authorization) => {
    const presented = bearerToken(authorization);
    if (presented === undefined) return false;
    const candidate = digest(presented);
    let matched = false;
    for (const key of digests) matched = timingSafeEqual(key, candidate) || matched;
    return matched;
  };
}

/**
 * Registers the `onRequest` check, once: a provider of its own, because Nest builds a second AdminAuthGuard for
 * `@UseGuards` and would otherwise register the hook twice.
 */
@Injectable()
export class AdminAuthHook implements OnModuleInit {
  constructor(
    private readonly guard: AdminAuthGuard,
    private readonly adapterHost: HttpAdapterHost,
  ) {}

  onModuleInit() {
    const fastify = this.adapterHost.httpAdapter.getInstance<FastifyInstance>();
    fastify.addHook('onRequest', (request, reply, done) => {
      if (!isAdminRequest(request) || this.guard.allows(request.headers.authorization)) return done();
      const { body } = toErrorResponse(new UnauthorizedError(REFUSAL));
      void reply.code(401).header('WWW-Authenticate', CHALLENGE).send(body);
    });
  }
}

/**
 * Whether a request is for the admin API, however its path is spelled. The route Fastify matched settles it for
 * every spelling that reaches an admin handler (find-my-way decodes `%61dmin`); the normalised path also covers
 * spellings a router might resolve one day (`//admin`, `/ADMIN`, `/x/../admin`, `/admin/bots/`), so they are
 * refused before the body is read instead of answering 400 or 404 to a caller without a key.
 */
function isAdminRequest(request: FastifyRequest): boolean {
  const route = request.routeOptions.url;
  // A request Fastify routed is handled by that route: only an unrouted one needs its spelling normalised (and the
  // webhook, the hot path, never pays for it).
  if (route !== undefined) return isAdminPath(route);
  return isAdminPath(normalizePath(request.url));
}

function isAdminPath(path: string): boolean {
  return path === '/admin' || path.startsWith('/admin/');
}

/**
 * The path of a request URL in one canonical spelling: without query (`?`) or parameters (`;`), percent-decoded
 * until nothing changes (so `%2561` is `a` too), `\` as `/`, without empty and `.` segments, with `..` resolved,
 * without a trailing slash, lower case. Only for deciding what to protect: refusing more spellings is harmless.
 */
export function normalizePath(url: string): string {
  let path = url.split(/[?#]/, 1)[0];
  for (let round = 0; round < 5; round++) {
    let decoded: string;
    try {
      decoded = decodeURIComponent(path);
    } catch {
      break; // a malformed escape: match what is there
    }
    if (decoded === path) break;
    path = decoded;
  }
  const segments: string[] = [];
  for (const segment of path.split(/[?#]/, 1)[0].replace(/\\/g, '/').split('/')) {
    const name = segment.split(';', 1)[0];
    if (name === '' || name === '.') continue;
    if (name === '..') segments.pop();
    else segments.push(name.toLowerCase());
  }
  return `/${segments.join('/')}`;
}

function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header ?? '');
  return match?.[1];
}
