import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UPDATE_KINDS } from '../src/telegram/update-kinds';
import { Harness, jsonOf, RegisteredBot } from './support/harness';
import { newUpdateId } from './support/updates';

const user = { id: 5101, is_bot: false, first_name: 'Kim' };
const group = { id: -5102, type: 'supergroup', title: 'G' };
const priv = { id: 5101, type: 'private', first_name: 'Kim' };
const message = { message_id: 1, date: 1_790_000_000, chat: group, from: user, text: 'hello' };

/** One update of every kind of the current Bot API, as Telegram sends it. */
const PAYLOADS: Record<string, object> = {
  message,
  edited_message: { ...message, edit_date: 1_790_000_001 },
  channel_post: { message_id: 2, date: 1_790_000_000, chat: { id: -5103, type: 'channel', title: 'C' } },
  edited_channel_post: { message_id: 2, date: 1_790_000_000, chat: { id: -5103, type: 'channel', title: 'C' } },
  business_connection: { id: 'bc1', user, user_chat_id: 5101, date: 1_790_000_000, is_enabled: true },
  business_message: { ...message, chat: priv, business_connection_id: 'bc1', text: undefined, sticker: undefined },
  edited_business_message: { ...message, chat: priv, business_connection_id: 'bc1', edit_date: 1 },
  deleted_business_messages: { business_connection_id: 'bc1', chat: priv, message_ids: [1, 2] },
  guest_message: { ...message, guest_query_id: 'gq1', text: undefined },
  stopped_message_generation: { chat: priv, draft_id: 7 },
  message_reaction: {
    chat: group,
    message_id: 1,
    user,
    date: 1_790_000_000,
    old_reaction: [],
    new_reaction: [{ type: 'emoji', emoji: '👍' }],
  },
  message_reaction_count: { chat: group, message_id: 1, date: 1_790_000_000, reactions: [] },
  inline_query: { id: 'iq1', from: user, query: 'cats', offset: '' },
  chosen_inline_result: { result_id: 'r1', from: user, query: 'cats' },
  callback_query: { id: 'cq1', from: user, chat_instance: 'ci', data: 'x' },
  shipping_query: {
    id: 'sq1',
    from: user,
    invoice_payload: 'p',
    shipping_address: { country_code: 'DE', state: '', city: 'B', street_line1: 's', street_line2: '', post_code: '1' },
  },
  pre_checkout_query: { id: 'pc1', from: user, currency: 'XTR', total_amount: 5, invoice_payload: 'p' },
  purchased_paid_media: { from: user, paid_media_payload: 'pm' },
  poll: {
    id: 'poll1',
    question: 'Q?',
    options: [],
    total_voter_count: 0,
    is_closed: false,
    is_anonymous: true,
    type: 'regular',
    allows_multiple_answers: false,
  },
  poll_answer: { poll_id: 'poll1', user, option_ids: [0] },
  my_chat_member: {
    chat: group,
    from: user,
    date: 1_790_000_000,
    old_chat_member: { status: 'left', user },
    new_chat_member: { status: 'member', user },
  },
  chat_member: {
    chat: group,
    from: user,
    date: 1_790_000_000,
    old_chat_member: { status: 'left', user },
    new_chat_member: { status: 'member', user },
  },
  chat_join_request: { chat: group, from: user, user_chat_id: 5101, date: 1_790_000_000 },
  chat_boost: {
    chat: group,
    boost: { boost_id: 'b1', add_date: 1, expiration_date: 2, source: { source: 'premium', user } },
  },
  removed_chat_boost: { chat: group, boost_id: 'b1', remove_date: 1, source: { source: 'premium', user } },
  managed_bot: { user, bot: { id: 5199, is_bot: true, first_name: 'Managed', username: 'managed_x_bot' } },
  subscription: { user, invoice_payload: 'plan-1', state: 'canceled' },
};

function sample(metrics: string, name: string, kind: string): number | undefined {
  const line = metrics.split('\n').find((l) => l.startsWith(`${name}{kind="${kind}"}`));
  return line === undefined ? undefined : Number(line.split(' ').pop());
}

describe('update kinds of the current Bot API', () => {
  let gw: Harness;
  let bot: RegisteredBot;

  beforeAll(async () => {
    gw = await Harness.start();
    bot = await gw.registerBot();
  });

  afterAll(() => gw?.close());

  it('accepts every kind and a future one, runs each through the dispatcher, and counts them by kind', async () => {
    expect(Object.keys(PAYLOADS).sort()).toEqual([...UPDATE_KINDS].sort());
    const updates = [
      ...Object.entries(PAYLOADS).map(([kind, payload]) => ({ update_id: newUpdateId(), [kind]: payload })),
      { update_id: newUpdateId(), future_kind: { chat: group, something: 1 } },
    ];
    for (const update of updates) {
      const res = await gw.deliver(bot, update);
      expect(res.status, `${Object.keys(update)[1]}: ${await res.clone().text()}`).toBe(200);
    }
    await expect.poll(async () => (await gw.queued(bot.record.id)).length, { timeout: 20_000 }).toBe(0);
    expect(await gw.failed(bot.record.id)).toEqual([]);

    const metrics = await (await fetch(`${gw.baseUrl}/metrics`)).text();
    for (const kind of UPDATE_KINDS) {
      expect(sample(metrics, 'tg_gateway_updates_received_total', kind), kind).toBe(1);
      expect(sample(metrics, 'tg_gateway_updates_processed_total', kind), kind).toBe(1);
    }
    expect(sample(metrics, 'tg_gateway_updates_received_total', 'other')).toBe(1);
    expect(sample(metrics, 'tg_gateway_updates_processed_total', 'other')).toBe(1);
    expect(metrics).not.toContain('future_kind');
    // The built-in features answer what they know (the group message's echo and the button press), nothing else.
    expect(gw.telegram.callsOf('sendMessage', bot.token).map((c) => c.params.text)).toEqual(['hello']);
    expect(gw.telegram.callsOf('answerCallbackQuery', bot.token)).toHaveLength(1);
  });

  it('sets allowed_updates with the kinds Telegram sends only when named, and refuses names that are no kind', async () => {
    const auth = { authorization: `Bearer ${gw.config.adminApiKeys[0]}`, 'content-type': 'application/json' };
    const set = (allowedUpdates: unknown) =>
      fetch(`${gw.baseUrl}/admin/bots/${bot.record.id}/webhook`, {
        method: 'POST',
        headers: auth,
        body: JSON.stringify({ allowedUpdates }),
      });
    const optIn = ['message', 'chat_member', 'message_reaction', 'message_reaction_count'];
    const ok = await set(optIn);
    expect(ok.status).toBe(200);
    expect(gw.telegram.webhookOf(bot.token)?.allowed_updates).toEqual(optIn);
    expect((await jsonOf(ok)).allowedUpdates).toEqual(optIn);

    const calls = gw.telegram.callsOf('setWebhook').length;
    const bad = await set(['message', 'messages', 'reactions']);
    expect(bad.status).toBe(400);
    const body = await jsonOf(bad);
    expect(body.code).toBe('invalid_allowed_updates');
    expect(body.message).toMatch(
      /^allowedUpdates: unknown update types "messages", "reactions"; known types: message, /,
    );
    expect(body.message).toContain('message_reaction_count');
    expect(gw.telegram.callsOf('setWebhook')).toHaveLength(calls);
  });
});
