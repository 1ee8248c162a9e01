import type { WebhookInfo } from 'grammy/types';
import { describe, expect, it } from 'vitest';
import { webhookDrift } from './webhook-drift';

const url = 'https://gateway.example.com/webhook/1:abc';
const info = (extra: Partial<WebhookInfo> = {}): WebhookInfo => ({
  url,
  has_custom_certificate: false,
  pending_update_count: 0,
  ...extra,
});
const expected = { url, maxConnections: null, allowedUpdates: null, customCertificate: false, ipAddress: null };

describe('webhookDrift', () => {
  it('is nothing when Telegram has what the gateway expects', () => {
    expect(webhookDrift(info(), expected, true)).toEqual([]);
    expect(webhookDrift(info({ max_connections: 40, allowed_updates: ['message'] }), expected, true)).toEqual([]);
  });

  it('names a missing webhook, another URL, other settings and refused deliveries', () => {
    expect(webhookDrift(info({ url: '' }), expected, true)).toEqual(['no_webhook']);
    expect(webhookDrift(info({ url: 'https://old.example.net/webhook/1:abc' }), expected, true)).toEqual(['url']);
    const settings = { ...expected, maxConnections: 10, allowedUpdates: ['message', 'chat_member'] };
    expect(
      webhookDrift(info({ max_connections: 10, allowed_updates: ['chat_member', 'message'] }), settings, true),
    ).toEqual([]);
    expect(webhookDrift(info({ max_connections: 40, allowed_updates: ['message'] }), settings, true)).toEqual([
      'allowed_updates',
      'max_connections',
    ]);
    const refused = info({ last_error_message: 'Wrong response from the webhook: 401 Unauthorized' });
    expect(webhookDrift(refused, expected, true)).toEqual(['secret']);
    // An old error stays in getWebhookInfo after deliveries work again.
    expect(webhookDrift(refused, expected, false)).toEqual([]);
  });

  it('names a kept certificate Telegram does not have, and another fixed IP address', () => {
    const endpoint = { ...expected, customCertificate: true, ipAddress: '203.0.113.7' };
    expect(webhookDrift(info({ has_custom_certificate: true, ip_address: '203.0.113.7' }), endpoint, true)).toEqual([]);
    expect(webhookDrift(info({ ip_address: '198.51.100.1' }), endpoint, true)).toEqual(['certificate', 'ip_address']);
  });

  it('reads an empty allowed_updates as the default set: drift only when an opt-in kind is on', () => {
    const defaults = { ...expected, allowedUpdates: [] };
    expect(webhookDrift(info(), defaults, true)).toEqual([]);
    expect(webhookDrift(info({ allowed_updates: ['message', 'callback_query'] }), defaults, true)).toEqual([]);
    expect(webhookDrift(info({ allowed_updates: ['message', 'message_reaction'] }), defaults, true)).toEqual([
      'allowed_updates',
    ]);
  });
});
