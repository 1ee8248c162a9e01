/**
 * What is wrong with a public base URL given for a webhook (`/webhook/<token>` is appended to it), or null when
 * nothing is. One rule for the admin API and the CLI: http(s), and no query, fragment or credentials — Telegram
 * would post to whatever URL it is given, and a password in it would be stored at Telegram and shown by
 * getWebhookInfo.
 */
export function webhookBaseUrlProblem(value: string): string | null {
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    return 'must be an https or http URL';
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return 'must be an https or http URL';
  // Also an empty `?` or `#`, which URL drops.
  if (/[?#]/.test(value)) return 'must not contain a query or a fragment';
  if (url.username || url.password) return 'must not contain credentials';
  return null;
}
