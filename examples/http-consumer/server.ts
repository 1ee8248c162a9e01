/**
 * A tenant's service behind a tg-gateway HTTP destination: verifies each delivery (Standard Webhooks), handles it once
 * per webhook-id, and answers text messages through the gateway's Bot API proxy.
 *
 *   GATEWAY_URL=https://bots.example.com WEBHOOK_SECRET=whsec_... PROXY_CREDENTIAL=123:tgwp... PORT=8080 \
 *     npx tsx examples/http-consumer/server.ts
 */
import { createServer, IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Api } from 'grammy';
import type { Update } from 'grammy/types';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';

/** The body of a delivery: `type` is `update.<kind>` (or `test` for the admin API's test delivery). */
export interface Delivery {
  type: string;
  timestamp: string;
  data: { bot_id: string; update_id: number; update: Update };
}

export interface ConsumerOptions {
  /** The destination's signing secret (`whsec_...`), from the answer that created it or rotated it. */
  webhookSecret: string;
  /** The gateway's base URL: replies go to `${gatewayUrl}/telegram` (the Bot API proxy). */
  gatewayUrl?: string;
  /** A proxy credential of the bot (`<telegram id>:tgwp...`); without it the consumer handles but never replies. */
  proxyCredential?: string;
  /** 0: any free port. */
  port?: number;
  host?: string;
  /** webhook-ids remembered to drop redeliveries (an LRU: the oldest is forgotten first). */
  dedupeSize?: number;
  /** Your own handling of each new, verified delivery (after the reply, if any). Throwing makes the gateway retry. */
  onDelivery?: (delivery: Delivery, webhookId: string) => Promise<void> | void;
  /** One JSON object per event; never contains the secret, the credential or a body. */
  log?: (line: Record<string, unknown>) => void;
}

export interface Consumer {
  readonly url: string;
  readonly port: number;
  /** Counts since start: handled deliveries, redeliveries dropped, deliveries refused (bad signature or timestamp). */
  readonly stats: { handled: number; duplicates: number; refused: number; failed: number };
  close(): Promise<void>;
}

/** Largest delivery body read (a Telegram update is far smaller). */
const MAX_BODY_BYTES = 1024 * 1024;

/** A set of the most recently seen keys, bounded: a Map keeps insertion order, so its first key is the oldest. */
class RecentIds {
  private readonly ids = new Map<string, true>();
  constructor(private readonly max: number) {}

  has(id: string): boolean {
    if (!this.ids.has(id)) return false;
    this.ids.delete(id);
    this.ids.set(id, true);
    return true;
  }

  add(id: string): void {
    this.ids.delete(id);
    this.ids.set(id, true);
    if (this.ids.size > this.max) this.ids.delete(this.ids.keys().next().value!);
  }
}

