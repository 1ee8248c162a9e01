import { Command, Option, SubCommand } from 'nest-commander';
import { AuditQueryService } from '../../bots/audit-query.service';
import { ApiKeysService, ApiKeyView } from '../../tenants/api-keys.service';
import { TenantsService, TenantView } from '../../tenants/tenants.service';
import { QuotaSettings, Scope, SCOPES } from '../../tenants/tenant.types';
import { CliCommand } from '../cli-command';
import { UsageError } from '../cli-errors';
import { cliPrincipal } from '../cli-principal';
import { InvalidArgumentError, parseInteger, parseName } from '../cli-options';
import { fields, print, printJson, table } from '../cli-output';

const TENANT_HELP = "the tenant's name or id";
const QUOTA_MAX = 100_000_000;

/** A quota option: a number, or `default` (kept as the word: commander drops a null option value). */
function quota(value: string): number | 'default' {
  return value.trim() === 'default' ? 'default' : parseInteger(value, 0, QUOTA_MAX);
}

function formatTenant(tenant: TenantView): string {
  const limit = (n: number, set: number | null) => `${n === 0 ? 'no limit' : n}${set === null ? ' (default)' : ''}`;
  return fields([
    ['id', tenant.id],
    ['name', tenant.name],
    ['display name', tenant.displayName ?? '-'],
    ['max bots', limit(tenant.quotas.maxBots, tenant.quotaSettings.maxBots)],
    [
      'max pending updates per bot',
      limit(tenant.quotas.maxPendingUpdatesPerBot, tenant.quotaSettings.maxPendingUpdatesPerBot),
    ],
    [
      'admin requests per minute',
      limit(tenant.quotas.adminRequestsPerMinute, tenant.quotaSettings.adminRequestsPerMinute),
    ],
    ['created', tenant.createdAt],
  ]);
}

/** Options shared by `tenants add` and `quotas set`: an integer, or `default` for the configured default. */
abstract class QuotaOptions extends CliCommand {
  @Option({ flags: '--max-bots <n>', description: 'bots the tenant may register (0: no limit; default: the default)' })
  parseMaxBots(value: string): number | 'default' {
    return quota(value);
  }

  @Option({ flags: '--max-pending-updates <n>', description: 'updates one of its bots may have waiting' })
  parseMaxPending(value: string): number | 'default' {
    return quota(value);
  }

  @Option({ flags: '--admin-requests-per-minute <n>', description: 'admin API requests per minute of each key' })
  parseAdminRate(value: string): number | 'default' {
    return quota(value);
  }
}

interface QuotaFlags {
  maxBots?: number | 'default';
  maxPendingUpdates?: number | 'default';
  adminRequestsPerMinute?: number | 'default';
}

function quotasOf(flags: QuotaFlags): Partial<QuotaSettings> {
  const quotas: Partial<QuotaSettings> = {};
  const value = (flag: number | 'default') => (flag === 'default' ? null : flag);
  if (flags.maxBots !== undefined) quotas.maxBots = value(flags.maxBots);
  if (flags.maxPendingUpdates !== undefined) quotas.maxPendingUpdatesPerBot = value(flags.maxPendingUpdates);
  if (flags.adminRequestsPerMinute !== undefined) quotas.adminRequestsPerMinute = value(flags.adminRequestsPerMinute);
  return quotas;
}

@SubCommand({ name: 'add', arguments: '<name>', description: 'Create a tenant (name: a-z, 0-9 and -)' })
export class TenantsAddCommand extends QuotaOptions {
  constructor(private readonly tenants: TenantsService) {
    super();
  }

  async run([name]: string[], flags: QuotaFlags & { displayName?: string; json?: boolean }): Promise<void> {
    const tenant = await this.tenants.create(cliPrincipal(), {
      name,
      displayName: flags.displayName ?? null,
      ...quotasOf(flags),
    });
    if (flags.json) return printJson(tenant);
    print(`Created tenant ${tenant.name}`);
    print(formatTenant(tenant));
    print(`Next: tg-gateway keys create ${tenant.name} --name <what for> --scopes read,write`);
  }

  @Option({ flags: '--display-name <name>', description: 'a name for people' })
  parseDisplayName(value: string): string {
    return parseName(value);
  }

  @Option({ flags: '--json', description: 'print JSON' })
  parseJson(): boolean {
    return true;
  }
}

@SubCommand({ name: 'list', description: 'List tenants' })
export class TenantsListCommand extends CliCommand {
  constructor(private readonly tenants: TenantsService) {
    super();
  }

