/** A Telegram bot token: `<bot id>:<35-ish url-safe characters>`. */
const TOKEN_PATTERN = /\b\d{5,20}:[A-Za-z0-9_-]{30,}\b/g;
const WEBHOOK_PATH = /\/webhook\/[^/?#\s"']+/g;
const BOT_API_PATH = /\/bot\d{5,20}:[^/?#\s"']+/g;
/** A tenant API key `tgw_<id>_<secret>`: the id may be shown, the secret never. */
const API_KEY_PATTERN = /\btgw_([0-9a-f]{16})_[A-Za-z0-9_-]{8,}/g;

/** A proxy credential's random part `tgwp<id><secret>`: the id may be shown, the secret never. */
const PROXY_CREDENTIAL_PATTERN = /\btgwp([0-9a-f]{16})[A-Za-z0-9_-]{43}/g;

/**
 * Removes bot tokens from any text bound for a log, an error message or a response: the webhook path carries
 * the token (`/webhook/<token>`), and so do Bot API URLs (`/bot<token>/method`).
 */
export function redactSecrets(text: string): string {
  return text
    .replace(WEBHOOK_PATH, '/webhook/<redacted>')
    .replace(BOT_API_PATH, '/bot<redacted>')
    .replace(TOKEN_PATTERN, '<redacted-token>')
    .replace(API_KEY_PATTERN, 'tgw_$1_<redacted>')
    .replace(PROXY_CREDENTIAL_PATTERN, 'tgwp$1<redacted>');
}

/** The request URL as it may be logged or reported. */
export function redactUrl(url: string): string {
  return redactSecrets(url.split('?')[0] ?? url);
}
