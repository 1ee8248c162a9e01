import type { Update } from 'grammy/types';
import { describe, expect, it } from 'vitest';
import { orderingKey, partitionOf, partitionQueueNames } from './update-queue';

const u = (body: object) => ({ update_id: 1, ...body }) as unknown as Update;
const chat = { id: -100, type: 'group' };
const from = { id: 42, is_bot: false, first_name: 'A' };

describe('orderingKey', () => {
  it('orders messages, edits, posts and member updates by chat', () => {
    expect(orderingKey(u({ message: { chat, from } }))).toBe('chat:-100');
    expect(orderingKey(u({ edited_message: { chat, from } }))).toBe('chat:-100');
    expect(orderingKey(u({ channel_post: { chat } }))).toBe('chat:-100');
    expect(orderingKey(u({ my_chat_member: { chat, from } }))).toBe('chat:-100');
  });

  it('orders callback and inline queries by user, as Telegram does', () => {
    expect(orderingKey(u({ callback_query: { id: 'x', from, message: { chat } } }))).toBe('user:42');
    expect(orderingKey(u({ inline_query: { id: 'x', from, query: '' } }))).toBe('user:42');
  });

  it('orders polls by poll and unknown kinds by whatever they carry', () => {
    expect(orderingKey(u({ poll: { id: 'p1' } }))).toBe('poll:p1');
    expect(orderingKey(u({ poll_answer: { poll_id: 'p1', user: from } }))).toBe('poll:p1');
    expect(orderingKey(u({ future_kind: { from } }))).toBe('user:42');
    expect(orderingKey(u({ future_kind: { something: 1 } }))).toBe('bot');
  });
});

describe('partitionOf', () => {
  it('is stable and within range, and spreads chats across partitions', () => {
    const seen = new Set<number>();
    for (let i = 0; i < 1000; i++) {
      const update = u({ message: { chat: { id: i, type: 'private' }, from } });
      const p = partitionOf('bot-a', update, 16);
      expect(p).toBe(partitionOf('bot-a', update, 16));
      expect(p).toBeGreaterThanOrEqual(0);
      expect(p).toBeLessThan(16);
      seen.add(p);
    }
    expect(seen.size).toBe(16);
    expect(partitionQueueNames(3)).toEqual(['updates-0', 'updates-1', 'updates-2']);
  });
});
