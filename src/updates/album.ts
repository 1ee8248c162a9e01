import type { Message, Update } from 'grammy/types';
import type { MailboxEntry } from './update-queue';

/** The kinds of update whose messages Telegram groups into albums (`media_group_id`). */
const ALBUM_KINDS = ['message', 'channel_post', 'business_message'] as const;

/** The update's message and media group, when it is part of an album; else null. */
export function mediaGroupOf(update: Update): { kind: string; group: string; message: Message } | null {
  for (const kind of ALBUM_KINDS) {
    const message = update[kind];
    if (message?.media_group_id !== undefined) return { kind, group: message.media_group_id, message };
  }
  return null;
}

/**
 * An album as the worker found it in the conversation's mailbox: the later parts of the head's media group (raw, as
 * stored, so that the ack can remove exactly them) and the time the last part was accepted.
 */
export interface AlbumParts {
  parts: { raw: string; entry: MailboxEntry }[];
  lastAcceptedAt: number;
}

/**
 * The parts of `head`'s media group among the entries behind it in its mailbox (`raws`, the head first), in mailbox
 * order. Entries of other conversations' media groups, or of no group, are skipped: they keep their places and run
 * after the album.
 */
export function albumPartsOf(head: MailboxEntry, raws: string[]): AlbumParts {
  const own = mediaGroupOf(head.update)!;
  const parts: AlbumParts['parts'] = [];
  let lastAcceptedAt = head.at;
  for (const raw of raws.slice(1)) {
    if (!raw.includes(own.group)) continue;
    const entry = JSON.parse(raw) as MailboxEntry;
    const part = mediaGroupOf(entry.update);
    if (part?.group !== own.group || part.kind !== own.kind) continue;
    parts.push({ raw, entry });
    lastAcceptedAt = Math.max(lastAcceptedAt, entry.at);
  }
  return { parts, lastAcceptedAt };
}

/**
 * The album each running update stands for (its own message first, then the others in the order they were
 * accepted), found by the update object grammY hands to the middleware, which puts it on `ctx.album`.
 */
export const albums = new WeakMap<Update, Message[]>();
