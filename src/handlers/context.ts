import type { Context, SessionFlavor } from 'grammy';
import type { Message } from 'grammy/types';

export type FormState = { step: 'name' } | { step: 'age'; name: string };

/** Per-conversation state kept in Redis. Undefined when the conversation has none. */
export interface SessionData {
  form?: FormState;
  /** The `/count` feature's counter. */
  count?: number;
  /** Feature modules keep their own state under keys of their choosing. */
  [key: string]: unknown;
}

/**
 * `album`: for a bot with albums on, the messages of the update's media group in the order Telegram sent them (the
 * update's own message first); the handlers run once for the whole group. Undefined for every other update.
 */
export interface AlbumFlavor {
  album?: Message[];
}

/** What features may read about where they run. */
export interface FeatureFlavor {
  /**
   * The bot's settings for the feature that is running (validated against its schema, defaults filled in), or `{}`
   * when the bot has none. Each feature sees its own, also after `await next()`.
   */
  settings: Readonly<Record<string, unknown>>;
}

export type GatewayContext = Context & SessionFlavor<SessionData | undefined> & AlbumFlavor & FeatureFlavor;
