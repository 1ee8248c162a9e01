import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Harness, RegisteredBot, waitUntil } from '../../test/support/harness';
import { alice, bob, textUpdate } from '../../test/support/updates';

/**
 * The example module as a user runs it: named in FEATURE_MODULES (a directory outside src/, loaded by path at
 * start), chosen per bot through the admin API with settings, and run by a whole gateway — webhook, mailbox, worker,
 * Redis sessions — against the fake Bot API.
 */
describe('example feature module (examples/feature-module)', () => {
  let gw: Harness;

  beforeAll(async () => {
    gw = await Harness.start({ env: { FEATURE_MODULES: resolve(__dirname), DEFAULT_BOT_FEATURES: '' } });
  });

  afterAll(async () => {
    await gw?.close();
  });

  /** Delivers the updates one by one, each once the previous one is done, and returns the replies to the chat. */
  async function converse(bot: RegisteredBot, ...texts: string[]): Promise<string[]> {
    const before = gw.telegram.callsOf('sendMessage', bot.token).length;
    for (const text of texts) {
      const update = textUpdate(alice, text);
      expect((await gw.deliver(bot, update)).status).toBe(200);
      await waitUntil(
        async () => !(await gw.queued(bot.record.id)).some((e) => e.update.update_id === update.update_id),
        10_000,
        `"${text}" to be processed`,
      );
    }
    expect(await gw.failed(bot.record.id)).toEqual([]);
    return gw.telegram
      .callsOf('sendMessage', bot.token)
      .slice(before)
      .map((call) => call.params.text as string);
  }

  it('lists the module’s features with their settings schemas', async () => {
    const { status, body } = await gw.admin('GET', '/admin/features');
    expect(status).toBe(200);
    const greeter = body.items.find((f: { name: string }) => f.name === 'greeter');
    expect(greeter).toMatchObject({ source: resolve(__dirname), settingsSchema: { type: 'object' } });
    expect(body.items.map((f: { name: string }) => f.name)).toEqual(expect.arrayContaining(['echo', 'notes']));
  });

  it('greets with each bot’s own settings, and the schema’s default without any', async () => {
    const ahoy = await gw.registerWithFeatures([{ name: 'greeter', settings: { greeting: 'Ahoy' } }]);
    const plain = await gw.registerWithFeatures([{ name: 'greeter' }]);
    expect(await converse(ahoy, '/hello')).toEqual(['Ahoy, Alice!']);
    expect(await converse(plain, '/hello')).toEqual(['Hello, Alice!']);
  });

  it('keeps notes in the conversation’s session, bounded by the bot’s setting', async () => {
    const bot = await gw.registerWithFeatures([{ name: 'notes', settings: { max: 2 } }, { name: 'greeter' }]);
    expect(await converse(bot, '/notes', '/note milk', '/note eggs', '/note tea', '/notes', '/hello')).toEqual([
      'No notes.',
      'Noted (1/2).',
      'Noted (2/2).',
      'Noted (2/2).',
      '1. eggs\n2. tea',
      'Hello, Alice!',
    ]);
    const session = await gw.redis.get(`${gw.config.redisPrefix}:session:${bot.info.id}:${alice.id}:${alice.id}`);
    expect(JSON.parse(session ?? 'null')).toEqual({ notes: ['eggs', 'tea'] });
    // Another user's conversation has its own.
    const update = textUpdate(bob, '/notes');
    await gw.deliver(bot, update);
    await waitUntil(() => gw.telegram.callsOf('sendMessage', bot.token).some((c) => c.params.chat_id === bob.id));
    expect(gw.telegram.callsOf('sendMessage', bot.token).find((c) => c.params.chat_id === bob.id)!.params.text).toBe(
      'No notes.',
    );
  });

  it('refuses settings its schema does not allow, naming the problem', async () => {
    const { token } = gw.telegram.addBot();
    const res = await gw.admin('POST', '/admin/bots', {
      token,
      features: [{ name: 'notes', settings: { max: 500 } }],
    });
    expect(res.status).toBe(422);
    expect(res.body).toMatchObject({ code: 'invalid_feature_settings' });
    expect(res.body.message).toBe('Invalid settings for feature "notes": settings/max must be <= 50');
  });
});
