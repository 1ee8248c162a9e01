import { Composer } from 'grammy';
import { GatewayContext } from './context';

export const startFeature = new Composer<GatewayContext>();

startFeature.command('start', (ctx) => ctx.reply(`Hello, ${ctx.from?.first_name ?? 'there'}!`));
