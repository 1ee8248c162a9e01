// What a Bot API call from a worker costs over the pooled keep-alive connections it uses (undici Agent, as in
// src/telegram/telegram-fetch.ts), against a new TLS connection per call — the cost a "webhook reply" would save if
// calls were not pooled (docs/architecture.md, "No webhook reply"). Loopback HTTPS server with a self-signed
// certificate made by the openssl command; client and server share one process, so CPU is both sides together and
// there is no network round trip. Run: node bench/bot-api-keepalive.mjs (a few seconds; not part of npm run bench).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';

const dir = mkdtempSync(join(tmpdir(), 'tgw-keepalive-'));
execFileSync(
  'openssl',
  [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-days',
    '1',
    '-keyout',
    join(dir, 'key.pem'),
    '-out',
    join(dir, 'cert.pem'),
    '-subj',
    '/CN=localhost',
    '-addext',
    'subjectAltName=IP:127.0.0.1',
  ],
  { stdio: 'pipe' },
);
const cert = readFileSync(join(dir, 'cert.pem'));
const key = readFileSync(join(dir, 'key.pem'));
rmSync(dir, { recursive: true, force: true });

const answer = JSON.stringify({ ok: true, result: { message_id: 1, date: 0, chat: { id: 1, type: 'private' } } });
const server = createServer({ cert, key }, (req, res) => {
  req.resume();
  req.on('end', () => res.setHeader('content-type', 'application/json').end(answer));
});
server.keepAliveTimeout = 30_000;
await new Promise((listening) => server.listen(0, '127.0.0.1', listening));
const url = `https://127.0.0.1:${server.address().port}/bot1:x/sendMessage`;
const payload = JSON.stringify({ chat_id: 1, text: 'hello' });
const agent = () => new Agent({ connect: { ca: cert }, keepAliveTimeout: 30_000 });

async function measure(label, calls, fresh) {
  let dispatcher = agent();
  const cpu = process.cpuUsage();
  const start = process.hrtime.bigint();
  for (let i = 0; i < calls; i++) {
    const res = await request(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: payload,
      dispatcher,
    });
    await res.body.json();
    if (fresh) {
      await dispatcher.close();
      dispatcher = agent();
    }
  }
  const wallUs = Number(process.hrtime.bigint() - start) / 1000 / calls;
  const used = process.cpuUsage(cpu);
  await dispatcher.close();
  return { label, wallUs: Math.round(wallUs), cpuUs: Math.round((used.user + used.system) / calls) };
}

await measure('warm-up', 300, false);
const rows = [];
for (let round = 1; round <= 3; round++) {
  rows.push(await measure(`pooled keep-alive (round ${round})`, 2000, false));
  rows.push(await measure(`new TLS connection per call (round ${round})`, 300, true));
}
server.close();
console.table(rows);
