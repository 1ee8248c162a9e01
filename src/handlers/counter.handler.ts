import { Composer } from 'grammy';
import { GatewayContext } from './context';

/**
 * `/count` and the button with data `count` both add one to a per-conversation counter in the session and say the
 * new value: a message and a button press of the same user in the same chat share that state, so they must never
 * run at the same time (see conversationKey).
 */
export const counterFeature = new Composer<GatewayContext>();

const next = (ctx: GatewayContext): number => {
  const count = (ctx.session?.count ?? 0) + 1;
  ctx.session = { ...ctx.session, count };
  return count;
};

counterFeature.command('count', (ctx) => ctx.reply(`Count: ${next(ctx)}`));
counterFeature.callbackQuery('count', async (ctx) => {
  const count = next(ctx);
  await ctx.answerCallbackQuery();
  await ctx.reply(`Count: ${count}`);
});
