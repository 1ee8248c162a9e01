// The baseline of bench/ingress.mjs: a bare Fastify app (same fastify version as the gateway, default JSON body
// parser) whose `POST /webhook/:token` answers 200 with an empty body and does nothing else.
// Listens on 127.0.0.1 and a free port (BARE_PORT to choose one); prints {"url": ...} on stdout.
import process from 'node:process';
import Fastify from 'fastify';

const host = process.env.BARE_HOST ?? '127.0.0.1';
const port = Number(process.env.BARE_PORT ?? 0);

const app = Fastify({ logger: false, bodyLimit: 1024 * 1024 });
app.post('/webhook/:token', async (_request, reply) => {
  await reply.code(200).send();
});

const shutdown = () => {
  app.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.once('SIGTERM', shutdown);
process.once('SIGINT', shutdown);

await app.listen({ host, port });
console.log(JSON.stringify({ url: `http://${host}:${app.server.address().port}` }));
