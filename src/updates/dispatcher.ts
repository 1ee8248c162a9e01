import { RedisAdapter } from '@grammyjs/storage-redis';
import { Composer, Context, Middleware, session, StorageAdapter } from 'grammy';
import type { Redis } from 'ioredis';
import { GatewayContext, SessionData } from '../handlers/context';
import { albums } from './album';
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

/**
 * grammY's (non-lazy) session middleware reads the session before the handlers and writes it back after them; a
 * session that was empty and stayed empty is deleted again — a `DEL` per update for every conversation without
 * state (most of them). This skips that delete. A conversation runs one update at a time, so a key read as absent
 * is still absent when its update ends.
 */
export class SkipEmptyDeletes<T> implements StorageAdapter<T> {
  private readonly absent = new Set<string>();

  constructor(private readonly inner: StorageAdapter<T>) {}

  async read(key: string): Promise<T | undefined> {
    const value = await this.inner.read(key);
    if (value === undefined) {
      // Bounded: an update whose handler threw never reaches the delete that would remove its key.
      if (this.absent.size >= 100_000) this.absent.clear();
      this.absent.add(key);
    } else this.absent.delete(key);
    return value;
  }

  write(key: string, value: T): Promise<void> | void {
    this.absent.delete(key);
    return this.inner.write(key, value);
  }

  delete(key: string): Promise<void> | void {
    if (this.absent.delete(key)) return;
    return this.inner.delete(key);
  }
}

export interface DispatcherOptions {
  redis: Redis;
  redisPrefix: string;
  sessionTtlSeconds: number;
  /** Features for every bot, after the sessions; the worker installs each bot's own features after it instead. */
  features?: Middleware<GatewayContext>[];
}

/** The one dispatcher every bot's updates run through: Redis sessions, then the features. */
export function createDispatcher(options: DispatcherOptions): Composer<GatewayContext> {
  const dispatcher = new Composer<GatewayContext>();
  dispatcher.use(
    session<SessionData | undefined, GatewayContext>({
      storage: new SkipEmptyDeletes<SessionData | undefined>(
        new RedisAdapter<SessionData | undefined>({ instance: options.redis, ttl: options.sessionTtlSeconds }),
      ),
      prefix: `${options.redisPrefix}:session:`,
      getSessionKey: sessionKey,
    }),
  );
  // Inside the session middleware: every Bot API call checks first that this worker still holds the conversation, and
  // so does the session write, which grammY makes once this middleware has returned.
  dispatcher.use(async (ctx, next) => {
    ctx.album = albums.get(ctx.update);
    const guard = leaseGuards.get(ctx.update);
    if (!guard) return next();
    ctx.api.config.use((prev, method, payload, signal) => {
      guard.check();
      return prev(method, payload, signal);
    });
    await next();
    guard.check();
  });
  dispatcher.use(...(options.features ?? []));
  return dispatcher;
}
