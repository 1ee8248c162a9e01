import type { Context, SessionFlavor } from 'grammy';

export type FormState = { step: 'name' } | { step: 'age'; name: string };

/** Per-conversation state kept in Redis. Undefined when the conversation has none. */
export interface SessionData {
  form?: FormState;
  /** The `/count` feature's counter. */
  count?: number;
  /** Feature modules keep their own state under keys of their choosing. */
  [key: string]: unknown;
}

/** What features may read about where they run. */
export interface FeatureFlavor {
  /**
   * The bot's settings for the feature that is running (validated against its schema, defaults filled in), or `{}`
   * when the bot has none. Each feature sees its own, also after `await next()`.
   */
  settings: Readonly<Record<string, unknown>>;
}

export type GatewayContext = Context & SessionFlavor<SessionData | undefined> & FeatureFlavor;
