import type { Update } from 'grammy/types';
import { describe, expect, it } from 'vitest';
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
