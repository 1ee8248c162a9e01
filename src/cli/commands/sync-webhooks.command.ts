import { Command, Help, Option } from 'nest-commander';
import { BotAdminService, SyncResult, SyncState } from '../../bots/bot-admin.service';
import { CliCommand } from '../cli-command';
import { CommandFailedError } from '../cli-errors';
import { parseBaseUrl } from '../cli-options';
import { print, progress, table, wrap } from '../cli-output';
import { cliPrincipal } from '../cli-principal';

const STATES: SyncState[] = ['ok', 'set', 'would_set', 'error'];

@Command({
  name: 'sync-webhooks',
  description: "Check every enabled bot's webhook at Telegram and set it again where it drifted",
})
export class SyncWebhooksCommand extends CliCommand {
  constructor(private readonly admin: BotAdminService) {
    super();
  }

  @Help('after')
  helpAfter(): string {
    return wrap(
      '\nA webhook has drifted when it is missing, points to another URL, or Telegram reports deliveries refused ' +
        'with 401 (a secret it no longer matches). Progress goes to stderr, a summary table to stdout. Exit status 1 ' +
        'when a bot could not be checked or fixed.',
    );
  }

  async run(_args: string[], flags: { dryRun?: boolean; url?: string }): Promise<void> {
    const results = await this.admin.syncWebhooks(
      cliPrincipal(),
      { dryRun: flags.dryRun, url: flags.url },
      (result, index, total) =>
        progress(`[${index}/${total}] @${result.bot.username}: ${result.state} (${result.reason})`),
    );
    if (results.length === 0) {
      print('No enabled bots.');
      return;
    }
    print(table(['BOT', 'STATE', 'REASON', 'PENDING', 'LAST ERROR'], results.map(row)));
    const counts = STATES.map((state) => [state, results.filter((r) => r.state === state).length] as const)
      .filter(([, count]) => count > 0)
      .map(([state, count]) => `${count} ${state}`);
    print(
      `${results.length} bot${results.length === 1 ? '' : 's'}: ${counts.join(', ')}${flags.dryRun ? ' (dry run)' : ''}`,
    );
    const failed = results.filter((r) => r.state === 'error').length;
    if (failed > 0) throw new CommandFailedError(`${failed} of ${results.length} bots could not be checked or fixed`);
  }

  @Option({ flags: '--dry-run', description: 'only report what would be set; change nothing' })
  parseDryRun(): boolean {
    return true;
  }

  @Option({ flags: '--url <publicUrl>', description: 'public base URL of the gateway (default: PUBLIC_URL)' })
  parseUrl(value: string): string {
    return parseBaseUrl(value);
  }
}

function row(result: SyncResult): string[] {
  return [
    `@${result.bot.username}`,
    result.state,
    result.reason,
    result.pendingUpdates === null ? '-' : String(result.pendingUpdates),
    result.lastError ?? '-',
  ];
}
