import { Command, Help, Option } from 'nest-commander';
import { BotAdminService } from '../../bots/bot-admin.service';
import { BOT_ID_HELP, CliCommand } from '../cli-command';
import { UsageError } from '../cli-errors';
import { cliPrincipal } from '../cli-principal';
import { parseBaseUrl, parseCertificateFile, parseInteger, parseIpAddress, parseUpdateTypes } from '../cli-options';
import { botLabel, formatWebhookStatus, print, printJson, wrap } from '../cli-output';

interface SetWebhookFlags {
  url?: string;
  dropPendingUpdates?: boolean;
  maxConnections?: number;
  allowedUpdates?: string[];
  certificate?: string;
  removeCertificate?: boolean;
  ipAddress?: string;
  removeIpAddress?: boolean;
}

@Command({
  name: 'set-webhook',
  arguments: '<botId>',
  argsDescription: { botId: BOT_ID_HELP },
  description: "Register the bot's webhook at Telegram (URL from PUBLIC_URL or --url, with the bot's secret)",
})
export class SetWebhookCommand extends CliCommand {
  constructor(private readonly admin: BotAdminService) {
    super();
  }

  async run([botId]: string[], flags: SetWebhookFlags): Promise<void> {
    if (flags.certificate !== undefined && flags.removeCertificate) {
      throw new UsageError('--certificate and --remove-certificate exclude each other');
    }
    if (flags.ipAddress !== undefined && flags.removeIpAddress) {
      throw new UsageError('--ip-address and --remove-ip-address exclude each other');
    }
    const status = await this.admin.setWebhook(cliPrincipal(), botId, {
      url: flags.url,
      dropPendingUpdates: flags.dropPendingUpdates,
      maxConnections: flags.maxConnections,
      allowedUpdates: flags.allowedUpdates,
      certificate: flags.removeCertificate ? null : flags.certificate,
      ipAddress: flags.removeIpAddress ? null : flags.ipAddress,
    });
    print(`Webhook set for ${botId}`);
    print(formatWebhookStatus(status));
  }

  @Help('after')
  helpAfter(): string {
    return wrap(
      '\nTelegram is given <url>/webhook/<token> and the secret_token the gateway checks on every delivery. ' +
        'Without --max-connections Telegram uses its default (40); without --allowed-updates it keeps the ' +
        'previous setting.\n--certificate uploads a self-signed certificate (the PEM file of the certificate, never ' +
        'the key); the gateway keeps it and sends it again with every later setWebhook (secret rotation, new token, ' +
        'sync-webhooks) until --remove-certificate. --ip-address works the same way.',
    );
  }

  @Option({ flags: '--url <publicUrl>', description: 'public base URL of the gateway (default: PUBLIC_URL)' })
  parseUrl(value: string): string {
    return parseBaseUrl(value);
  }

  @Option({ flags: '--drop-pending-updates', description: 'drop the updates Telegram has queued for the bot' })
  parseDropPendingUpdates(): boolean {
    return true;
  }

  @Option({ flags: '--max-connections <n>', description: 'simultaneous HTTPS connections Telegram may open, 1-100' })
  parseMaxConnections(value: string): number {
    return parseInteger(value, 1, 100);
  }

  @Option({
    flags: '--certificate <file>',
    description: 'upload this self-signed certificate (PEM) with setWebhook; kept for later calls',
  })
  parseCertificate(value: string): string {
    return parseCertificateFile(value);
  }

  @Option({ flags: '--remove-certificate', description: 'stop uploading a certificate (Telegram then needs a CA one)' })
  parseRemoveCertificate(): boolean {
    return true;
  }

  @Option({ flags: '--ip-address <ipv4>', description: "fixed IPv4 address for Telegram instead of the host's DNS" })
  parseIpAddress(value: string): string {
    return parseIpAddress(value);
  }

  @Option({ flags: '--remove-ip-address', description: 'let Telegram resolve the host again' })
  parseRemoveIpAddress(): boolean {
    return true;
  }

  @Option({
    flags: '--allowed-updates <types>',
    description: 'update types to receive, comma-separated (e.g. message,callback_query; "" for the default set)',
  })
  parseAllowedUpdates(value: string): string[] {
    return parseUpdateTypes(value);
  }
}

@Command({
  name: 'delete-webhook',
  arguments: '<botId>',
  argsDescription: { botId: BOT_ID_HELP },
  description: "Remove the bot's webhook at Telegram (the gateway then receives nothing for it)",
})
export class DeleteWebhookCommand extends CliCommand {
  constructor(private readonly admin: BotAdminService) {
    super();
  }

  async run([botId]: string[], flags: { dropPendingUpdates?: boolean }): Promise<void> {
    const status = await this.admin.deleteWebhook(cliPrincipal(), botId, {
      dropPendingUpdates: flags.dropPendingUpdates,
    });
    print(`Webhook deleted for ${botId}`);
    print(formatWebhookStatus(status));
  }

  @Option({ flags: '--drop-pending-updates', description: 'drop the updates Telegram has queued for the bot' })
  parseDropPendingUpdates(): boolean {
    return true;
  }
}

@Command({
  name: 'webhook-info',
  arguments: '<botId>',
  argsDescription: { botId: BOT_ID_HELP },
  description: "Show the bot's webhook at Telegram: URL (token redacted), pending updates, last error",
})
export class WebhookInfoCommand extends CliCommand {
  constructor(private readonly admin: BotAdminService) {
    super();
  }

  async run([botId]: string[], flags: { json?: boolean }): Promise<void> {
    const status = await this.admin.webhookInfo(cliPrincipal(), botId);
    if (flags.json) printJson(status);
    else print(formatWebhookStatus(status));
  }

  @Option({ flags: '--json', description: 'print JSON' })
  parseJson(): boolean {
    return true;
  }
}

@Command({
  name: 'rotate-secret',
  arguments: '<botId>',
  argsDescription: { botId: BOT_ID_HELP },
  description: 'Give the bot a new webhook secret and register it with Telegram',
})
export class RotateSecretCommand extends CliCommand {
  constructor(private readonly admin: BotAdminService) {
    super();
  }

  @Help('after')
  helpAfter(): string {
    return wrap('\nThe previous secret stays accepted for WEBHOOK_SECRET_OVERLAP_SECONDS, so no delivery is refused.');
  }

  async run([botId]: string[]): Promise<void> {
    const result = await this.admin.rotateSecret(cliPrincipal(), botId);
    print(`Webhook secret rotated for ${botLabel(result.bot)}`);
    print(
      result.webhookUpdated
        ? 'Telegram now signs deliveries with the new secret.'
        : 'The bot has no webhook at Telegram; the new secret is used from the next set-webhook.',
    );
    print(`The previous secret is accepted until ${result.previousSecretValidUntil}.`);
  }
}
