import { Command, Option, SubCommand } from 'nest-commander';
import { BotAdminService } from '../../bots/bot-admin.service';
import { BotView } from '../../bots/bot.view';
import { BOT_ID_HELP, CliCommand } from '../cli-command';
import { cliPrincipal } from '../cli-principal';
import { UsageError } from '../cli-errors';
import { parseFeatureNames, parseName } from '../cli-options';
import { botLabel, formatBot, print, printJson, table, yesNo } from '../cli-output';
import { readToken } from '../token-input';
import { BotsFeaturesCommand } from './features.commands';

const LIST_PAGE_SIZE = 100;
const TOKEN_OPTION_HELP =
  'the bot token; without it, the token is read from standard input (prompted without echo at a terminal). ' +
  'Prefer standard input: a token on the command line ends up in shell history and process lists';

@SubCommand({
  name: 'add',
  description: 'Register a bot: checks the token with Telegram (getMe) and stores it encrypted',
})
export class BotsAddCommand extends CliCommand {
  constructor(private readonly admin: BotAdminService) {
    super();
  }

  async run(
    _args: string[],
    flags: { name?: string; token?: string; tenant?: string; json?: boolean; features?: string[] },
  ): Promise<void> {
    const token = flags.token ?? (await readToken());
    const features = flags.features?.map((name) => ({ name }));
    const bot = await this.admin.register(cliPrincipal(), { token, name: flags.name, tenant: flags.tenant, features });
    if (flags.json) return printJson(bot);
    print(`Registered ${botLabel(bot)}`);
    print(formatBot(bot));
    print(`Next: tg-gateway set-webhook @${bot.username}`);
  }

  @Option({ flags: '--name <name>', description: "display name for operators (default: the bot's first name)" })
  parseName(value: string): string {
    return parseName(value);
  }

  @Option({ flags: '--token <token>', description: TOKEN_OPTION_HELP })
  parseToken(value: string): string {
    return value;
  }

  @Option({
    flags: '--features <names>',
    description:
      'the features it runs, comma-separated, in order (default: DEFAULT_BOT_FEATURES); settings: bots features add',
  })
  parseFeatures(value: string): string[] {
    return parseFeatureNames(value);
  }

  @Option({ flags: '--tenant <tenant>', description: 'the owning tenant (name or id; default: the default tenant)' })
  parseTenant(value: string): string {
    return value;
  }

  @Option({ flags: '--json', description: 'print the bot as JSON' })
  parseJson(): boolean {
    return true;
  }
}

@SubCommand({
  name: 'list',
  description: 'List the registered bots (all pages)',
})
export class BotsListCommand extends CliCommand {
  constructor(private readonly admin: BotAdminService) {
    super();
  }

  async run(_args: string[], flags: { json?: boolean; enabled?: boolean; disabled?: boolean }): Promise<void> {
    if (flags.enabled && flags.disabled) throw new UsageError('--enabled and --disabled cannot be used together');
    const enabled = flags.enabled ? true : flags.disabled ? false : undefined;
    const bots: BotView[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.admin.list(cliPrincipal(), { cursor, limit: LIST_PAGE_SIZE, enabled });
      bots.push(...page.items);
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    if (flags.json) return printJson(bots);
    print(
      table(
        ['ID', 'TELEGRAM ID', 'USERNAME', 'NAME', 'ENABLED', 'TOKEN'],
        bots.map((bot) => [
          bot.id,
          bot.telegramId,
          `@${bot.username}`,
          bot.name,
          yesNo(bot.enabled),
          bot.revoked ? 'revoked' : 'ok',
        ]),
      ),
    );
    print(`${bots.length} bot${bots.length === 1 ? '' : 's'}`);
  }

  @Option({ flags: '--json', description: 'print a JSON array' })
  parseJson(): boolean {
    return true;
  }

  @Option({ flags: '--enabled', description: 'only enabled bots' })
  parseEnabled(): boolean {
    return true;
  }

  @Option({ flags: '--disabled', description: 'only disabled bots' })
  parseDisabled(): boolean {
    return true;
  }
}

@SubCommand({
  name: 'show',
  arguments: '<botId>',
  argsDescription: { botId: BOT_ID_HELP },
  description: 'Show one bot',
})
export class BotsShowCommand extends CliCommand {
  constructor(private readonly admin: BotAdminService) {
    super();
  }

  async run([botId]: string[], flags: { json?: boolean }): Promise<void> {
    const bot = await this.admin.get(cliPrincipal(), botId);
    if (flags.json) printJson(bot);
    else print(formatBot(bot));
  }

