// A reference for the ingress tail (bench/pipeline.mjs, nolatency): the bare Fastify route of bench/bare-server.mjs
// plus the least a durable acknowledgement needs, one Redis script call per request (dedupe key SET NX, then RPUSH
// of the body) before the 200. It shows what any Redis-backed webhook costs on the machine, next to the bare route
// and the gateway. Keys under <REDIS_PREFIX>:minimal:*. Prints {"url": ...} on stdout once it listens.
import process from 'node:process';
import Fastify from 'fastify';
import { Redis } from 'ioredis';

const prefix = `${process.env.REDIS_PREFIX ?? 'tgw'}:minimal:`;
const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
redis.defineCommand('accept', {
  numberOfKeys: 2,
  lua: `if redis.call('SET', KEYS[1], '1', 'NX', 'EX', 90000) then redis.call('RPUSH', KEYS[2], ARGV[1]) return 1 end
return 0`,
});

const app = Fastify({ logger: false, bodyLimit: 1024 * 1024 });
app.post('/webhook/:token', async (request, reply) => {
  const update = request.body;
  await redis.accept(`${prefix}d:${update.update_id}`, `${prefix}list`, JSON.stringify(update));
  await reply.code(200).send();
});

const shutdown = () => {
  app.close().then(
    () => redis.quit().finally(() => process.exit(0)),
    () => process.exit(1),
  );
};
process.once('SIGTERM', shutdown);
process.once('SIGINT', shutdown);

await app.listen({ host: '127.0.0.1', port: 0 });
console.log(JSON.stringify({ url: `http://127.0.0.1:${app.server.address().port}` }));
