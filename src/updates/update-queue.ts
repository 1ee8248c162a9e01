import type { Update } from 'grammy/types';

export const UPDATE_JOB = 'update';

/** A queued update. Never carries the token: workers look the bot up by id. */
export interface UpdateJobData {
  botId: string;
  update: Update;
  /** When the webhook accepted it (ms since epoch). */
  acceptedAt: number;
}

/** The queue of partition `index`: `updates-0` … `updates-<n-1>` (BullMQ queue names may not contain ':'). */
export function partitionQueueName(index: number): string {
  return `updates-${index}`;
}

export function partitionQueueNames(partitions: number): string[] {
  return Array.from({ length: partitions }, (_, i) => partitionQueueName(i));
}

/** The update kind: the one field of an update besides update_id (e.g. "message", "callback_query"). */
export function updateKind(update: object): string {
  for (const key of Object.keys(update)) if (key !== 'update_id') return key;
  return 'unknown';
}

type Payload = {
  chat?: { id: number };
  from?: { id: number };
  user?: { id: number };
  message?: { chat?: { id: number } };
  id?: string;
  poll_id?: string;
};

/**
 * What an update must stay in order with — the same unit Telegram itself delivers sequentially: the chat for
 * messages, posts, edits, member and reaction updates; the user for callback, inline and payment queries
 * (Telegram queues those per user); the poll for poll updates. Updates with none of these (unknown kinds
 * included) are ordered with nothing but their own bot's other such updates.
 */
export function orderingKey(update: Update): string {
  const kind = updateKind(update);
  const payload = (update as unknown as Record<string, Payload | undefined>)[kind];
  switch (kind) {
    case 'callback_query':
    case 'inline_query':
    case 'chosen_inline_result':
    case 'shipping_query':
    case 'pre_checkout_query':
    case 'purchased_paid_media':
      if (payload?.from) return `user:${payload.from.id}`;
      break;
    case 'poll':
      if (payload?.id) return `poll:${payload.id}`;
      break;
    case 'poll_answer':
      if (payload?.poll_id) return `poll:${payload.poll_id}`;
      break;
  }
  if (payload?.chat) return `chat:${payload.chat.id}`;
  if (payload?.user) return `user:${payload.user.id}`;
  if (payload?.from) return `user:${payload.from.id}`;
  return 'bot';
}

/** FNV-1a: a fast, stable hash, so a chat always lands in the same partition in every process. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

export function partitionOf(botId: string, update: Update, partitions: number): number {
  return fnv1a(`${botId}|${orderingKey(update)}`) % partitions;
}
