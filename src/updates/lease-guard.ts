import type { Update } from 'grammy/types';

/** Thrown when a worker may no longer act for a conversation: its hold on it lapsed, or it is shutting down. */
export class LeaseLostError extends Error {
  constructor(message = 'This worker no longer holds the conversation') {
    super(message);
    this.name = 'LeaseLostError';
  }
}

/** Thrown instead of calling Telegram while the bot is in a flood wait that this process already knows of. */
export class FloodWaitError extends Error {
  constructor(readonly retryAfterMs: number) {
    super(`The bot is in Telegram's flood wait for ${Math.ceil(retryAfterMs / 1000)} s more; not called`);
    this.name = 'FloodWaitError';
  }
}

/** What a handler's Bot API calls and its session write check first (see ConversationWorker). */
export interface LeaseGuard {
  /** Throws LeaseLostError or FloodWaitError when the call must not be made. */
  check(): void;
}

/**
 * The guard of each update being run, found by the update object grammY hands to the middleware. A WeakMap: the
 * dispatcher runs inline too (benchmarks), where no update has a guard.
 */
export const leaseGuards = new WeakMap<Update, LeaseGuard>();
