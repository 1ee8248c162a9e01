import { Injectable } from '@nestjs/common';
import { Command, Option, SubCommand } from 'nest-commander';
import { DestinationAdminService, DestinationView } from '../../destinations/destination-admin.service';
import { DESTINATION_KINDS, DestinationKind } from '../../destinations/destination.types';
import { BOT_ID_HELP, CliCommand } from '../cli-command';
import { UsageError } from '../cli-errors';
import { cliPrincipal } from '../cli-principal';
import { print, printJson, table } from '../cli-output';

const DESTINATION_HELP = 'the destination id (tg-gateway destinations list <botId>)';

interface JsonFlag {
  json?: boolean;
}

function printDestinations(views: DestinationView[], json?: boolean): void {
  if (json) return printJson(views);
  if (views.length === 0) return print('(no destinations)');
  print(
    table(
      ['ID', 'KIND', 'TARGET', 'KINDS', 'STATE'],
      views.map((d) => [
        d.id,
        d.kind,
        d.url ?? d.streamKey ?? '',
        d.updateKinds?.join(',') ?? 'all',
        d.enabled ? (d.failuresInARow > 0 ? `failing (${d.failuresInARow} in a row)` : 'enabled') : 'disabled',
      ]),
    ),
  );
}

function printOne(view: DestinationView, json?: boolean): void {
  if (json) return printJson(view);
  printDestinations([view]);
  if (view.disabledReason) print(`Disabled: ${view.disabledReason}`);
  if (view.streamKey) print(`Stream: ${view.streamKey} (at most ~${view.streamMaxLen} entries)`);
}

function parseKinds(value: string): string[] {
  return value
    .split(',')
    .map((k) => k.trim())
    .filter(Boolean);
}

/** The shared `--json` flag of every destinations command (Injectable: its subclasses inherit the constructor). */
@Injectable()
abstract class DestinationsCommand extends CliCommand {
  constructor(protected readonly destinations: DestinationAdminService) {
    super();
  }

  @Option({ flags: '--json', description: 'print JSON' })
  parseJson(): boolean {
    return true;
  }
}

@SubCommand({
  name: 'add',
  arguments: '<botId> <kind>',
  argsDescription: { botId: BOT_ID_HELP, kind: 'http (signed POSTs to --url) or stream (a Redis stream)' },
  description: "Add a destination for a bot's updates; an http one's signing secret is printed this once",
})
export class DestinationsAddCommand extends DestinationsCommand {
  async run(
    [botId, kind]: string[],
    flags: JsonFlag & { url?: string; kinds?: string[]; name?: string; maxLen?: number },
  ): Promise<void> {
    if (!DESTINATION_KINDS.includes(kind as DestinationKind))
      throw new UsageError(`kind must be one of ${DESTINATION_KINDS.join(', ')}`);
    const { destination, secret } = await this.destinations.create(cliPrincipal(), botId, {
      kind: kind as DestinationKind,
      url: flags.url,
      name: flags.name,
      updateKinds: flags.kinds,
      streamMaxLen: flags.maxLen,
    });
    if (flags.json) return printJson({ destination, secret });
    printOne(destination);
    if (secret) print(`Signing secret (shown once; verify deliveries with it): ${secret}`);
  }

  @Option({ flags: '--url <url>', description: 'http: the endpoint' })
  parseUrl(value: string): string {
    return value;
  }

  @Option({ flags: '--kinds <kinds>', description: 'update kinds to forward, comma-separated (default: all)' })
  parseKinds(value: string): string[] {
    return parseKinds(value);
  }

  @Option({ flags: '--name <name>', description: 'a name for people' })
  parseName(value: string): string {
    return value;
  }

  @Option({ flags: '--max-len <n>', description: 'stream: most entries kept (default DESTINATION_STREAM_MAXLEN)' })
  parseMaxLen(value: string): number {
    if (!/^\d+$/.test(value)) throw new UsageError('--max-len must be a whole number');
    return Number(value);
  }
}

@SubCommand({
  name: 'list',
  arguments: '<botId>',
  argsDescription: { botId: BOT_ID_HELP },
  description: "A bot's destinations",
})
export class DestinationsListCommand extends DestinationsCommand {
  async run([botId]: string[], flags: JsonFlag): Promise<void> {
    printDestinations(await this.destinations.list(cliPrincipal(), botId), flags.json);
  }
}

@SubCommand({
  name: 'show',
  arguments: '<botId> <destinationId>',
  argsDescription: { botId: BOT_ID_HELP, destinationId: DESTINATION_HELP },
  description: 'Show a destination, with its breaker state and latest attempts',
})
export class DestinationsShowCommand extends DestinationsCommand {
  async run([botId, id]: string[], flags: JsonFlag): Promise<void> {
    const view = await this.destinations.get(cliPrincipal(), botId, id);
    const attempts = view.kind === 'http' ? await this.destinations.attempts(cliPrincipal(), botId, id, 10) : [];
    if (flags.json) return printJson({ ...view, attempts });
    printOne(view);
    if (attempts.length > 0) {
      print('');
      print(
        table(
          ['AT', 'WEBHOOK-ID', 'ATTEMPT', 'OUTCOME', 'STATUS', 'MS', 'ERROR'],
          attempts.map((a) => [
            a.at,
            a.messageId,
            String(a.attempt),
            a.outcome,
            String(a.status ?? '-'),
            String(a.ms),
            a.error ?? '',
          ]),
        ),
      );
    }
  }
}

