import { Composer } from 'grammy';
import { GatewayContext } from './context';

/**
 * A two-step form kept in the session (Redis). The reply is sent before the new state is saved: when Telegram
 * fails, the update is retried from the same state instead of skipping a question.
 */
export const formFeature = new Composer<GatewayContext>();

formFeature.command('form', async (ctx) => {
  ctx.session = { form: { step: 'name' } };
  await ctx.reply('What is your name?');
});

formFeature.command('cancel', async (ctx) => {
  ctx.session = undefined;
  await ctx.reply('Cancelled.');
});

formFeature.on('message:text', async (ctx, next) => {
  const form = ctx.session?.form;
  if (!form) return next();
  const text = ctx.message.text.trim();
  if (form.step === 'name') {
    ctx.session = { form: { step: 'age', name: text } };
    await ctx.reply('How old are you?');
    return;
  }
  if (!/^\d{1,3}$/.test(text)) {
    await ctx.reply('Please send a number.');
    return;
  }
  ctx.session = undefined;
  await ctx.reply(`Thanks, ${form.name}! You are ${Number(text)}.`);
});
