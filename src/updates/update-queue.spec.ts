import type { Update } from 'grammy/types';
import { describe, expect, it } from 'vitest';
import { UPDATE_KINDS } from '../telegram/update-kinds';
import { conversationKey, legacyPartitionOf, partitionQueueName } from './update-queue';

const u = (body: object) => ({ update_id: 1, ...body }) as unknown as Update;
const chat = { id: -100, type: 'group' };
const from = { id: 42, is_bot: false, first_name: 'A' };

describe('conversationKey', () => {
  it('is the chat whenever the update has one, a callback query message chat included', () => {
    expect(conversationKey(u({ message: { chat, from } }))).toBe('c-100');
    expect(conversationKey(u({ edited_message: { chat, from } }))).toBe('c-100');
    expect(conversationKey(u({ channel_post: { chat } }))).toBe('c-100');
    expect(conversationKey(u({ my_chat_member: { chat, from } }))).toBe('c-100');
    expect(conversationKey(u({ callback_query: { id: 'x', from, message: { chat } } }))).toBe('c-100');
    expect(conversationKey(u({ message_reaction: { chat, user: from } }))).toBe('c-100');
  });

  it('is the user when there is no chat, then the poll, then the bot', () => {
    expect(conversationKey(u({ callback_query: { id: 'x', from, inline_message_id: 'i' } }))).toBe('u42');
    expect(conversationKey(u({ inline_query: { id: 'x', from, query: '' } }))).toBe('u42');
    expect(conversationKey(u({ poll_answer: { poll_id: 'p1', user: from } }))).toBe('u42');
    expect(conversationKey(u({ poll: { id: 'p1' } }))).toBe('pp1');
    expect(conversationKey(u({ future_kind: { chat } }))).toBe('c-100');
    expect(conversationKey(u({ future_kind: { from } }))).toBe('u42');
    expect(conversationKey(u({ future_kind: { something: 1 } }))).toBe('b');
  });
});

describe('conversationKey of every update kind of the current Bot API', () => {
  const user = { id: 77, is_bot: false, first_name: 'U' };
  const priv = { id: 77, type: 'private' };
  const message = { message_id: 1, date: 1, chat, from };
  // Each kind with the conversation it belongs to (the chat when there is one, else the user).
  const cases: [string, object, string][] = [
    ['message', message, 'c-100'],
    ['edited_message', message, 'c-100'],
    ['channel_post', { message_id: 1, date: 1, chat: { id: -200, type: 'channel' } }, 'c-200'],
    ['edited_channel_post', { message_id: 1, date: 1, chat: { id: -200, type: 'channel' } }, 'c-200'],
    ['business_connection', { id: 'bc', user, user_chat_id: 77, date: 1, is_enabled: true }, 'u77'],
    ['business_message', { ...message, chat: priv, business_connection_id: 'bc' }, 'c77'],
    ['edited_business_message', { ...message, chat: priv, business_connection_id: 'bc' }, 'c77'],
    ['deleted_business_messages', { business_connection_id: 'bc', chat: priv, message_ids: [1] }, 'c77'],
    ['guest_message', { ...message, guest_query_id: 'g1' }, 'c-100'],
    ['stopped_message_generation', { chat: priv, draft_id: 5 }, 'c77'],
    ['message_reaction', { chat, message_id: 1, user, date: 1, old_reaction: [], new_reaction: [] }, 'c-100'],
    ['message_reaction_count', { chat, message_id: 1, date: 1, reactions: [] }, 'c-100'],
    ['inline_query', { id: 'q', from: user, query: '', offset: '' }, 'u77'],
    ['chosen_inline_result', { result_id: 'r', from: user, query: '' }, 'u77'],
    ['callback_query', { id: 'x', from: user, chat_instance: 'i', message }, 'c-100'],
    ['shipping_query', { id: 's', from: user, invoice_payload: 'p', shipping_address: {} }, 'u77'],
    ['pre_checkout_query', { id: 'p', from: user, currency: 'XTR', total_amount: 1, invoice_payload: 'p' }, 'u77'],
    ['purchased_paid_media', { from: user, paid_media_payload: 'p' }, 'u77'],
    ['poll', { id: 'poll1', question: 'q', options: [] }, 'ppoll1'],
    ['poll_answer', { poll_id: 'poll1', user, option_ids: [0] }, 'u77'],
    ['my_chat_member', { chat, from: user, date: 1 }, 'c-100'],
    ['chat_member', { chat, from: user, date: 1 }, 'c-100'],
    ['chat_join_request', { chat, from: user, user_chat_id: 77, date: 1 }, 'c-100'],
    ['chat_boost', { chat, boost: { boost_id: 'b', source: { source: 'premium', user } } }, 'c-100'],
    ['removed_chat_boost', { chat, boost_id: 'b', remove_date: 1, source: { source: 'premium', user } }, 'c-100'],
    ['managed_bot', { user, bot: { id: 9, is_bot: true, first_name: 'B' } }, 'u77'],
    ['subscription', { user, invoice_payload: 'p', state: 'canceled' }, 'u77'],
  ];

  it.each(cases)('%s', (kind, payload, key) => {
    expect(conversationKey(u({ [kind]: payload }))).toBe(key);
  });

  it('covers every known kind', () => {
    expect(cases.map(([kind]) => kind).sort()).toEqual([...UPDATE_KINDS].sort());
  });
});

describe('legacy layout', () => {
  it('maps an update to the same partition as before 1.0', () => {
    expect(partitionQueueName(3)).toBe('updates-3');
    const update = u({ message: { chat, from } });
    const p = legacyPartitionOf('bot-a', update, 64);
    expect(p).toBeGreaterThanOrEqual(0);
    expect(p).toBeLessThan(64);
    expect(legacyPartitionOf('bot-a', update, 64)).toBe(p);
  });
});
