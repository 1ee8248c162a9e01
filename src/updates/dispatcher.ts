import { RedisAdapter } from '@grammyjs/storage-redis';
import { Composer, Context, session } from 'grammy';
import type { Redis } from 'ioredis';
import { GatewayContext, SessionData } from '../handlers/context';
import { features } from '../handlers/features';
import { leaseGuards } from './lease-guard';

/**
 * The session key includes the bot's Telegram id: grammY's default (the chat id alone) would let two bots
 * talking to the same person share a conversation. In groups the user is part of the key, so each member has
 * a form of their own; updates without a chat (inline queries) fall back to the user.
 */
export function sessionKey(ctx: Context): string | undefined {
  const bot = ctx.me.id;
  const chat = ctx.chat?.id;
  const user = ctx.from?.id;
  if (chat !== undefined) return user !== undefined ? `${bot}:${chat}:${user}` : `${bot}:${chat}`;
  if (user !== undefined) return `${bot}:user:${user}`;
  return undefined;
}

export interface DispatcherOptions {
  redis: Redis;
  redisPrefix: string;
  sessionTtlSeconds: number;
}

/** The one dispatcher every bot's updates run through: Redis sessions, then the features. */
export function createDispatcher(options: DispatcherOptions): Composer<GatewayContext> {
  const dispatcher = new Composer<GatewayContext>();
  dispatcher.use(
    session<SessionData | undefined, GatewayContext>({
      storage: new RedisAdapter<SessionData | undefined>({ instance: options.redis, ttl: options.sessionTtlSeconds }),
      prefix: `${options.redisPrefix}:session:`,
      getSessionKey: sessionKey,
    }),
  );
  // Inside the session middleware: every Bot API call checks first that this worker still holds the conversation, and
  // so does the session write, which grammY makes once this middleware has returned.
  dispatcher.use(async (ctx, next) => {
    const guard = leaseGuards.get(ctx.update);
    if (!guard) return next();
    ctx.api.config.use((prev, method, payload, signal) => {
      guard.check();
      return prev(method, payload, signal);
    });
    await next();
    guard.check();
  });
  dispatcher.use(...features);
  return dispatcher;
}
