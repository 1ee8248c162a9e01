import { createParamDecorator, ExecutionContext, SetMetadata } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { Principal } from '../tenants/tenant.types';

/**
 * Who may call an admin route: `operator` (ADMIN_API_KEYS only; a tenant key gets 403), or a tenant key with the
 * scope named (`read`, `write`, `keys`; operators always may). A route without `@Access` is operator-only, so a
 * route added without thinking about tenants is closed to them. Routes reachable by tenant keys must find bots
 * through BotAdminService (`find`), which keeps each tenant to its own bots.
 */
export type AccessLevel = 'operator' | 'read' | 'write' | 'keys';

export const ACCESS_KEY = 'tgw:access';

export const Access = (level: AccessLevel) => SetMetadata(ACCESS_KEY, level);

/** The Principal the admin auth hook found for the request. */
export const Caller = createParamDecorator((_data: unknown, context: ExecutionContext): Principal => {
  const principal = principalOf(context.switchToHttp().getRequest<FastifyRequest>());
  if (!principal) throw new Error('No principal on an admin request: is the route guarded by AdminAuthGuard?');
  return principal;
});

const principals = new WeakMap<object, Principal>();

export function principalOf(request: FastifyRequest): Principal | undefined {
  return principals.get(request.raw);
}

export function setPrincipal(request: FastifyRequest, principal: Principal): void {
  principals.set(request.raw, principal);
}
