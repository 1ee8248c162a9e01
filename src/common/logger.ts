import { LoggerService } from '@nestjs/common';
import pino, { DestinationStream, Logger } from 'pino';
import pinoPretty from 'pino-pretty';
import { LogLevel, NodeEnv } from '../config/config';
import { redactSecrets } from './redact';

export type LogFormat = 'json' | 'pretty';

/**
 * JSON lines, what log collectors read, except for a person at a terminal during development: stdout is a TTY and
 * NODE_ENV is not production. Output piped or redirected (`| jq`, a file, a container runtime) stays JSON.
 */
export function logFormatFor(nodeEnv: NodeEnv, stdoutIsTty: boolean | undefined): LogFormat {
  return stdoutIsTty === true && nodeEnv !== 'production' ? 'pretty' : 'json';
}

/**
 * pino behind Nest's LoggerService. Every string argument passes through redactSecrets, so a token that slips
 * into a message (a library error quoting a URL, say) is removed before it is written. `pretty` formats each line
 * for reading with pino-pretty, in this thread and synchronously, so the last lines before an exit are not lost.
 */
export function createRootLogger(level: LogLevel, destination?: DestinationStream, format: LogFormat = 'json'): Logger {
  const options: pino.LoggerOptions = {
    name: 'tg-gateway',
    level,
    base: { pid: process.pid },
    hooks: {
      logMethod(args, method) {
        const clean = args.map((arg: unknown) => {
          if (typeof arg === 'string') return redactSecrets(arg);
          if (arg instanceof Error) return serializeError(arg);
          return arg;
        });
        method.apply(this, clean as Parameters<typeof method>);
      },
    },
    // Call sites pass `err: serializeError(error)` already; serialising that object again would print
    // "[object Object]" instead of the message.
    serializers: { err: (value: unknown) => (value instanceof Error ? serializeError(value) : value) },
  };
  if (format === 'pretty') {
    const pretty = pinoPretty({
      destination: destination ?? 1,
      sync: true,
      colorize: destination === undefined ? undefined : false,
      translateTime: 'SYS:HH:MM:ss.l',
      ignore: 'pid,hostname,name',
    });
    return pino(options, pretty);
  }
  return destination ? pino(options, destination) : pino(options);
}

export function serializeError(error: unknown): Record<string, unknown> {
  if (!(error instanceof Error)) return { message: redactSecrets(String(error)) };
  return {
    type: error.name,
    message: redactSecrets(error.message),
    stack: error.stack ? redactSecrets(error.stack) : undefined,
    ...(error.cause ? { cause: serializeError(error.cause) } : {}),
  };
}

export class AppLogger implements LoggerService {
  constructor(readonly pino: Logger) {}

  log(message: unknown, ...params: unknown[]) {
    this.write('info', message, params);
  }
  error(message: unknown, ...params: unknown[]) {
    this.write('error', message, params);
  }
  warn(message: unknown, ...params: unknown[]) {
    this.write('warn', message, params);
  }
  debug(message: unknown, ...params: unknown[]) {
    this.write('debug', message, params);
  }
  verbose(message: unknown, ...params: unknown[]) {
    this.write('trace', message, params);
  }
  fatal(message: unknown, ...params: unknown[]) {
    this.write('fatal', message, params);
  }

  private write(level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace', message: unknown, params: unknown[]) {
    // Nest passes the context as the last string parameter, and an error's stack before it.
    const context = typeof params[params.length - 1] === 'string' ? (params.pop() as string) : undefined;
    const fields: Record<string, unknown> = context ? { context } : {};
    const stack = params.find((p): p is string => typeof p === 'string');
    if (message instanceof Error) {
      fields.err = serializeError(message);
      this.pino[level](fields, redactSecrets(message.message));
    } else if (typeof message === 'object' && message !== null) {
      this.pino[level]({ ...fields, ...message });
    } else {
      if (stack) fields.stack = redactSecrets(stack);
      this.pino[level](fields, redactSecrets(String(message)));
    }
  }
}
