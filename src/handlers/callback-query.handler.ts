import { Composer } from 'grammy';
import { GatewayContext } from './context';

export const callbackQueryFeature = new Composer<GatewayContext>();

// Answering stops the client's loading indicator; a feature that needs the data can handle it before this one.
callbackQueryFeature.on('callback_query', (ctx) => ctx.answerCallbackQuery());
