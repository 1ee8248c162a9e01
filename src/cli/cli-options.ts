import { readFileSync } from 'node:fs';
import { webhookIpAddressProblem } from '../bots/webhook-certificate';
import { FEATURE_NAME, FEATURE_NAME_RULE } from '../config/config';
import { webhookBaseUrlProblem } from '../bots/webhook-url';
import { unknownUpdateKinds, unknownUpdateKindsMessage } from '../telegram/update-kinds';

/**
 * Parsers of option values. They throw what commander recognises as an invalid argument, so a bad value ends as
 * commander's one-line usage error naming the option (`error: option '--max-connections <n>' argument 'abc' is
 * invalid. …`) and exit status 2.
 */
export class InvalidArgumentError extends Error {
  readonly code = 'commander.invalidArgument';
  readonly exitCode = 2;
}

export function parseInteger(value: string, min: number, max: number): number {
  const trimmed = value.trim();
  if (!/^\d+$/.test(trimmed) || Number(trimmed) < min || Number(trimmed) > max) {
    throw new InvalidArgumentError(`Expected an integer from ${min} to ${max}.`);
  }
  return Number(trimmed);
}

/** A public base URL (see webhookBaseUrlProblem); trailing slashes dropped. */
export function parseBaseUrl(value: string): string {
  const problem = webhookBaseUrlProblem(value);
  if (problem) throw new InvalidArgumentError(`The URL ${problem}, such as https://gateway.example.com.`);
  return value.trim().replace(/\/+$/, '');
}

/**
 * Telegram update types, comma-separated (`message,callback_query`), each a kind of the Bot API. An empty value is an
 * empty list, which Telegram reads as "every type except chat_member, message_reaction and message_reaction_count".
 */
export function parseUpdateTypes(value: string): string[] {
  const types = value
    .split(',')
    .map((type) => type.trim())
    .filter(Boolean);
  const bad = types.find((type) => !/^[a-z_]{1,64}$/.test(type));
  if (bad !== undefined) {
    throw new InvalidArgumentError(
      'Expected update types such as message,callback_query (lowercase, comma-separated).',
    );
  }
  const unknown = unknownUpdateKinds(types);
  if (unknown.length > 0) throw new InvalidArgumentError(`${unknownUpdateKindsMessage(unknown)}.`);
  return [...new Set(types)];
}

export function parseName(value: string): string {
  const trimmed = value.trim();
  if (trimmed.length === 0 || trimmed.length > 100) {
    throw new InvalidArgumentError('Expected a name of 1 to 100 characters.');
  }
  return trimmed;
}

/** The text of a PEM file (its content is checked by the service, which never quotes it back). */
export function parseCertificateFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new InvalidArgumentError(`Cannot read the file (${code}).`);
  }
}

export function parseIpAddress(value: string): string {
  const problem = webhookIpAddressProblem(value);
  if (problem) throw new InvalidArgumentError(`The address ${problem}.`);
  return value.trim();
}

/** Feature names, comma-separated (`start,echo`); an empty value is an empty list. */
export function parseFeatureNames(value: string): string[] {
  const names = value
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean);
  if (names.some((name) => !FEATURE_NAME.test(name))) {
    throw new InvalidArgumentError(
      `Expected feature names such as start,echo (${FEATURE_NAME_RULE}; comma-separated).`,
    );
  }
  return names;
}

/** A feature's settings: a JSON object. */
export function parseSettings(value: string): Record<string, unknown> {
  let settings: unknown;
  try {
    settings = JSON.parse(value);
  } catch {
    throw new InvalidArgumentError('Expected a JSON object, such as \'{"greeting":"Ahoy"}\'.');
  }
  if (typeof settings !== 'object' || settings === null || Array.isArray(settings)) {
    throw new InvalidArgumentError('Expected a JSON object, such as \'{"greeting":"Ahoy"}\'.');
  }
  return settings as Record<string, unknown>;
}
