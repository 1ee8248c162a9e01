import { Command, Option, SubCommand } from 'nest-commander';
import { BotAdminService } from '../../bots/bot-admin.service';
import { DeadLetterAdminService } from '../../dead-letters/dead-letter-admin.service';
import { DeadLettersService, DeadLetterView } from '../../updates/dead-letters.service';
import { BOT_ID_HELP, CliCommand } from '../cli-command';
import { cliPrincipal } from '../cli-principal';
import { UsageError } from '../cli-errors';
import { fields, print, printJson, table } from '../cli-output';

const ID_HELP = 'the dead letter id, as `failed list` shows it';
const PAGE_SIZE = 200;

function row(letter: DeadLetterView): string[] {
  return [letter.id, letter.failedAt ?? '', letter.kind, String(letter.updateId), letter.reason];
}

@SubCommand({ name: 'list', description: 'List updates that failed for good, newest first' })
export class FailedListCommand extends CliCommand {
  constructor(
    private readonly deadLetters: DeadLettersService,
    private readonly admin: BotAdminService,
  ) {
    super();
  }

  async run(_args: string[], flags: { bot?: string; json?: boolean }): Promise<void> {
    const botId = flags.bot ? (await this.admin.get(cliPrincipal(), flags.bot)).id : undefined;
    const letters: DeadLetterView[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.deadLetters.list({ botId, cursor, limit: PAGE_SIZE });
      letters.push(...page.items);
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    if (flags.json) return printJson(letters);
    print(table(['ID', 'FAILED AT', 'KIND', 'UPDATE', 'REASON'], letters.map(row)));
    print(`${letters.length} dead letter${letters.length === 1 ? '' : 's'}`);
  }

  @Option({ flags: '--bot <botId>', description: `only this bot's: ${BOT_ID_HELP}` })
  parseBot(value: string): string {
    return value;
  }

  @Option({ flags: '--json', description: 'print a JSON array' })
  parseJson(): boolean {
    return true;
  }
}

@SubCommand({ name: 'show', arguments: '<id>', argsDescription: { id: ID_HELP }, description: 'Show a dead letter' })
export class FailedShowCommand extends CliCommand {
  constructor(private readonly deadLetters: DeadLettersService) {
    super();
  }

  async run([id]: string[], flags: { json?: boolean }): Promise<void> {
    const letter = await this.deadLetters.get(id);
    if (flags.json) return printJson(letter);
    print(
      fields([
        ['id', letter.id],
        ['bot', letter.botId],
        ['update', `${letter.updateId} (${letter.kind})`],
        ['accepted', letter.acceptedAt ?? ''],
        ['failed', letter.failedAt ?? ''],
        ['reason', letter.reason],
      ]),
    );
    for (const attempt of letter.attempts) print(`  ${attempt}`);
    print(JSON.stringify(letter.update, null, 2));
  }

  @Option({ flags: '--json', description: 'print JSON' })
  parseJson(): boolean {
    return true;
  }
}

@SubCommand({
  name: 'retry',
  arguments: '[id]',
  argsDescription: { id: ID_HELP },
  description: 'Queue a dead letter again (or all of a bot with --bot)',
})
export class FailedRetryCommand extends CliCommand {
  constructor(
    private readonly deadLetters: DeadLetterAdminService,
    private readonly admin: BotAdminService,
  ) {
    super();
  }

  async run([id]: string[], flags: { bot?: string }): Promise<void> {
    if (!id === !flags.bot) throw new UsageError('give either a dead letter id or --bot <botId>');
    if (id) {
      await this.deadLetters.retry(cliPrincipal(), id);
      print(`Queued again: ${id}`);
      return;
    }
    const bot = await this.admin.get(cliPrincipal(), flags.bot!);
    const retried = await this.deadLetters.retryAll(cliPrincipal(), bot.id);
    print(`Queued again: ${retried} dead letter(s) of @${bot.username}`);
  }

  @Option({ flags: '--bot <botId>', description: `every dead letter of this bot: ${BOT_ID_HELP}` })
  parseBot(value: string): string {
    return value;
  }
}

@SubCommand({
  name: 'purge',
  arguments: '[id]',
  argsDescription: { id: ID_HELP },
  description: 'Delete dead letters: one, all of a bot (--bot), or every one (--all)',
})
export class FailedPurgeCommand extends CliCommand {
  constructor(private readonly deadLetters: DeadLetterAdminService) {
    super();
  }

  async run([id]: string[], flags: { bot?: string; all?: boolean }): Promise<void> {
    if ([id, flags.bot, flags.all].filter(Boolean).length !== 1) {
      throw new UsageError('give exactly one of: a dead letter id, --bot <botId>, --all');
    }
    const purged = await this.deadLetters.purge(cliPrincipal(), id ? { id } : { bot: flags.bot });
    print(`Deleted ${purged} dead letter(s)`);
  }

  @Option({ flags: '--bot <botId>', description: `every dead letter of this bot: ${BOT_ID_HELP}` })
  parseBot(value: string): string {
    return value;
  }

  @Option({ flags: '--all', description: 'every dead letter of every bot' })
  parseAll(): boolean {
    return true;
  }
}

@Command({
  name: 'failed',
  description: 'Dead letters: updates that failed for good (list, show, retry, purge)',
  subCommands: [FailedListCommand, FailedShowCommand, FailedRetryCommand, FailedPurgeCommand],
})
export class FailedCommand extends CliCommand {
  run([unknown]: string[]): Promise<void> {
    if (unknown !== undefined) {
      throw new UsageError(`unknown command 'failed ${unknown}' (see tg-gateway failed --help)`);
    }
    this.command.help({ error: true });
  }
}
