import { LoggerService } from '@nestjs/common';
import { LogLevel } from '../config/config';
import { redactSecrets } from '../common/redact';

/**
 * The Nest logger of a CLI run: stdout carries command output only, so logs go to stderr, and only warnings and
 * errors (e.g. "could not announce a bot change over Redis"), as one `warning: …` line each. LOG_LEVEL can make
 * it quieter (error, fatal, silent), never chattier: a CLI run has no use for the server's info logs.
 */
export class CliLogger implements LoggerService {
  private readonly showWarnings: boolean;
  private readonly showErrors: boolean;

  constructor(level: LogLevel) {
    this.showWarnings = !['error', 'fatal', 'silent'].includes(level);
    this.showErrors = level !== 'silent';
  }

  log(): void {}
  debug(): void {}
  verbose(): void {}

  warn(message: unknown): void {
    if (this.showWarnings) this.write(message);
  }

  error(message: unknown): void {
    if (this.showErrors) this.write(message);
  }

  fatal(message: unknown): void {
    if (this.showErrors) this.write(message);
  }

  private write(message: unknown): void {
    process.stderr.write(`warning: ${redactSecrets(textOf(message)).replace(/\s*\n\s*/g, ' ')}\n`);
  }
}

function textOf(message: unknown): string {
  if (message instanceof Error) return message.message;
  if (typeof message === 'object' && message !== null) {
    const { msg, err, reason } = message as { msg?: unknown; err?: unknown; reason?: unknown };
    const detail = typeof err === 'string' ? err : ((err as { message?: unknown } | undefined)?.message ?? reason);
    if (typeof msg === 'string') return typeof detail === 'string' ? `${msg}: ${detail}` : msg;
    return JSON.stringify(message);
  }
  return String(message);
}
