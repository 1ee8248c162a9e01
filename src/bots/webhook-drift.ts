import type { WebhookInfo } from 'grammy/types';
import { OPT_IN_UPDATE_KINDS } from '../telegram/update-kinds';

/** How a bot's webhook at Telegram differs from what the gateway expects. */
export type WebhookDrift =
  'no_webhook' | 'url' | 'allowed_updates' | 'max_connections' | 'secret' | 'certificate' | 'ip_address';

export interface ExpectedWebhook {
  url: string;
  /** What set-webhook asked for; null: not checked (Telegram's default or previous setting stands). */
  maxConnections: number | null;
  allowedUpdates: string[] | null;
  /** A self-signed certificate is kept for the bot (Telegram must report a custom certificate). */
  customCertificate: boolean;
  /** The fixed IPv4 address Telegram must post to; null: DNS. */
  ipAddress: string | null;
}

export const DRIFT_TEXT: Record<WebhookDrift, string> = {
  no_webhook: 'no webhook set',
  url: 'different URL',
  allowed_updates: 'different allowed_updates',
  max_connections: 'different max_connections',
  secret: 'deliveries refused with 401 (secret drift)',
  certificate: 'custom certificate missing at Telegram',
  ip_address: 'different IP address',
};

/**
 * Compares Telegram's view of a webhook (getWebhookInfo) with the gateway's. getWebhookInfo never shows the secret,
 * so a secret Telegram no longer matches is seen only through its effect: deliveries refused with 401 by the
 * gateway; `currentError` says whether Telegram's last error is recent enough to count (it stays in getWebhookInfo
 * after deliveries work again).
 */
export function webhookDrift(info: WebhookInfo, expected: ExpectedWebhook, currentError: boolean): WebhookDrift[] {
  if (!info.url) return ['no_webhook'];
  const drift: WebhookDrift[] = [];
  if (info.url !== expected.url) drift.push('url');
  if (expected.allowedUpdates !== null && !sameAllowedUpdates(info.allowed_updates ?? [], expected.allowedUpdates)) {
    drift.push('allowed_updates');
  }
  if (expected.maxConnections !== null && info.max_connections !== expected.maxConnections) {
    drift.push('max_connections');
  }
  if (currentError && /\b401\b/.test(info.last_error_message ?? '')) drift.push('secret');
  if (expected.customCertificate && !info.has_custom_certificate) drift.push('certificate');
  if (expected.ipAddress !== null && info.ip_address !== expected.ipAddress) drift.push('ip_address');
  return drift;
}

/**
 * An empty list asks for every kind but the opt-in ones (chat_member, message_reaction, message_reaction_count), and
 * Telegram may answer it with an empty list or with that default set spelled out.
 */
function sameAllowedUpdates(actual: readonly string[], expected: readonly string[]): boolean {
  if (expected.length === 0) return !actual.some((kind) => OPT_IN_UPDATE_KINDS.includes(kind as never));
  const a = new Set(actual);
  return a.size === new Set(expected).size && expected.every((kind) => a.has(kind));
}
