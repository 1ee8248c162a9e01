import type { Context, SessionFlavor } from 'grammy';
import type { Message } from 'grammy/types';

export type FormState = { step: 'name' } | { step: 'age'; name: string };

/** Per-conversation state kept in Redis. Undefined when the conversation has none. */
export interface SessionData {
  form?: FormState;
  /** The `/count` feature's counter. */
  count?: number;
}

/**
 * `album`: for a bot with albums on, the messages of the update's media group in the order Telegram sent them (the
 * update's own message first); the handlers run once for the whole group. Undefined for every other update.
 */
export interface AlbumFlavor {
  album?: Message[];
}

export type GatewayContext = Context & SessionFlavor<SessionData | undefined> & AlbumFlavor;
