// A comparator of bench/e2e.mjs and bench/pipeline.mjs: the classic webhook server with grammY. Fastify (the
// gateway's own version) and grammY's `webhookCallback(bot, 'fastify')` on `POST /webhook/:token`, which checks the
// secret header and answers once the handlers have finished. The handlers are the gateway's own: its compiled
// dispatcher (`createDispatcher` from BENCH_DIST: Redis sessions through @grammyjs/storage-redis on ioredis, then the
// features), under a Redis prefix of its own. No getMe (botInfo is given); the Bot API is E2E_API_ROOT.
// Several bots: one grammY `Bot` and webhook callback per bot in the same process, routed by the token in the path
// (what a single-process multi-bot grammY server does).
//
// Environment: E2E_BOTS (JSON [{ token, secret, botInfo }]) or, for one bot, E2E_BOT_TOKEN, E2E_BOT_SECRET and
// E2E_BOT_INFO (JSON); E2E_API_ROOT, E2E_REDIS_PREFIX, BENCH_DIST,
// REDIS_URL, SESSION_TTL_SECONDS (default 7 days, as the gateway). Listens on 127.0.0.1 and a free port (E2E_PORT
// to choose one) and prints {"url": ...} on stdout. `GET /stats` → { responses: { <status>: n } (webhook
// requests handled, by status), errors }.
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import process from 'node:process';
import { URL } from 'node:url';
import Fastify from 'fastify';
import { Bot, webhookCallback } from 'grammy';
import { Redis } from 'ioredis';
import { inlineBots } from './common.mjs';

const env = process.env;
const require = createRequire(import.meta.url);
const dist = resolve(env.BENCH_DIST ?? new URL('../dist', import.meta.url).pathname);
const { createDispatcher } = require(`${dist}/updates/dispatcher`);
const { builtInFeatures } = require(`${dist}/handlers/features`);

const redis = new Redis(env.REDIS_URL ?? 'redis://127.0.0.1:6379', { connectTimeout: 2_000, maxRetriesPerRequest: 2 });
redis.on('error', () => undefined);

/** token → webhook callback of that bot */
const handlers = new Map();
for (const { token, secret, botInfo } of inlineBots(env)) {
  const bot = new Bot(token, { botInfo, client: { apiRoot: env.E2E_API_ROOT, timeoutSeconds: 25 } });
  bot.use(
    createDispatcher({
      redis,
      redisPrefix: env.E2E_REDIS_PREFIX,
      sessionTtlSeconds: Number(env.SESSION_TTL_SECONDS ?? 7 * 24 * 3600),
      features: builtInFeatures.map((feature) => feature.composer),
    }),
  );
  handlers.set(token, webhookCallback(bot, 'fastify', { secretToken: secret }));
}

const responses = {};
let errors = 0;
const app = Fastify({ logger: false, bodyLimit: 1024 * 1024 });
app.setErrorHandler((error, _request, reply) => {
  errors++;
  // The first few, without the update (the token must never reach a log).
  if (errors <= 5) console.error(`handler error: ${error instanceof Error ? error.message : String(error)}`);
  responses[500] = (responses[500] ?? 0) + 1;
  void reply.code(500).send({ ok: false });
});
app.post('/webhook/:token', async (request, reply) => {
  const handleWebhook = handlers.get(request.params.token);
  if (!handleWebhook) return reply.code(404).send({ ok: false });
  await handleWebhook(request, reply);
  // Counted once the handlers are done, whether or not the client still listens (the load generator drops the
  // requests in flight when it stops; their replies were sent all the same).
  responses[reply.statusCode] = (responses[reply.statusCode] ?? 0) + 1;
  return reply;
});
app.get('/stats', async () => ({ responses, errors }));

const shutdown = () => {
  app
    .close()
    .then(() => redis.quit())
    .then(
      () => process.exit(0),
      () => process.exit(1),
    );
};
process.once('SIGTERM', shutdown);
process.once('SIGINT', shutdown);

const host = '127.0.0.1';
await app.listen({ host, port: Number(env.E2E_PORT ?? 0) });
console.log(JSON.stringify({ url: `http://${host}:${app.server.address().port}` }));
