// A stand-in for the Telegram Bot API, for benchmarks: answers `POST /bot<token>/<method>` like Telegram does
// (`sendMessage` → a message object, any other method → `true`), counts the calls per method and exposes the
// counts on `GET /stats`, so a benchmark can tell how many replies the workers really sent.
//
//   node bench/fake-telegram.mjs            → listens on 127.0.0.1, a free port; prints {"url": ...} on stdout
//   FAKE_TELEGRAM_PORT=8081 node bench/fake-telegram.mjs
//
// `GET /stats` → { total, methods: { sendMessage: n, ... }, bots: <distinct tokens>, connections, startedAt }
// `DELETE /stats` resets the counts.
import process from 'node:process';
import { setTimeout as sleep } from 'node:timers/promises';
import Fastify from 'fastify';

const host = process.env.FAKE_TELEGRAM_HOST ?? '127.0.0.1';
const port = Number(process.env.FAKE_TELEGRAM_PORT ?? 0);
/** Optional delay per call (ms), to imitate Telegram's latency. */
const delayMs = Number(process.env.FAKE_TELEGRAM_DELAY_MS ?? 0);

const app = Fastify({ logger: false, bodyLimit: 50 * 1024 * 1024 });

let calls = new Map();
let tokens = new Set();
let messageId = 0;
let connections = 0;
let startedAt = new Date().toISOString();

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
  if (delayMs > 0) await sleep(delayMs);
  return { ok: true, result: resultOf(method, token, request.body) };
});

app.get('/stats', async () => ({
  total: [...calls.values()].reduce((sum, n) => sum + n, 0),
  methods: Object.fromEntries(calls),
  bots: tokens.size,
  /** TCP connections opened by clients: far fewer than calls when the clients keep connections alive. */
  connections,
  startedAt,
}));

app.delete('/stats', async () => {
  calls = new Map();
  tokens = new Set();
  connections = 0;
  startedAt = new Date().toISOString();
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