  @Option({ flags: '--json', description: 'print JSON' })
  parseJson(): boolean {
    return true;
  }
}

@SubCommand({
  name: 'enable',
  arguments: '<botId>',
  argsDescription: { botId: BOT_ID_HELP },
  description: 'Enable a bot: the gateway accepts and processes its updates again',
})
export class BotsEnableCommand extends CliCommand {
  constructor(private readonly admin: BotAdminService) {
    super();
  }

  async run([botId]: string[]): Promise<void> {
    print(`Enabled ${botLabel(await this.admin.update(cliPrincipal(), botId, { enabled: true }))}`);
  }
}

@SubCommand({
  name: 'disable',
  arguments: '<botId>',
  argsDescription: { botId: BOT_ID_HELP },
  description:
    'Disable a bot: its webhook answers 404 (Telegram keeps retrying) and its queued updates wait until it is enabled',
})
export class BotsDisableCommand extends CliCommand {
  constructor(private readonly admin: BotAdminService) {
    super();
  }

  async run([botId]: string[]): Promise<void> {
    print(`Disabled ${botLabel(await this.admin.update(cliPrincipal(), botId, { enabled: false }))}`);
  }
}

@SubCommand({
  name: 'remove',
  arguments: '<botId>',
  argsDescription: { botId: BOT_ID_HELP },
  description: 'Delete a bot from the gateway; its webhook at Telegram is removed first (best effort)',
})
export class BotsRemoveCommand extends CliCommand {
  constructor(private readonly admin: BotAdminService) {
    super();
  }

  async run([botId]: string[]): Promise<void> {
    const bot = await this.admin.get(cliPrincipal(), botId);
    const result = await this.admin.remove(cliPrincipal(), bot.id);
    print(`Removed ${botLabel(bot)}`);
    print(
      result.webhookRemoved
        ? 'Webhook at Telegram removed: yes'
        : `Webhook at Telegram removed: no (${result.webhookError ?? 'unknown error'})`,
    );
  }
}

@SubCommand({
  name: 'replace-token',
  arguments: '<botId>',
  argsDescription: { botId: BOT_ID_HELP },
  description: 'Replace a revoked token; the new token must belong to the same Telegram bot',
})
export class BotsReplaceTokenCommand extends CliCommand {
  constructor(private readonly admin: BotAdminService) {
    super();
  }

  async run([botId]: string[], flags: { token?: string }): Promise<void> {
    const token = flags.token ?? (await readToken('New bot token: '));
    const bot = await this.admin.replaceToken(cliPrincipal(), botId, token);
    // A webhook on the old token's URL is moved by the service; when that fails, it warns (on stderr).
    print(`Token replaced for ${botLabel(bot)}`);
  }

  @Option({ flags: '--token <token>', description: TOKEN_OPTION_HELP })
  parseToken(value: string): string {
    return value;
  }

  @Option({ flags: '--tenant <tenant>', description: 'the owning tenant (name or id; default: the default tenant)' })
  parseTenant(value: string): string {
    return value;
  }
}

@SubCommand({
  name: 'albums',
  arguments: '<botId> <onOrOff>',
  argsDescription: { botId: BOT_ID_HELP, onOrOff: '"on" or "off"' },
  description:
    'Switch albums on or off: with "on", the messages of one media group reach the handlers as one album (ctx.album)',
})
export class BotsAlbumsCommand extends CliCommand {
  constructor(private readonly admin: BotAdminService) {
    super();
  }

  async run([botId, onOrOff]: string[]): Promise<void> {
    if (onOrOff !== 'on' && onOrOff !== 'off') throw new UsageError(`expected "on" or "off", got "${onOrOff}"`);
    const bot = await this.admin.update(cliPrincipal(), botId, { albums: onOrOff === 'on' });
    print(`Albums ${onOrOff} for ${botLabel(bot)}`);
  }
}

@Command({
  name: 'bots',
  description: 'Register, list, show, enable, disable and remove bots; choose their features; switch albums on or off',
  subCommands: [
    BotsAddCommand,
    BotsListCommand,
    BotsShowCommand,
    BotsEnableCommand,
    BotsDisableCommand,
    BotsAlbumsCommand,
    BotsRemoveCommand,
    BotsReplaceTokenCommand,
    BotsFeaturesCommand,
  ],
  // Lets run() name an unknown subcommand instead of commander's "too many arguments".
  allowExcessArgs: true,
})
export class BotsCommand extends CliCommand {
  run([unknown]: string[]): Promise<void> {
    if (unknown !== undefined) {
      throw new UsageError(`unknown command 'bots ${unknown}' (see tg-gateway bots --help)`);
    }
    // No subcommand: the help, on stderr, as a usage error.
    this.command.help({ error: true });
  }
}
