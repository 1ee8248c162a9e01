import { describe, expect, it } from 'vitest';
import {
  OPT_IN_UPDATE_KINDS,
  UPDATE_KINDS,
  unknownUpdateKinds,
  unknownUpdateKindsMessage,
  updateKindLabel,
} from './update-kinds';

describe('update kinds', () => {
  it('knows every kind of the current Bot API, the newest included', () => {
    for (const kind of [
      'business_connection',
      'business_message',
      'edited_business_message',
      'deleted_business_messages',
      'message_reaction',
      'message_reaction_count',
      'chat_boost',
      'removed_chat_boost',
      'purchased_paid_media',
      'managed_bot',
      'guest_message',
      'subscription',
    ]) {
      expect(UPDATE_KINDS).toContain(kind);
    }
    expect(OPT_IN_UPDATE_KINDS).toEqual(['chat_member', 'message_reaction', 'message_reaction_count']);
  });

  it('labels unknown kinds "other" so that metrics stay bounded', () => {
    expect(updateKindLabel('message')).toBe('message');
    expect(updateKindLabel('subscription')).toBe('subscription');
    expect(updateKindLabel('future_kind')).toBe('other');
    expect(updateKindLabel('__proto__')).toBe('other');
  });

  it('names the unknown kinds of an allowed_updates list', () => {
    expect(unknownUpdateKinds(['message', 'chat_member', 'messages', 'reaction'])).toEqual(['messages', 'reaction']);
    expect(unknownUpdateKindsMessage(['messages'])).toMatch(/^unknown update type "messages"; known types: message, /);
  });
});
