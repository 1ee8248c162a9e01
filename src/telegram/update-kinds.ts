/**
 * The update kinds of the Bot API as of grammY 1.46 (@grammyjs/types 5.0, Bot API 10.x), in the order the Bot API
 * documents them. An update carries `update_id` and exactly one of these; kinds added later still pass through the
 * gateway (counted as `other` in metrics).
 */
export const UPDATE_KINDS = [
  'message',
  'edited_message',
  'channel_post',
  'edited_channel_post',
  'business_connection',
  'business_message',
  'edited_business_message',
  'deleted_business_messages',
  'guest_message',
  'stopped_message_generation',
  'message_reaction',
  'message_reaction_count',
  'inline_query',
  'chosen_inline_result',
  'callback_query',
  'shipping_query',
  'pre_checkout_query',
  'purchased_paid_media',
  'poll',
  'poll_answer',
  'my_chat_member',
  'chat_member',
  'chat_join_request',
  'chat_boost',
  'removed_chat_boost',
  'managed_bot',
  'subscription',
] as const;

export type UpdateKind = (typeof UPDATE_KINDS)[number];

/** Kinds Telegram sends only when `allowed_updates` names them (an empty list means "all the others"). */
export const OPT_IN_UPDATE_KINDS: readonly UpdateKind[] = ['chat_member', 'message_reaction', 'message_reaction_count'];

const KNOWN = new Set<string>(UPDATE_KINDS);

export function isKnownUpdateKind(kind: string): kind is UpdateKind {
  return KNOWN.has(kind);
}

/** A metric label for an update kind: the known kinds by name, anything else `other` (labels stay bounded). */
export function updateKindLabel(kind: string): UpdateKind | 'other' {
  return isKnownUpdateKind(kind) ? kind : 'other';
}

/** The names in `kinds` that are not update kinds of the Bot API (for a clear error on allowed_updates). */
export function unknownUpdateKinds(kinds: readonly string[]): string[] {
  return kinds.filter((kind) => !KNOWN.has(kind));
}

/** One line that explains a bad `allowed_updates` list. */
export function unknownUpdateKindsMessage(unknown: readonly string[]): string {
  return (
    `unknown update type${unknown.length === 1 ? '' : 's'} ${unknown.map((k) => `"${k}"`).join(', ')}; ` +
    `known types: ${UPDATE_KINDS.join(', ')}`
  );
}
