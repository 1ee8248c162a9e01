import type { Update } from 'grammy/types';

export const UPDATES_QUEUE = 'updates';
export const UPDATE_JOB = 'update';

/** A queued update. Never carries the token: workers look the bot up by id. */
export interface UpdateJobData {
  botId: string;
  update: Update;
  /** When the webhook accepted it (ms since epoch). */
  acceptedAt: number;
}

/** The update kind: the one field of an update besides update_id (e.g. "message", "callback_query"). */
export function updateKind(update: object): string {
  for (const key of Object.keys(update)) if (key !== 'update_id') return key;
  return 'unknown';
}
