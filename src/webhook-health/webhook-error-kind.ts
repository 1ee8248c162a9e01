/**
 * Telegram's `last_error_message` in a small fixed set of kinds, for a metric label (its text varies: status
 * lines, addresses, TLS library messages).
 */
export const WEBHOOK_ERROR_KINDS = [
  'none',
  'unauthorized',
  'forbidden',
  'not_found',
  'too_many_requests',
  'client_error',
  'server_error',
  'timeout',
  'connection',
  'dns',
  'tls',
  'other',
] as const;

export type WebhookErrorKind = (typeof WEBHOOK_ERROR_KINDS)[number];

export function webhookErrorKind(message: string | null | undefined): WebhookErrorKind {
  if (!message) return 'none';
  const status = /\b([1-5]\d\d)\b/.exec(message)?.[1];
  if (status && /wrong response|response from the webhook|http/i.test(message)) {
    const code = Number(status);
    if (code === 401) return 'unauthorized';
    if (code === 403) return 'forbidden';
    if (code === 404) return 'not_found';
    if (code === 429) return 'too_many_requests';
    if (code >= 400 && code < 500) return 'client_error';
    if (code >= 500) return 'server_error';
  }
  if (/timeout|timed out/i.test(message)) return 'timeout';
  if (/resolve|name or service|no address|dns/i.test(message)) return 'dns';
  if (/ssl|tls|certificate|handshake/i.test(message)) return 'tls';
  if (/connection|connect|refused|reset|unreachable|no route/i.test(message)) return 'connection';
  return 'other';
}
