import { CanActivate, ExecutionContext, Injectable, OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost, Reflector } from '@nestjs/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { createHash, timingSafeEqual } from 'node:crypto';
import { ForbiddenError, QuotaExceededError, UnauthorizedError } from '../common/errors';
import { toErrorResponse } from '../common/error-response';
import { MetricsService } from '../metrics/metrics.service';
import { PrincipalService } from '../tenants/principal.service';
import { Principal } from '../tenants/tenant.types';
import { ACCESS_KEY, AccessLevel, principalOf, setPrincipal } from './access.decorator';

const CHALLENGE = 'Bearer realm="tg-gateway admin"';
const REFUSAL = 'Missing, wrong, revoked or expired API key (send Authorization: Bearer <key>)';

/**
 * `Authorization: Bearer <key>`: one of ADMIN_API_KEYS (an operator) or a live tenant API key. The key is checked in
 * a Fastify `onRequest` hook for every path under /admin however it is spelled (see isAdminRequest), before the
 * body is read, so a caller without a key cannot make the gateway buffer and parse a body, and gets the same 401
 * whatever it sends; the hook also counts the request against the key's rate (429). The guard, on every admin
 * controller, then checks the route's `@Access` level against the principal (403): a route without one is
 * operator-only. The key is never logged: the request log has only the method and the path.
 */
@Injectable()
export class AdminAuthGuard implements CanActivate {
  constructor(
    private readonly principals: PrincipalService,
    private readonly reflector: Reflector,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const http = context.switchToHttp();
    const request = http.getRequest<FastifyRequest>();
    // Set by the hook; resolved here only for a route mounted outside /admin.
    let principal = principalOf(request);
    if (!principal) {
      const found = await this.principals.resolve(bearerToken(request.headers.authorization));
      if (!found) {
        void http.getResponse<FastifyReply>().header('WWW-Authenticate', CHALLENGE);
        throw new UnauthorizedError(REFUSAL);
      }
      principal = found;
      setPrincipal(request, principal);
    }
    const level =
      this.reflector.getAllAndOverride<AccessLevel | undefined>(ACCESS_KEY, [
        context.getHandler(),
        context.getClass(),
      ]) ?? 'operator';
    checkAccess(principal, level);
    return true;
  }
}

/** Throws 403 unless the principal may use a route of this access level (`write` implies `read`). */
export function checkAccess(principal: Principal, level: AccessLevel): void {
  if (principal.kind === 'operator') return;
  if (level === 'operator') throw new ForbiddenError('Only an operator key may do this', 'operator_only');
  const scopes = principal.scopes;
  if (scopes.includes(level) || (level === 'read' && scopes.includes('write'))) return;
  throw new ForbiddenError(`This key does not have the ${level} scope`, 'insufficient_scope');
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/**
 * Whether `authorization` is `Bearer <one of keys>`, compared in constant time (digests, every key compared).
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

/** Registers the `onRequest` check, once (Nest builds a guard per `@UseGuards`). */
@Injectable()
export class AdminAuthHook implements OnModuleInit {
  constructor(
    private readonly principals: PrincipalService,
    private readonly metrics: MetricsService,
    private readonly adapterHost: HttpAdapterHost,
  ) {}

  onModuleInit() {
    const fastify = this.adapterHost.httpAdapter.getInstance<FastifyInstance>();
    // A callback hook, not an async one: the webhook (the hot path) passes with one check and no promise.
    fastify.addHook('onRequest', (request, reply, done) => {
      if (!isAdminRequest(request)) return done();
      this.admit(request, reply).then(
        () => done(),
        (error: unknown) => {
          if (error instanceof QuotaExceededError) this.metrics.quotaRefusals.inc({ reason: 'admin_requests' });
          const { body, retryAfter } = toErrorResponse(error);
          if (retryAfter !== undefined) void reply.header('Retry-After', String(retryAfter));
          void reply.code(body.statusCode).send(body);
        },
      );
    });
  }

  private async admit(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const principal = await this.principals.resolve(bearerToken(request.headers.authorization));
    if (!principal) {
      void reply.header('WWW-Authenticate', CHALLENGE);
      throw new UnauthorizedError(REFUSAL);
    }
    setPrincipal(request, principal);
    await this.principals.admit(principal);
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