  async run(_args: string[], flags: { json?: boolean }): Promise<void> {
    const all: TenantView[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.tenants.list(cliPrincipal(), { cursor, limit: 200 });
      all.push(...page.items);
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    if (flags.json) return printJson(all);
    print(
      table(
        ['ID', 'NAME', 'DISPLAY NAME'],
        all.map((t) => [t.id, t.name, t.displayName ?? '-']),
      ),
    );
    print(`${all.length} tenant${all.length === 1 ? '' : 's'}`);
  }

  @Option({ flags: '--json', description: 'print a JSON array' })
  parseJson(): boolean {
    return true;
  }
}

@SubCommand({
  name: 'show',
  arguments: '<tenant>',
  argsDescription: { tenant: TENANT_HELP },
  description: 'Show a tenant',
})
export class TenantsShowCommand extends CliCommand {
  constructor(private readonly tenants: TenantsService) {
    super();
  }

  async run([ref]: string[], flags: { json?: boolean }): Promise<void> {
    const tenant = await this.tenants.get(cliPrincipal(), ref);
    if (flags.json) printJson(tenant);
    else print(formatTenant(tenant));
  }

  @Option({ flags: '--json', description: 'print JSON' })
  parseJson(): boolean {
    return true;
  }
}

@SubCommand({
  name: 'remove',
  arguments: '<tenant>',
  argsDescription: { tenant: TENANT_HELP },
  description: 'Remove a tenant and its keys (refused while it owns bots)',
})
export class TenantsRemoveCommand extends CliCommand {
  constructor(private readonly tenants: TenantsService) {
    super();
  }

  async run([ref]: string[]): Promise<void> {
    await this.tenants.remove(cliPrincipal(), ref);
    print(`Removed tenant ${ref}`);
  }
}

@Command({
  name: 'tenants',
  description: 'Create, list, show and remove tenants',
  subCommands: [TenantsAddCommand, TenantsListCommand, TenantsShowCommand, TenantsRemoveCommand],
  allowExcessArgs: true,
})
export class TenantsCommand extends CliCommand {
  run([unknown]: string[]): Promise<void> {
    if (unknown !== undefined)
      throw new UsageError(`unknown command 'tenants ${unknown}' (see tg-gateway tenants --help)`);
    this.command.help({ error: true });
  }
}

function parseScopes(value: string): Scope[] {
  const scopes = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (scopes.length === 0 || scopes.some((s) => !SCOPES.includes(s as Scope))) {
    throw new InvalidArgumentError(`Expected some of ${SCOPES.join(', ')}, comma-separated.`);
  }
  return scopes as Scope[];
}

function parseExpiry(value: string): Date {
  const date = new Date(value);
  if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(date.getTime())) {
    throw new InvalidArgumentError('Expected a date such as 2027-01-31 or 2027-01-31T12:00:00Z.');
  }
  return date;
}

@SubCommand({
  name: 'create',
  arguments: '<tenant>',
  argsDescription: { tenant: TENANT_HELP },
  description: 'Create an API key for a tenant; the key is printed this once (only a hash is kept)',
})
export class KeysCreateCommand extends CliCommand {
  constructor(private readonly keys: ApiKeysService) {
    super();
  }

  async run(
    [ref]: string[],
    flags: { name?: string; scopes?: Scope[]; expires?: Date; json?: boolean },
  ): Promise<void> {
    if (!flags.name) throw new UsageError('give --name <what the key is for>');
    const created = await this.keys.create(cliPrincipal(), ref, {
      name: flags.name,
      scopes: flags.scopes ?? ['read', 'write'],
      expiresAt: flags.expires ?? null,
    });
    if (flags.json) return printJson(created);
    print(`Created key ${created.apiKey.id} (${created.apiKey.scopes.join(', ')}). It is shown this once:`);
    print(created.key);
  }

  @Option({ flags: '--name <name>', description: 'what the key is for' })
  parseName(value: string): string {
    return parseName(value);
  }

  @Option({ flags: '--scopes <scopes>', description: `comma-separated: ${SCOPES.join(', ')} (default: read,write)` })
  parseScopes(value: string): Scope[] {
    return parseScopes(value);
  }

  @Option({ flags: '--expires <date>', description: 'expiry (ISO 8601 date or time); no expiry by default' })
  parseExpires(value: string): Date {
    return parseExpiry(value);
  }

  @Option({ flags: '--json', description: 'print JSON (with the key)' })
  parseJson(): boolean {
    return true;
  }
}

@SubCommand({
  name: 'list',
  arguments: '<tenant>',
  argsDescription: { tenant: TENANT_HELP },
  description: "List a tenant's API keys (never their secrets)",
})
export class KeysListCommand extends CliCommand {
  constructor(private readonly keys: ApiKeysService) {
    super();
  }

