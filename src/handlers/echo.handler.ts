import { Composer } from 'grammy';
import type { Message } from 'grammy/types';
import { GatewayContext } from './context';

/** Message fields with content that copyMessage can reproduce; service messages (joins, pins…) cannot be copied. */
const COPYABLE = [
  'animation',
  'audio',
  'contact',
  'dice',
  'document',
  'location',
  'photo',
  'poll',
  'sticker',
  'story',
  'venue',
  'video',
  'video_note',
  'voice',
] as const;

export function isCopyable(message: Message): boolean {
  return COPYABLE.some((field) => field in message);
}

export const echoFeature = new Composer<GatewayContext>();

echoFeature.on('message:text', (ctx) => ctx.reply(ctx.message.text));

echoFeature.on('message', async (ctx) => {
  // An album comes back as an album: one copyMessages call with every part (ids in increasing order, as Telegram asks).
  if (ctx.album && ctx.album.length > 1) {
    const ids = ctx.album.map((m) => m.message_id).sort((a, b) => a - b);
    await ctx.api.copyMessages(ctx.chat.id, ctx.chat.id, ids);
  } else if (isCopyable(ctx.message)) await ctx.copyMessage(ctx.chat.id);
});