export async function createConsumer(options: ConsumerOptions): Promise<Consumer> {
  const webhook = new Webhook(options.webhookSecret);
  const api =
    options.proxyCredential && options.gatewayUrl
      ? new Api(options.proxyCredential, { apiRoot: `${options.gatewayUrl.replace(/\/$/, '')}/telegram` })
      : undefined;
  const log = options.log ?? ((line) => console.log(JSON.stringify(line)));
  const seen = new RecentIds(options.dedupeSize ?? 10_000);
  const inFlight = new Set<string>();
  const stats = { handled: 0, duplicates: 0, refused: 0, failed: 0 };

  async function handle(delivery: Delivery, webhookId: string): Promise<void> {
    const message = delivery.data?.update?.message;
    if (delivery.type === 'update.message' && message?.text !== undefined && api) {
      await api.sendMessage(message.chat.id, `You said: ${message.text}`);
    }
    await options.onDelivery?.(delivery, webhookId);
  }

  async function onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'POST') return answer(res, 405, { error: 'POST only' });
    const body = await readBody(req);
    if (body === null) return answer(res, 413, { error: 'body too large' });

    let delivery: Delivery;
    try {
      // Checks the signature (any of the signatures during a secret rotation) and that webhook-timestamp is within
      // 5 minutes of now: a captured delivery cannot be replayed later, and a changed byte is refused.
      delivery = webhook.verify(body, signatureHeaders(req.headers)) as Delivery;
    } catch (error) {
      if (!(error instanceof WebhookVerificationError)) throw error;
      stats.refused++;
      log({ msg: 'delivery refused', reason: error.message, webhookId: req.headers['webhook-id'] });
      return answer(res, 401, { error: 'invalid signature' });
    }

    // The gateway repeats a delivery with the same webhook-id when it did not get our 2xx (timeout, network) and on
    // replay: act once. A delivery still being handled answers 409, so the gateway tries again later.
    const id = String(req.headers['webhook-id']);
    if (seen.has(id)) {
      stats.duplicates++;
      log({ msg: 'duplicate delivery ignored', webhookId: id });
      return answer(res, 200, { duplicate: true });
    }
    if (inFlight.has(id)) return answer(res, 409, { error: 'being handled' });
    inFlight.add(id);
    try {
      await handle(delivery, id);
      seen.add(id);
      stats.handled++;
      log({ msg: 'delivery handled', webhookId: id, type: delivery.type, updateId: delivery.data?.update_id });
      answer(res, 200, {});
    } catch (error) {
      // Not marked as seen: the gateway retries it, later updates of the conversation wait behind it.
      stats.failed++;
      log({ msg: 'delivery failed', webhookId: id, error: error instanceof Error ? error.message : String(error) });
      answer(res, 500, { error: 'handling failed' });
    } finally {
      inFlight.delete(id);
    }
  }

  const server = createServer((req, res) => {
    onRequest(req, res).catch((error: unknown) => {
      log({ msg: 'request failed', error: error instanceof Error ? error.message : String(error) });
      if (!res.headersSent) answer(res, 500, { error: 'internal error' });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '0.0.0.0', resolve);
  });
  const port = (server.address() as AddressInfo).port;
  const host = options.host && options.host !== '0.0.0.0' ? options.host : '127.0.0.1';
  return {
    url: `http://${host}:${port}/`,
    port,
    stats,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function signatureHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const one = (name: string) => {
    const value = headers[name];
    return Array.isArray(value) ? value[0] : (value ?? '');
  };
  return {
    'webhook-id': one('webhook-id'),
    'webhook-timestamp': one('webhook-timestamp'),
    'webhook-signature': one('webhook-signature'),
  };
}

function readBody(req: IncomingMessage): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        resolve(null);
        req.destroy();
      } else chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function answer(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

async function main(): Promise<void> {
  const env = process.env;
  if (!env.WEBHOOK_SECRET?.startsWith('whsec_')) {
    console.error('Set WEBHOOK_SECRET to the destination secret (whsec_...) the gateway showed when adding it.');
    process.exit(2);
  }
  if (env.PROXY_CREDENTIAL && !env.GATEWAY_URL) {
    console.error('PROXY_CREDENTIAL needs GATEWAY_URL (the gateway base URL; replies go to $GATEWAY_URL/telegram).');
    process.exit(2);
  }
  const consumer = await createConsumer({
    webhookSecret: env.WEBHOOK_SECRET,
    gatewayUrl: env.GATEWAY_URL,
    proxyCredential: env.PROXY_CREDENTIAL,
    port: Number(env.PORT ?? 8080),
    host: env.HOST,
  });
  console.log(
    JSON.stringify({
      msg: 'listening',
      port: consumer.port,
      replies: env.PROXY_CREDENTIAL ? 'through the gateway proxy' : 'off (no PROXY_CREDENTIAL)',
    }),
  );
  const stop = () => void consumer.close().then(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

// Run as a program (tsx), not when a test imports it.
if (typeof require !== 'undefined' && require.main === module) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