  async run([ref]: string[], flags: { json?: boolean }): Promise<void> {
    const keys: ApiKeyView[] = await this.keys.list(cliPrincipal(), ref);
    if (flags.json) return printJson(keys);
    print(
      table(
        ['ID', 'NAME', 'SCOPES', 'CREATED', 'LAST USED', 'EXPIRES', 'REVOKED'],
        keys.map((k) => [
          k.id,
          k.name,
          k.scopes.join(','),
          k.createdAt,
          k.lastUsedAt ?? '-',
          k.expiresAt ?? '-',
          k.revokedAt ?? '-',
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
  arguments: '<tenant> <keyId>',
  argsDescription: { tenant: TENANT_HELP, keyId: 'the key id (the part after tgw_)' },
  description: 'Revoke an API key: refused by every API process within 5 s',
})
export class KeysRevokeCommand extends CliCommand {
  constructor(private readonly keys: ApiKeysService) {
    super();
  }

  async run([ref, keyId]: string[]): Promise<void> {
    const key = await this.keys.revoke(cliPrincipal(), ref, keyId);
    print(`Revoked key ${key.id} (${key.name})`);
  }
}

@Command({
  name: 'keys',
  description: "Create, list and revoke tenants' API keys",
  subCommands: [KeysCreateCommand, KeysListCommand, KeysRevokeCommand],
  allowExcessArgs: true,
})
export class KeysCommand extends CliCommand {
  run([unknown]: string[]): Promise<void> {
    if (unknown !== undefined) throw new UsageError(`unknown command 'keys ${unknown}' (see tg-gateway keys --help)`);
    this.command.help({ error: true });
  }
}

@SubCommand({
  name: 'set',
  arguments: '<tenant>',
  argsDescription: { tenant: TENANT_HELP },
  description: "Set a tenant's quotas: a number (0: no limit) or 'default'; options left out keep their value",
})
export class QuotasSetCommand extends QuotaOptions {
  constructor(private readonly tenants: TenantsService) {
    super();
  }

  async run([ref]: string[], flags: QuotaFlags & { json?: boolean }): Promise<void> {
    const quotas = quotasOf(flags);
    if (Object.keys(quotas).length === 0) {
      throw new UsageError('give --max-bots, --max-pending-updates or --admin-requests-per-minute');
    }
    const tenant = await this.tenants.setQuotas(cliPrincipal(), ref, quotas);
    if (flags.json) return printJson(tenant);
    print(formatTenant(tenant));
  }

  @Option({ flags: '--json', description: 'print JSON' })
  parseJson(): boolean {
    return true;
  }
}

@Command({ name: 'quotas', description: "Set tenants' quotas", subCommands: [QuotasSetCommand], allowExcessArgs: true })
export class QuotasCommand extends CliCommand {
  run([unknown]: string[]): Promise<void> {
    if (unknown !== undefined)
      throw new UsageError(`unknown command 'quotas ${unknown}' (see tg-gateway quotas --help)`);
    this.command.help({ error: true });
  }
}

@Command({ name: 'audit', description: 'The audit trail: who changed what, newest first' })
export class AuditCommand extends CliCommand {
  constructor(private readonly audit: AuditQueryService) {
    super();
  }

  async run(
    _args: string[],
    flags: { bot?: string; action?: string; tenant?: string; since?: Date; limit?: number; json?: boolean },
  ): Promise<void> {
    const page = await this.audit.list(cliPrincipal(), { ...flags, limit: flags.limit ?? 50 });
    if (flags.json) return printJson(page.items);
    print(
      table(
        ['ID', 'AT', 'ACTOR', 'ACTION', 'TARGET', 'OUTCOME'],
        page.items.map((e) => [e.id, e.at, e.actor, e.action, e.target, e.outcome]),
      ),
    );
  }

  @Option({ flags: '--bot <botId>', description: 'one bot' })
  parseBot(value: string): string {
    return value;
  }

  @Option({ flags: '--tenant <tenant>', description: 'one tenant' })
  parseTenant(value: string): string {
    return value;
  }

  @Option({ flags: '--action <action>', description: 'one action, e.g. bot.register, webhook.set, key.revoke' })
  parseAction(value: string): string {
    return value;
  }

  @Option({ flags: '--since <date>', description: 'from this moment (ISO 8601)' })
  parseSince(value: string): Date {
    return parseExpiry(value);
  }

  @Option({ flags: '--limit <n>', description: 'most records (default 50)' })
  parseLimit(value: string): number {
    return parseInteger(value, 1, 200);
  }

  @Option({ flags: '--json', description: 'print a JSON array' })
  parseJson(): boolean {
    return true;
  }
}
