import { describe, expect, it } from 'vitest';
import { TELEGRAM_IP_RANGES } from '../config/config';
import { IpAllowlist } from './ip-allowlist';

describe('IpAllowlist', () => {
  const telegram = new IpAllowlist(TELEGRAM_IP_RANGES, ['10.0.0.0/8']);

  it('allows everyone when no range is configured', () => {
    expect(new IpAllowlist([], []).allows('203.0.113.9', undefined)).toBe(true);
  });

  it("accepts Telegram's ranges, also as IPv4-mapped IPv6, and refuses others", () => {
    expect(telegram.allows('149.154.167.220', undefined)).toBe(true);
    expect(telegram.allows('::ffff:91.108.6.1', undefined)).toBe(true);
    expect(telegram.allows('149.154.176.1', undefined)).toBe(false);
    expect(telegram.allows('2001:db8::1', undefined)).toBe(false);
  });

  it('ignores X-Forwarded-For from a caller that is not a trusted proxy', () => {
    expect(telegram.allows('203.0.113.9', '149.154.167.220')).toBe(false);
  });

  it('reads X-Forwarded-For from the right through trusted proxies only', () => {
    expect(telegram.allows('10.0.0.5', '149.154.167.220')).toBe(true);
    expect(telegram.allows('10.0.0.5', '149.154.167.220, 10.1.1.1')).toBe(true);
    // A forged left-most entry does not help a client outside the ranges.
    expect(telegram.allows('10.0.0.5', '149.154.167.220, 203.0.113.9')).toBe(false);
    expect(telegram.clientIp('10.0.0.5', ['198.51.100.1', '203.0.113.9'])).toBe('203.0.113.9');
  });
});
