// A comparator of bench/e2e.mjs and bench/pipeline.mjs: the classic webhook server with Telegraf 4. Telegraf's own
// `bot.webhookCallback(path, { secretToken })` on a Node http server (what `bot.launch({ webhook })` sets up),
// which answers once the handlers have finished. Several bots: one Telegraf instance per bot in the same process,
// each request routed by its path `/webhook/<token>` to that bot's callback. The gateway's handlers (src/handlers/), ported to Telegraf:
// sessions in Redis (Telegraf's `session({ store })` over ioredis, same key scheme, JSON values and TTL as the
// gateway's @grammyjs/storage-redis, under a prefix of its own), /start, the /form two-step form, /cancel,
// callback queries answered, text echoed with sendMessage, other messages copied. No getMe (botInfo is given),
// no webhook replies (every reply is a real call to E2E_API_ROOT, as with grammY and the gateway).
//
// Environment: E2E_BOTS (JSON [{ token, secret, botInfo }]) or, for one bot, E2E_BOT_TOKEN, E2E_BOT_SECRET and
// E2E_BOT_INFO (JSON); E2E_API_ROOT, E2E_REDIS_PREFIX, REDIS_URL,
// SESSION_TTL_SECONDS (default 7 days, as the gateway). Listens on 127.0.0.1 and a free port (E2E_PORT to choose
// one) and prints {"url": ...} on stdout. `GET /stats` → { responses: { <status>: n } (webhook requests
// handled, by status), errors }.
import { createServer } from 'node:http';
import process from 'node:process';
import { Redis } from 'ioredis';
import { session, Telegraf } from 'telegraf';
import { message } from 'telegraf/filters';
import { inlineBots } from './common.mjs';

const env = process.env;
const ttlSeconds = Number(env.SESSION_TTL_SECONDS ?? 7 * 24 * 3600);
const redis = new Redis(env.REDIS_URL ?? 'redis://127.0.0.1:6379', { connectTimeout: 2_000, maxRetriesPerRequest: 2 });
redis.on('error', () => undefined);

// ---------------------------------------------------------------------------------------------------------------
// Sessions: the gateway's scheme (src/updates/dispatcher.ts)

const sessionPrefix = `${env.E2E_REDIS_PREFIX}:session:`;
const store = {
  async get(key) {
    const value = await redis.get(sessionPrefix + key);
    return value === null ? undefined : JSON.parse(value);
  },
  async set(key, value) {
    await redis.set(sessionPrefix + key, JSON.stringify(value), 'EX', ttlSeconds);
  },
  async delete(key) {
    await redis.del(sessionPrefix + key);
  },
};

function sessionKey(ctx) {
  const bot = ctx.botInfo.id;
  const chat = ctx.chat?.id;
  const user = ctx.from?.id;
  if (chat !== undefined) return user !== undefined ? `${bot}:${chat}:${user}` : `${bot}:${chat}`;
  if (user !== undefined) return `${bot}:user:${user}`;
  return undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// The bot: the gateway's features (src/handlers/*.ts) in the same order

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
];

/** One bot with the gateway's features (src/handlers/*.ts) in the same order. */
function createBot(token, botInfo) {
  const bot = new Telegraf(token, { telegram: { apiRoot: env.E2E_API_ROOT, webhookReply: false } });
  bot.botInfo = botInfo;

  bot.use(session({ store, getSessionKey: sessionKey }));

  // start.handler.ts
  bot.command('start', (ctx) => ctx.reply(`Hello, ${ctx.from?.first_name ?? 'there'}!`));

  // form.handler.ts
  bot.command('form', async (ctx) => {
    ctx.session = { form: { step: 'name' } };
    await ctx.reply('What is your name?');
  });
  bot.command('cancel', async (ctx) => {
    ctx.session = undefined;
    await ctx.reply('Cancelled.');
  });
  bot.on(message('text'), async (ctx, next) => {
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

  // callback-query.handler.ts
  bot.on('callback_query', (ctx) => ctx.answerCbQuery());

  // echo.handler.ts
  bot.on(message('text'), (ctx) => ctx.reply(ctx.message.text));
  bot.on('message', async (ctx) => {
    if (COPYABLE.some((field) => field in ctx.message)) await ctx.copyMessage(ctx.chat.id);
  });
  return bot;
}

// ---------------------------------------------------------------------------------------------------------------
// The webhook

const responses = {};
let errors = 0;
/** `/webhook/<token>` → that bot's webhook callback */
const webhooks = new Map();
for (const { token, secret, botInfo } of inlineBots(env)) {
  const bot = createBot(token, botInfo);
  bot.catch((error, ctx) => {
    errors++;
    // The first few, without the update (the token must never reach a log).
    if (errors <= 5) console.error(`handler error: ${error instanceof Error ? error.message : String(error)}`);
    // Telegraf answers the webhook when the handlers are done; make a failed update a 500, as grammY does.
    const response = ctx.telegram.response;
    if (response && !response.headersSent) response.statusCode = 500;
  });
  webhooks.set(`/webhook/${token}`, bot.webhookCallback(`/webhook/${token}`, { secretToken: secret }));
}

const server = createServer((request, response) => {
  if (request.method === 'GET' && request.url === '/stats') {
    response.setHeader('content-type', 'application/json');
    response.end(JSON.stringify({ responses, errors }));
    return;
  }
  const webhook = webhooks.get(request.url);
  if (!webhook) {
    response.statusCode = 404;
    response.end();
    return;
  }
  webhook(request, response).then(
    // Counted once the handlers are done, whether or not the client still listens (the load generator drops the
    // requests in flight when it stops; their replies were sent all the same).
    () => {
      responses[response.statusCode] = (responses[response.statusCode] ?? 0) + 1;
    },
    (error) => {
      errors++;
      console.error(`webhook error: ${error instanceof Error ? error.message : String(error)}`);
      if (!response.headersSent) response.statusCode = 500;
      response.end();
    },
  );
});

const shutdown = () => {
  server.close(() => {
    redis.quit().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
  server.closeIdleConnections();
};
process.once('SIGTERM', shutdown);
process.once('SIGINT', shutdown);

const host = '127.0.0.1';
server.listen(Number(env.E2E_PORT ?? 0), host, () => {
  console.log(JSON.stringify({ url: `http://${host}:${server.address().port}` }));
});
