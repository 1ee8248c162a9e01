import { BotView } from '../bots/bot.view';
import type { WebhookStatus } from '../bots/bot-admin.service';

/**
 * Output of the CLI: command results on stdout (so they can be piped), progress and hints on stderr.
 */
export function print(text = ''): void {
  process.stdout.write(`${text}\n`);
}

export function printJson(value: unknown): void {
  print(JSON.stringify(value, null, 2));
}

export function progress(text: string): void {
  process.stderr.write(`${text}\n`);
}

/** Columns padded to their widest cell; the last column is not padded. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((header, i) => Math.max(header.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

/** `label: value` lines with the values aligned. */
export function fields(pairs: [string, string][]): string {
  const width = Math.max(...pairs.map(([label]) => label.length)) + 1;
  return pairs.map(([label, value]) => `${`${label}:`.padEnd(width)}  ${value}`).join('\n');
}

export function yesNo(value: boolean): string {
  return value ? 'yes' : 'no';
}

export function botLabel(bot: BotView): string {
  return `@${bot.username} (${bot.id})`;
}

export function formatBot(bot: BotView): string {
  return fields([
    ['id', bot.id],
    ['telegram id', bot.telegramId],
    ['username', `@${bot.username}`],
    ['name', bot.name],
    ['enabled', yesNo(bot.enabled)],
    ['albums', bot.albums ? 'on' : 'off'],
    [
      'token',
      bot.revoked ? `revoked (rejected by Telegram at ${bot.revokedAt}; replace it: bots replace-token)` : 'ok',
    ],
    ['features', bot.features.length > 0 ? bot.features.join(',') : '(none)'],
    ['created', bot.createdAt],
    ['updated', bot.updatedAt],
  ]);
}

export function formatWebhookStatus(status: WebhookStatus): string {
  const lastError = status.lastErrorMessage
    ? `${status.lastErrorDate ?? ''} ${status.lastErrorMessage}`.trim()
    : 'none';
  return fields([
    ['url', status.url || '(no webhook set)'],
    ['expected url', status.expectedUrl],
    ['matches expected', yesNo(status.matchesExpected)],
    ['drift', status.drift.length ? status.drift.join(',') : 'none'],
    ['pending updates', String(status.pendingUpdateCount)],
    ['last error', lastError],
    ['max connections', status.maxConnections === null ? '(default)' : String(status.maxConnections)],
    ['allowed updates', status.allowedUpdates?.length ? status.allowedUpdates.join(',') : '(default)'],
    ['ip address', status.ipAddress ?? '-'],
    ['fixed ip address', status.expectedIpAddress ?? '(none: Telegram resolves the host)'],
    ['custom certificate', yesNo(status.hasCustomCertificate)],
    [
      'certificate',
      status.certificate
        ? `${status.certificate.subject}, valid to ${status.certificate.validTo}, SHA-256 ${status.certificate.fingerprint256}`
        : '(none uploaded)',
    ],
  ]);
}

/** Text for help output, wrapped at `width` columns (commander wraps option lists, not added help text). */
export function wrap(text: string, width = 80): string {
  return text
    .split('\n')
    .map((paragraph) => {
      const lines: string[] = [];
      let line = '';
      for (const word of paragraph.split(' ')) {
        if (line && line.length + 1 + word.length > width) {
          lines.push(line);
          line = word;
        } else {
          line = line ? `${line} ${word}` : word;
        }
      }
      lines.push(line);
      return lines.join('\n');
    })
    .join('\n');
}
