import { AppError, DatabaseUnavailableError } from '../common/errors';
import { redactSecrets } from '../common/redact';
import { DecryptionError } from '../bots/token-crypto';
import { ConfigError } from '../config/config';
import { redactDatabaseUrl } from '../infra/database/migrator';
import { FeatureModuleError } from '../features/feature-module.error';

/** Exit status of a run: 0 success, 1 the operation failed, 2 the command line was wrong. */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** The command line is wrong in a way commander cannot see (conflicting flags, no token given). */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** The command ran to its end, but its outcome counts as a failure (sync-webhooks left a bot in state error). */
export class CommandFailedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CommandFailedError';
  }
}

export interface Failure {
  /** The line to print on stderr (without the `error: ` prefix), or null when commander already printed it. */
  message: string | null;
  exitCode: number;
}

/**
 * Turns anything a command threw into one line for stderr and an exit status. Every message passes through
 * redactSecrets, and the database URL is shown without its password, so no secret reaches the terminal.
 */
export function describeFailure(error: unknown, databaseUrl?: string): Failure {
  if (isCommanderError(error)) {
    // Commander already wrote the help, the version or its own "error: …" line; exit code 0 means help or version
    // was asked for (`--help`, `help <command>`), anything else is a usage error.
    const success = (error as { exitCode?: unknown }).exitCode === 0;
    return { message: null, exitCode: success ? EXIT_OK : EXIT_USAGE };
  }
  if (error instanceof UsageError) return { message: oneLine(error.message), exitCode: EXIT_USAGE };
  if (error instanceof ConfigError) {
    return { message: oneLine(`invalid configuration: ${error.problems.join('; ')}`), exitCode: EXIT_FAILURE };
  }
  if (error instanceof DatabaseUnavailableError) {
    const where = databaseUrl ? ` (DATABASE_URL=${redactDatabaseUrl(databaseUrl)})` : ' (DATABASE_URL)';
    const cause = lastLine(rootCauseMessage(error.cause));
    const detail = cause ? `: ${withoutPassword(cause, databaseUrl)}` : '';
    return { message: oneLine(`database unreachable${where}${detail}`), exitCode: EXIT_FAILURE };
  }
  if (error instanceof DecryptionError) {
    const why =
      error.reason === 'unknown_key'
        ? 'TOKEN_ENCRYPTION_KEYS has no key with the id it was written with'
        : error.reason === 'authentication_failed'
          ? 'the key of that id in TOKEN_ENCRYPTION_KEYS is not the one it was written with'
          : 'the stored value is malformed';
    return {
      message: `cannot decrypt a stored token or secret: ${why} (use the same keys as the gateway)`,
      exitCode: EXIT_FAILURE,
    };
  }
  const prismaCode = (error as { code?: unknown } | null)?.code;
  if (error instanceof Error && typeof prismaCode === 'string' && /^P\d{4}$/.test(prismaCode)) {
    const hint = prismaCode === 'P2021' ? ' (is the database migrated? npm run db:migrate)' : '';
    return {
      message: oneLine(
        `database error ${prismaCode}: ${withoutPassword(lastLine(error.message) ?? '', databaseUrl)}${hint}`,
      ),
      exitCode: EXIT_FAILURE,
    };
  }
  if (error instanceof AppError || error instanceof CommandFailedError || error instanceof FeatureModuleError) {
    return { message: oneLine(error.message), exitCode: EXIT_FAILURE };
  }
  const message = error instanceof Error ? error.message : String(error);
  // A driver error may quote the database URL: never with its password.
  return { message: oneLine(`unexpected error: ${withoutPassword(message, databaseUrl)}`), exitCode: EXIT_FAILURE };
}

/** Commander stopped after printing the help or the version, as asked (`--help`, `help <command>`, `--version`). */
export function isHelpOrVersion(error: unknown): boolean {
  return isCommanderError(error) && (error as { exitCode?: unknown }).exitCode === 0;
}

/** nest-commander bundles its own commander, so its CommanderError class is recognised by its codes. */
function isCommanderError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('commander.');
}

/** The innermost useful message of an error chain (driver errors wrap the socket error that says what failed). */
function rootCauseMessage(error: unknown, depth = 0): string | undefined {
  if (!(error instanceof Error) || depth > 10) return undefined;
  const inner =
    error instanceof AggregateError && error.errors.length > 0
      ? rootCauseMessage(error.errors[0], depth + 1)
      : rootCauseMessage(error.cause, depth + 1);
  if (inner) return inner;
  const code = (error as { code?: unknown }).code;
  return error.message || (typeof code === 'string' ? code : undefined) || undefined;
}

/** Prisma prefixes the reason with the failed call and a code frame; the reason is the last line. */
function lastLine(message: string | undefined): string | undefined {
  return message
    ?.split('\n')
    .map((line) => line.trim())
    .filter(Boolean)
    .pop();
}

function withoutPassword(message: string, databaseUrl?: string): string {
  if (!databaseUrl) return message;
  try {
    const password = decodeURIComponent(new URL(databaseUrl).password);
    return password ? message.split(password).join('***') : message;
  } catch {
    return message;
  }
}

function oneLine(message: string): string {
  return redactSecrets(message)
    .replace(/\s*\n\s*/g, ' ')
    .trim();
}
