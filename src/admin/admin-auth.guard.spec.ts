import { ExecutionContext } from '@nestjs/common';
import { describe, expect, it } from 'vitest';
import { UnauthorizedError } from '../common/errors';
import { AppConfig } from '../config/config';
import { AdminAuthGuard, normalizePath } from './admin-auth.guard';

const KEYS = ['first-key-0123456789abcdef', 'second-key-0123456789abcdef'];

function contextWith(authorization: string | undefined) {
  const headers: Record<string, string> = {};
  const request = { headers: authorization === undefined ? {} : { authorization } };
  const reply = {
    header(name: string, value: string) {
      headers[name] = value;
      return reply;
    },
  };
  const context = {
    switchToHttp: () => ({ getRequest: () => request, getResponse: () => reply }),
  } as unknown as ExecutionContext;
  return { context, headers };
}

const guard = new AdminAuthGuard({ adminApiKeys: KEYS } as AppConfig);

describe('AdminAuthGuard', () => {
  it('lets a request with any of the keys through', () => {
    for (const header of [`Bearer ${KEYS[0]}`, `bearer ${KEYS[1]}`, `BEARER  ${KEYS[0]} `]) {
      expect(guard.canActivate(contextWith(header).context)).toBe(true);
    }
  });

  it('refuses anything else with 401 and a WWW-Authenticate challenge', () => {
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
      expect(() => guard.canActivate(context), String(header)).toThrow(UnauthorizedError);
      expect(headers['WWW-Authenticate']).toMatch(/^Bearer /);
    }
  });

  it('refuses every request when no key is configured', () => {
    const closed = new AdminAuthGuard({ adminApiKeys: [] as string[] } as AppConfig);
    expect(() => closed.canActivate(contextWith('Bearer ').context)).toThrow(UnauthorizedError);
    expect(() => closed.canActivate(contextWith(`Bearer ${KEYS[0]}`).context)).toThrow(UnauthorizedError);
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
