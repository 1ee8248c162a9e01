import { Command, Option, SubCommand } from 'nest-commander';
import { ProxyCredentialsService, ProxyCredentialView } from '../../proxy/proxy-credentials.service';
import { BOT_ID_HELP, CliCommand } from '../cli-command';
import { UsageError } from '../cli-errors';
import { parseName } from '../cli-options';
import { cliPrincipal } from '../cli-principal';
import { print, printJson, table } from '../cli-output';

const CREDENTIAL_ID_HELP = 'the credential id (16 hex digits, as listed)';

@SubCommand({
  name: 'create',
  arguments: '<botId>',
  argsDescription: { botId: BOT_ID_HELP },
  description: 'Create a Bot API proxy credential for a bot; it is printed this once (only a hash is kept)',
})
export class ProxyCredentialCreateCommand extends CliCommand {
  constructor(private readonly credentials: ProxyCredentialsService) {
    super();
  }

  async run([ref]: string[], flags: { name?: string; json?: boolean }): Promise<void> {
    const created = await this.credentials.create(cliPrincipal(), ref, { name: flags.name ?? null });
    if (flags.json) return printJson(created);
    print(`Created proxy credential ${created.proxyCredential.id}; API root ${created.apiRoot}. Shown this once:`);
    print(created.credential);
  }

  @Option({ flags: '--name <name>', description: 'what the credential is for' })
  parseName(value: string): string {
    return parseName(value);
  }

  @Option({ flags: '--json', description: 'print JSON (with the credential)' })
  parseJson(): boolean {
    return true;
  }
}

@SubCommand({
  name: 'list',
  arguments: '<botId>',
  argsDescription: { botId: BOT_ID_HELP },
  description: "List a bot's proxy credentials (never their secrets)",
})
export class ProxyCredentialListCommand extends CliCommand {
  constructor(private readonly credentials: ProxyCredentialsService) {
    super();
  }

  async run([ref]: string[], flags: { json?: boolean }): Promise<void> {
    const credentials: ProxyCredentialView[] = await this.credentials.list(cliPrincipal(), ref);
    if (flags.json) return printJson(credentials);
    print(
      table(
        ['ID', 'NAME', 'CREATED', 'CREATED BY', 'LAST USED', 'REVOKED'],
        credentials.map((c) => [
          c.id,
          c.name ?? '-',
          c.createdAt,
          c.createdBy,
          c.lastUsedAt ?? '-',
          c.revokedAt ?? '-',
        ]),
      ),
    );
  }

  @Option({ flags: '--json', description: 'print a JSON array' })
  parseJson(): boolean {
    return true;
  }
}

@SubCommand({
  name: 'revoke',
  arguments: '<botId> <credentialId>',
  argsDescription: { botId: BOT_ID_HELP, credentialId: CREDENTIAL_ID_HELP },
  description: 'Revoke a proxy credential: refused by every API process within 5 s',
})
export class ProxyCredentialRevokeCommand extends CliCommand {
  constructor(private readonly credentials: ProxyCredentialsService) {
    super();
  }

  async run([ref, credentialId]: string[]): Promise<void> {
    const revoked = await this.credentials.revoke(cliPrincipal(), ref, credentialId);
    print(`Revoked proxy credential ${revoked.id}${revoked.name ? ` (${revoked.name})` : ''}`);
  }
}

@SubCommand({
  name: 'rotate',
  arguments: '<botId> <credentialId>',
  argsDescription: { botId: BOT_ID_HELP, credentialId: CREDENTIAL_ID_HELP },
  description: 'Replace a proxy credential: a new one is printed this once, the old one is revoked',
})
export class ProxyCredentialRotateCommand extends CliCommand {
  constructor(private readonly credentials: ProxyCredentialsService) {
    super();
  }

  async run([ref, credentialId]: string[], flags: { json?: boolean }): Promise<void> {
    const rotated = await this.credentials.rotate(cliPrincipal(), ref, credentialId);
    if (flags.json) return printJson(rotated);
    print(
      `Revoked proxy credential ${rotated.revoked.id}; created ${rotated.proxyCredential.id} ` +
        `(API root ${rotated.apiRoot}). Shown this once:`,
    );
    print(rotated.credential);
  }

  @Option({ flags: '--json', description: 'print JSON (with the new credential)' })
  parseJson(): boolean {
    return true;
  }
}

@Command({
  name: 'proxy-credential',
  description: "Create, list, revoke and rotate bots' Bot API proxy credentials",
  subCommands: [
    ProxyCredentialCreateCommand,
    ProxyCredentialListCommand,
    ProxyCredentialRevokeCommand,
    ProxyCredentialRotateCommand,
  ],
  allowExcessArgs: true,
})
export class ProxyCredentialCommand extends CliCommand {
  run([unknown]: string[]): Promise<void> {
    if (unknown !== undefined) {
      throw new UsageError(`unknown command 'proxy-credential ${unknown}' (see tg-gateway proxy-credential --help)`);
    }
    this.command.help({ error: true });
  }
}
