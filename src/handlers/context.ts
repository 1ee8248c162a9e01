import type { Context, SessionFlavor } from 'grammy';

export type FormState = { step: 'name' } | { step: 'age'; name: string };

/** Per-conversation state kept in Redis. Undefined when the conversation has none. */
export interface SessionData {
  form?: FormState;
  /** The `/count` feature's counter. */
  count?: number;
}

export type GatewayContext = Context & SessionFlavor<SessionData | undefined>;
