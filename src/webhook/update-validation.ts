import type { Update } from 'grammy/types';
import { BadRequestError } from '../common/errors';

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Checks that a body is a Telegram update: an object with a non-negative integer update_id and at least one
 * payload object. The payload's kind is not checked against a list, so kinds added by future Bot API versions
 * are accepted (and ignored by the dispatcher until a feature handles them).
 */
export function parseUpdate(body: unknown): Update {
  if (!isObject(body)) throw new BadRequestError('Body must be a JSON object (a Telegram update)', 'invalid_update');
  const id = body.update_id;
  if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 0) {
    throw new BadRequestError('update_id must be a non-negative integer', 'invalid_update');
  }
  const payloads = Object.keys(body).filter((key) => key !== 'update_id');
  if (payloads.length === 0 || !payloads.some((key) => isObject(body[key]))) {
    throw new BadRequestError('The update carries no payload object (e.g. "message")', 'invalid_update');
  }
  return body as unknown as Update;
}
