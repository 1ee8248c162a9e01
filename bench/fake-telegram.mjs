// A stand-in for the Telegram Bot API, for benchmarks: answers `POST /bot<token>/<method>` like Telegram does
// (`sendMessage` → a message object, any other method → `true`), counts the calls per method and exposes the
// counts on `GET /stats`, so a benchmark can tell how many replies the workers really sent.
//
//   node bench/fake-telegram.mjs            → listens on 127.0.0.1, a free port; prints {"url": ...} on stdout
//   FAKE_TELEGRAM_PORT=8081 node bench/fake-telegram.mjs
//
// `GET /stats` → { total, methods: { sendMessage: n, ... }, bots: <distinct tokens>, connections, startedAt,
//   inFlight: { current, max } (calls being answered at once: the most since the last reset),
//   flooded: <calls answered 429>, byBot: { <telegram bot id>: { sendMessage, unique, duplicates } },
//   latencyMs: { count, mean, p50, p90, p99, p999, max } }; `GET /stats?since=<ms>`: latencyMs only of the updates
//   sent at or after that time (the measured window, without the warm-up)
// `DELETE /stats` resets the counts (the maximum in flight restarts from the calls in flight now).
//
// Stamped texts (`bench <update id> <send time ms>`, see bench/common.mjs): for each successful sendMessage
// whose text is stamped, the fake records the end-to-end latency (now − send time, at the moment the call
// arrives) and the update id per bot, so that a reply sent twice for one update shows as a duplicate (`unique` is
// the number of distinct updates replied to, `duplicates` the replies beyond the first).
//
// `POST /receiver/<telegram bot id>` stands for a tenant's HTTP service that gets the bot's updates from a
// destination (see below).
//
// Settings: FAKE_TELEGRAM_DELAY_MS (latency of every call), FAKE_TELEGRAM_FLOOD_BOTS (comma list of Telegram bot
// ids whose every call is answered `429 Too Many Requests: retry after <FAKE_TELEGRAM_RETRY_AFTER, default 30>`,
// after the same delay).
import process from 'node:process';
import { setTimeout as sleep } from 'node:timers/promises';
import Fastify from 'fastify';
import { nowMs, parseStamp, summarize } from './common.mjs';

const host = process.env.FAKE_TELEGRAM_HOST ?? '127.0.0.1';
const port = Number(process.env.FAKE_TELEGRAM_PORT ?? 0);
/** Optional delay per call (ms), to imitate Telegram's latency. */
const delayMs = Number(process.env.FAKE_TELEGRAM_DELAY_MS ?? 0);
const floodBots = new Set(
  (process.env.FAKE_TELEGRAM_FLOOD_BOTS ?? '')
    .split(',')
    .map((id) => id.trim())
    .filter(Boolean),
);
const retryAfter = Number(process.env.FAKE_TELEGRAM_RETRY_AFTER ?? 30);

const app = Fastify({ logger: false, bodyLimit: 50 * 1024 * 1024 });

let calls = new Map();
let tokens = new Set();
let messageId = 0;
let connections = 0;
let startedAt = new Date().toISOString();
let inFlight = 0;
let maxInFlight = 0;
let flooded = 0;
/** Per Telegram bot id: { sendMessage, ids: Set of stamped update ids replied to, duplicates }. */
let byBot = new Map();
/** End-to-end latency of each stamped reply, and the send time of its update (for `GET /stats?since=`). */
let latencies = [];
let sentTimes = [];

// grammY sends JSON, or multipart/form-data when it uploads files: accept any body without parsing it.
app.addContentTypeParser('*', (_request, payload, done) => {
  payload.on('data', () => undefined);
  payload.on('end', () => done(null, undefined));
  payload.on('error', done);
});

const TOKEN = /^\d+:[A-Za-z0-9_-]{30,}$/;

