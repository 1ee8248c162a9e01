import { ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { describe, expect, it } from 'vitest';
import { ForbiddenError, UnauthorizedError } from '../common/errors';
import { AppConfig } from '../config/config';
import { ApiKeysService } from '../tenants/api-keys.service';
import { PrincipalService } from '../tenants/principal.service';
import { Principal } from '../tenants/tenant.types';
import { Access, AccessLevel } from './access.decorator';
import { AdminAuthGuard, checkAccess, normalizePath } from './admin-auth.guard';

const KEYS = ['first-key-0123456789abcdef', 'second-key-0123456789abcdef'];

class Routes {
  @Access('read')
  read() {}

  @Access('write')
  write() {}

  unmarked() {}
}

function contextWith(authorization: string | undefined, handler: keyof Routes = 'read') {
  const headers: Record<string, string> = {};
  const request = { headers: authorization === undefined ? {} : { authorization }, raw: {} };
  const reply = {
    header(name: string, value: string) {
      headers[name] = value;
      return reply;
    },
  };
  const context = {
    switchToHttp: () => ({ getRequest: () => request, getResponse: () => reply }),
    // eslint-disable-next-line @typescript-eslint/unbound-method -- the handler is only a metadata key here
    getHandler: () => Routes.prototype[handler],
    getClass: () => Routes,
  } as unknown as ExecutionContext;
  return { context, headers };
}

/** Operator keys only: tenant keys are checked against the database (test/tenants.e2e-spec.ts). */
function guardFor(keys: string[]): AdminAuthGuard {
  const apiKeys = { authenticate: () => Promise.resolve(null) } as unknown as ApiKeysService;
  const principals = new PrincipalService(apiKeys, null as never, null as never, { adminApiKeys: keys } as AppConfig);
  return new AdminAuthGuard(principals, new Reflector());
}

const guard = guardFor(KEYS);

describe('AdminAuthGuard', () => {
  it('lets a request with any of the operator keys through', async () => {
    for (const header of [`Bearer ${KEYS[0]}`, `bearer ${KEYS[1]}`, `BEARER  ${KEYS[0]} `]) {
      await expect(guard.canActivate(contextWith(header).context)).resolves.toBe(true);
    }
  });

  it('refuses anything else with 401 and a WWW-Authenticate challenge', async () => {
    for (const header of [
      undefined,
      '',
      'Bearer',
      'Bearer ',
      KEYS[0],
      `Basic ${KEYS[0]}`,
      `Bearer ${KEYS[0].slice(0, -1)}`,
      `Bearer ${KEYS[0]}x`,
      `Bearer ${KEYS[0]} ${KEYS[1]}`,
      `Bearer ${KEYS.join(',')}`,
    ]) {
      const { context, headers } = contextWith(header);
      await expect(guard.canActivate(context), String(header)).rejects.toThrow(UnauthorizedError);
      expect(headers['WWW-Authenticate']).toMatch(/^Bearer /);
    }
  });

  it('refuses every request when no key is configured', async () => {
    const closed = guardFor([]);
    await expect(closed.canActivate(contextWith('Bearer ').context)).rejects.toThrow(UnauthorizedError);
    await expect(closed.canActivate(contextWith(`Bearer ${KEYS[0]}`).context)).rejects.toThrow(UnauthorizedError);
  });

  it('lets an operator use a route without @Access', async () => {
    await expect(guard.canActivate(contextWith(`Bearer ${KEYS[0]}`, 'unmarked').context)).resolves.toBe(true);
  });
});

describe('checkAccess', () => {
  const tenant = (...scopes: ('read' | 'write' | 'keys')[]): Principal => ({
    kind: 'tenant',
    actor: 'key:0123456789abcdef',
    tenantId: 't',
    keyId: '0123456789abcdef',
    scopes,
  });
  const allows = (principal: Principal, level: AccessLevel) => {
    try {
      checkAccess(principal, level);
      return true;
    } catch (error) {
      expect(error).toBeInstanceOf(ForbiddenError);
      return false;
    }
  };

  it('keeps operator-only routes to operators', () => {
    expect(allows({ kind: 'operator', actor: 'operator:x' }, 'operator')).toBe(true);
    expect(allows(tenant('read', 'write', 'keys'), 'operator')).toBe(false);
  });

  it('gives a tenant key what its scopes say, write implying read', () => {
    expect(allows(tenant('read'), 'read')).toBe(true);
    expect(allows(tenant('read'), 'write')).toBe(false);
    expect(allows(tenant('write'), 'read')).toBe(true);
    expect(allows(tenant('write'), 'keys')).toBe(false);
    expect(allows(tenant('keys'), 'keys')).toBe(true);
    expect(allows(tenant('keys'), 'read')).toBe(false);
  });
});

describe('normalizePath', () => {
  it('spells every way of writing an admin path as /admin/…', () => {
    for (const url of [
      '/admin/bots',
      '/%61dmin/bots',
      '/%2561dmin/bots',
      '/ADMIN/Bots',
      '//admin/bots',
      '/admin//bots',
      '/x/../admin/bots',
      '/admin/./bots',
      '/admin/bots/',
      '/admin%2Fbots',
      '/admin%2fbots?x=1',
      '\\admin\\bots',
      '/admin;x=1/bots',
    ]) {
      expect(normalizePath(url), url).toBe('/admin/bots');
    }
    expect(normalizePath('/admin')).toBe('/admin');
    expect(normalizePath('/admin/?limit=1')).toBe('/admin');
  });

  it('leaves other paths elsewhere', () => {
    expect(normalizePath('/administrator')).toBe('/administrator');
    expect(normalizePath('/webhook/123:abc')).toBe('/webhook/123:abc');
    expect(normalizePath('/admin/../health/live')).toBe('/health/live');
    expect(normalizePath('/../..')).toBe('/');
    expect(normalizePath('/%E0%A4%A/admin')).toBe('/%e0%a4%a/admin');
  });
});
