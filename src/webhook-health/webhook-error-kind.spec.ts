import { describe, expect, it } from 'vitest';
import { WEBHOOK_ERROR_KINDS, webhookErrorKind } from './webhook-error-kind';

describe('webhookErrorKind', () => {
  it.each([
    [undefined, 'none'],
    ['', 'none'],
    ['Wrong response from the webhook: 401 Unauthorized', 'unauthorized'],
    ['Wrong response from the webhook: 403 Forbidden', 'forbidden'],
    ['Wrong response from the webhook: 404 Not Found', 'not_found'],
    ['Wrong response from the webhook: 429 Too Many Requests', 'too_many_requests'],
    ['Wrong response from the webhook: 413 Request Entity Too Large', 'client_error'],
    ['Wrong response from the webhook: 502 Bad Gateway', 'server_error'],
    ['Wrong response from the webhook: 503 Service Unavailable', 'server_error'],
    ['Read timeout expired', 'timeout'],
    ['Connection timed out', 'timeout'],
    ['Connection refused', 'connection'],
    ['Connection reset by peer', 'connection'],
    ['Failed to resolve host: Name or service not known', 'dns'],
    ['SSL error {error:0A000086:SSL routines::certificate verify failed}', 'tls'],
    ['Something Telegram says one day', 'other'],
  ] as const)('%s → %s', (message, kind) => {
    expect(webhookErrorKind(message)).toBe(kind);
    expect(WEBHOOK_ERROR_KINDS).toContain(kind);
  });
});