app.post('/bot:token/:method', async (request, reply) => {
  const { token, method } = request.params;
  if (!TOKEN.test(token)) {
    return reply.code(401).send({ ok: false, error_code: 401, description: 'Unauthorized' });
  }
  calls.set(method, (calls.get(method) ?? 0) + 1);
  tokens.add(token);
  const botId = token.slice(0, token.indexOf(':'));
  const arrivedAt = nowMs();
  maxInFlight = Math.max(maxInFlight, ++inFlight);
  try {
    if (delayMs > 0) await sleep(delayMs);
  } finally {
    inFlight--;
  }
  if (floodBots.has(botId)) {
    flooded++;
    return reply.code(429).send({
      ok: false,
      error_code: 429,
      description: `Too Many Requests: retry after ${retryAfter}`,
      parameters: { retry_after: retryAfter },
    });
  }
  if (method === 'sendMessage') recordReply(botId, request.body, arrivedAt);
  return { ok: true, result: resultOf(method, token, request.body) };
});

// A tenant's HTTP receiver (bench/pipeline.mjs "forward"): a destination's delivery of a stamped message counts,
// per bot, like a sendMessage reply (same latency, same duplicate check), after the same delay. Signatures are not
// checked here (that cost is the receiver's, not the gateway's).
app.post('/receiver/:botId', async (request) => {
  calls.set('delivery', (calls.get('delivery') ?? 0) + 1);
  const arrivedAt = nowMs();
  maxInFlight = Math.max(maxInFlight, ++inFlight);
  try {
    if (delayMs > 0) await sleep(delayMs);
  } finally {
    inFlight--;
  }
  const text = request.body?.data?.update?.message?.text;
  recordReply(request.params.botId, { text }, arrivedAt);
  return { ok: true };
});

function recordReply(botId, body, arrivedAt) {
  let bot = byBot.get(botId);
  if (!bot) byBot.set(botId, (bot = { sendMessage: 0, ids: new Set(), duplicates: 0 }));
  bot.sendMessage++;
  const stamp = typeof body?.text === 'string' ? parseStamp(body.text) : null;
  if (!stamp) return;
  if (bot.ids.has(stamp.id)) bot.duplicates++;
  else bot.ids.add(stamp.id);
  latencies.push(arrivedAt - stamp.sentAt);
  sentTimes.push(stamp.sentAt);
}

app.get('/stats', async (request) => ({
  total: [...calls.values()].reduce((sum, n) => sum + n, 0),
  methods: Object.fromEntries(calls),
  bots: tokens.size,
  /** TCP connections opened by clients: far fewer than calls when the clients keep connections alive. */
  connections,
  startedAt,
  inFlight: { current: inFlight, max: maxInFlight },
  flooded,
  byBot: Object.fromEntries(
    [...byBot].map(([id, b]) => [id, { sendMessage: b.sendMessage, unique: b.ids.size, duplicates: b.duplicates }]),
  ),
  latencyMs: summarize(sinceFilter(Number(request.query.since ?? 0))),
}));

/** The latencies of the updates sent at or after `since` (ms, the stamps' clock); all of them for 0. */
function sinceFilter(since) {
  return since > 0 ? latencies.filter((_, i) => sentTimes[i] >= since) : latencies;
}

app.delete('/stats', async () => {
  calls = new Map();
  tokens = new Set();
  connections = 0;
  startedAt = new Date().toISOString();
  maxInFlight = inFlight;
  flooded = 0;
  byBot = new Map();
  latencies = [];
  sentTimes = [];
  return { ok: true };
});

function resultOf(method, token, body) {
  if (method !== 'sendMessage') return true;
  const params = body && typeof body === 'object' ? body : {};
  const botId = Number(token.slice(0, token.indexOf(':')));
  const chatId = Number(params.chat_id ?? 0);
  return {
    message_id: ++messageId,
    date: Math.floor(Date.now() / 1000),
    chat: { id: chatId, type: chatId < 0 ? 'group' : 'private', first_name: 'A' },
    from: { id: botId, is_bot: true, first_name: 'Bench bot', username: `bench_${botId}_bot` },
    text: typeof params.text === 'string' ? params.text : '',
  };
}

const shutdown = () => {
  app.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.once('SIGTERM', shutdown);
process.once('SIGINT', shutdown);

app.server.on('connection', () => connections++);
await app.listen({ host, port });
const address = app.server.address();
console.log(JSON.stringify({ url: `http://${host}:${address.port}` }));
