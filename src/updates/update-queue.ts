import { Context } from 'grammy';
import type { Update } from 'grammy/types';

/** An update as it waits in its conversation's mailbox (JSON). Never carries the token: workers look the bot up. */
export interface MailboxEntry {
  /** `<bot id>-<update_id>`: names the update in logs and dead letters. */
  id: string;
  /** When the webhook accepted it (ms since epoch). */
  at: number;
  /** Failed attempts so far, and one line per failed attempt (shown with dead letters). */
  n?: number;
  log?: string[];
  update: Update;
}

/**
 * The start of an entry's JSON up to its update (`{"id":…,"at":…,` and its attempts): unique per entry, and sent to
 * Redis instead of the whole entry when a worker names the entry it is done with.
 */
export function headKey(raw: string): string {
  const end = raw.indexOf('"update":');
  return end > 0 ? raw.slice(0, end) : raw;
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
  id?: string;
  poll_id?: string;
};

/**
 * The conversation an update belongs to: what it must stay in order with, and never run at the same time as.
 * The chat whenever the update has one (grammY's `ctx.chat`, so a callback query's message chat counts), else the
 * user (`ctx.from`), else the poll, else the bot. The session key (`sessionKey` in dispatcher.ts) is built from the
 * same `ctx.chat` and `ctx.from`, so two updates that share a session always share a conversation. Kinds grammY
 * does not know yet fall back to their payload's `chat`, `from` or `user`.
 */
export function conversationKey(update: Update): string {
  const ctx = new Context(update, undefined as never, undefined as never);
  const payload = (update as unknown as Record<string, Payload | undefined>)[updateKind(update)];
  const chat = ctx.chat?.id ?? payload?.chat?.id;
  if (chat !== undefined) return `c${chat}`;
  const user = ctx.from?.id ?? payload?.from?.id ?? payload?.user?.id;
  if (user !== undefined) return `u${user}`;
  const poll = payload?.id ?? payload?.poll_id;
  if (typeof poll === 'string' && updateKind(update).startsWith('poll')) return `p${poll}`;
  return 'b';
}

/* ---- The layout before 1.0 (64 BullMQ partition queues): kept only to move what is still queued there. ---- */

/** The queue of partition `index` in the old layout: `updates-0` … `updates-<n-1>`. */
export function partitionQueueName(index: number): string {
  return `updates-${index}`;
}

/** The old ordering key (callback and inline queries by user): only to find an old dedupe key's partition. */
function legacyOrderingKey(update: Update): string {
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

function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** The partition an update went to in the old layout (its dedupe key lives there for 25 h after the upgrade). */
export function legacyPartitionOf(botId: string, update: Update, partitions: number): number {
  return fnv1a(`${botId}|${legacyOrderingKey(update)}`) % partitions;
}