@SubCommand({
  name: 'test',
  arguments: '<botId> <destinationId>',
  argsDescription: { botId: BOT_ID_HELP, destinationId: DESTINATION_HELP },
  description: 'Send a test delivery now (type "test") and print the result',
})
export class DestinationsTestCommand extends DestinationsCommand {
  async run([botId, id]: string[], flags: JsonFlag): Promise<void> {
    const result = await this.destinations.test(cliPrincipal(), botId, id);
    if (flags.json) return printJson(result);
    print(
      result.ok
        ? `OK${result.status ? ` (HTTP ${result.status})` : ''} in ${result.ms} ms`
        : `Failed: ${result.error} (${result.ms} ms)`,
    );
    if (!result.ok) process.exitCode = 1;
  }
}

@SubCommand({
  name: 'disable',
  arguments: '<botId> <destinationId>',
  argsDescription: { botId: BOT_ID_HELP, destinationId: DESTINATION_HELP },
  description: 'Disable a destination: new updates are not forwarded to it, its waiting deliveries wait',
})
export class DestinationsDisableCommand extends DestinationsCommand {
  async run([botId, id]: string[], flags: JsonFlag): Promise<void> {
    printOne(await this.destinations.update(cliPrincipal(), botId, id, { enabled: false }), flags.json);
  }
}

@SubCommand({
  name: 'enable',
  arguments: '<botId> <destinationId>',
  argsDescription: { botId: BOT_ID_HELP, destinationId: DESTINATION_HELP },
  description: 'Enable a destination again (its breaker starts closed; waiting deliveries go on)',
})
export class DestinationsEnableCommand extends DestinationsCommand {
  async run([botId, id]: string[], flags: JsonFlag): Promise<void> {
    printOne(await this.destinations.update(cliPrincipal(), botId, id, { enabled: true }), flags.json);
  }
}

@SubCommand({
  name: 'remove',
  arguments: '<botId> <destinationId>',
  argsDescription: { botId: BOT_ID_HELP, destinationId: DESTINATION_HELP },
  description: 'Remove a destination (deliveries still waiting for it are dropped)',
})
export class DestinationsRemoveCommand extends DestinationsCommand {
  async run([botId, id]: string[], flags: JsonFlag): Promise<void> {
    await this.destinations.remove(cliPrincipal(), botId, id);
    if (flags.json) printJson({ removed: id });
    else print(`Removed destination ${id}`);
  }
}

@SubCommand({
  name: 'rotate-secret',
  arguments: '<botId> <destinationId>',
  argsDescription: { botId: BOT_ID_HELP, destinationId: DESTINATION_HELP },
  description: 'New signing secret (printed once); the old one keeps signing for DESTINATION_SECRET_OVERLAP_SECONDS',
})
export class DestinationsRotateSecretCommand extends DestinationsCommand {
  async run([botId, id]: string[], flags: JsonFlag): Promise<void> {
    const { destination, secret } = await this.destinations.rotateSecret(cliPrincipal(), botId, id);
    if (flags.json) return printJson({ destination, secret });
    print(`New signing secret (shown once): ${secret}`);
    print(`The previous secret signs too until ${destination.previousSecretExpiresAt ?? 'now'}`);
  }
}

@SubCommand({
  name: 'replay',
  arguments: '<botId> <destinationId> [webhookIds...]',
  argsDescription: {
    botId: BOT_ID_HELP,
    destinationId: DESTINATION_HELP,
    webhookIds: 'single deliveries by webhook-id (instead of --from/--to)',
  },
  description: 'Deliver again a time range (--from, --to) or single deliveries, from the log of attempts',
})
export class DestinationsReplayCommand extends DestinationsCommand {
  async run([botId, id, ...ids]: string[], flags: JsonFlag & { from?: Date; to?: Date }): Promise<void> {
    if (ids.length === 0 && !flags.from) throw new UsageError('give --from (and --to), or webhook ids');
    const result = await this.destinations.replay(cliPrincipal(), botId, id, {
      from: flags.from,
      to: flags.to,
      messageIds: ids.length > 0 ? ids : undefined,
    });
    if (flags.json) printJson(result);
    else print(`Queued ${result.queued} deliveries again`);
  }

  @Option({ flags: '--from <time>', description: 'start of the range (ISO 8601, e.g. 2026-12-07T10:00:00Z)' })
  parseFrom(value: string): Date {
    return parseTime(value, '--from');
  }

  @Option({ flags: '--to <time>', description: 'end of the range (default: now)' })
  parseTo(value: string): Date {
    return parseTime(value, '--to');
  }
}

function parseTime(value: string, flag: string): Date {
  const at = new Date(value);
  if (Number.isNaN(at.getTime())) throw new UsageError(`${flag} must be a time like 2026-12-07T10:00:00Z`);
  return at;
}

@Command({
  name: 'destinations',
  description: "Forward a bot's updates to your own services: signed HTTP endpoints or Redis streams",
  subCommands: [
    DestinationsAddCommand,
    DestinationsListCommand,
    DestinationsShowCommand,
    DestinationsTestCommand,
    DestinationsDisableCommand,
    DestinationsEnableCommand,
    DestinationsRemoveCommand,
    DestinationsRotateSecretCommand,
    DestinationsReplayCommand,
  ],
  allowExcessArgs: true,
})
export class DestinationsCliCommand extends CliCommand {
  run([unknown]: string[]): Promise<void> {
    if (unknown !== undefined) {
      throw new UsageError(`unknown command 'destinations ${unknown}' (see tg-gateway destinations --help)`);
    }
    this.command.help({ error: true });
  }
}
