// @ts-check
// An example feature module for tg-gateway (see "Your own features" in the gateway's README). The gateway loads it
// at start when FEATURE_MODULES names this directory (or this package), and bots choose its features by name.
import { Composer } from 'grammy';

/**
 * What the gateway's context gives a feature: grammY's Context, the bot's settings for the running feature
 * (validated against `settingsSchema`, defaults filled in), and the conversation's session (shared by every feature
 * of the bot: keep your state under a key of your own).
 *
 * @template S
 * @typedef {import('grammy').Context & {
 *   settings: Readonly<S>;
 *   session: Record<string, unknown> | undefined;
 * }} FeatureContext
 */

/** @typedef {{ greeting: string }} GreeterSettings */
/** @typedef {{ max: number }} NotesSettings */

/** `/hello` answers with the bot's own greeting. */
/** @type {Composer<FeatureContext<GreeterSettings>>} */
const greeter = new Composer();
greeter.command('hello', (ctx) => ctx.reply(`${ctx.settings.greeting}, ${ctx.from?.first_name ?? 'there'}!`));

/** `/note <text>` keeps up to `max` notes in the conversation's session; `/notes` lists them. */
/** @type {Composer<FeatureContext<NotesSettings>>} */
const notes = new Composer();
notes.command('note', async (ctx) => {
  const text = ctx.match.trim();
  if (!text) return ctx.reply('Usage: /note <text>');
  const kept = /** @type {string[]} */ (ctx.session?.notes ?? []);
  const next = [...kept, text].slice(-ctx.settings.max);
  // Reply first, then change the session: a failed reply is retried from the same state (the session is saved only
  // once every feature is done).
  await ctx.reply(`Noted (${next.length}/${ctx.settings.max}).`);
  ctx.session = { ...ctx.session, notes: next };
});
notes.command('notes', (ctx) => {
  const kept = /** @type {string[]} */ (ctx.session?.notes ?? []);
  return ctx.reply(kept.length === 0 ? 'No notes.' : kept.map((note, i) => `${i + 1}. ${note}`).join('\n'));
});

/** The contract: `features`, feature names mapped to a composer, or to { composer, settingsSchema?, description? }. */
export const features = {
  greeter: {
    composer: greeter,
    description: '/hello answers "<greeting>, <first name>!"',
    settingsSchema: {
      type: 'object',
      properties: { greeting: { type: 'string', minLength: 1, maxLength: 100, default: 'Hello' } },
      additionalProperties: false,
    },
  },
  notes: {
    composer: notes,
    description: '/note <text> keeps a note in the session, /notes lists them',
    settingsSchema: {
      type: 'object',
      properties: { max: { type: 'integer', minimum: 1, maximum: 50, default: 3 } },
      additionalProperties: false,
    },
  },
};
