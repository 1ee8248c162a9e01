import { lookup } from 'node:dns/promises';
import { request as httpRequest } from 'node:http';
import type { Agent } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';
import { RequestFilteringHttpAgent, RequestFilteringHttpsAgent } from 'request-filtering-agent';
import { Webhook } from 'standardwebhooks';

/** Which addresses deliveries may connect to (checked on the address actually connected to, after DNS). */
export interface AddressPolicy {
  /** Loopback, private, link-local and other non-public addresses allowed (DESTINATION_ALLOW_PRIVATE). */
  allowPrivate: boolean;
  /** Addresses or CIDR ranges allowed even when private (DESTINATION_ALLOWED_IPS). */
  allowedIps: string[];
}

export interface DeliveryAttempt {
  ok: boolean;
  /** The receiver's HTTP status; absent when no answer came (refused, timed out, address not allowed). */
  status?: number;
  /** The receiver's Retry-After (on 429 and 503), in ms. */
  retryAfterMs?: number;
  /** Why it failed, in words that never contain the secret or the body. */
  error?: string;
  ms: number;
}

/** Most bytes of a receiver's answer read (the rest is dropped). */
const MAX_ANSWER_BYTES = 64 * 1024;

/**
 * Posts signed deliveries (Standard Webhooks: `webhook-id`, `webhook-timestamp`, `webhook-signature`) over pooled
 * keep-alive connections whose every connect is checked against the address policy, so a destination whose DNS
 * later points at a private address is refused too. Redirects are not followed: a 3xx is a failed attempt.
 */
export class HttpDelivery {
  private readonly http: Agent;
  private readonly https: Agent;

  /** `lookup`: DNS resolution (tests replace it to play a record that changes). */
  constructor(policy: AddressPolicy, maxSockets = 256, lookup?: unknown) {
    const options = {
      keepAlive: true,
      maxSockets,
      allowPrivateIPAddress: policy.allowPrivate,
      allowIPAddressList: policy.allowedIps,
      ...(lookup ? { lookup: lookup as never } : {}),
    };
    this.http = new RequestFilteringHttpAgent(options);
    this.https = new RequestFilteringHttpsAgent(options);
  }

  close(): void {
    this.http.destroy();
    this.https.destroy();
  }

  /** One attempt. `secrets`: the signing secrets (`whsec_…`); during a rotation's overlap both sign. */
  post(
    url: string,
    message: { id: string; timestamp: Date; body: string },
    secrets: string[],
    timeoutMs: number,
    extraHeaders: Record<string, string> = {},
  ): Promise<DeliveryAttempt> {
    const started = performance.now();
    const signature = secrets.map((s) => new Webhook(s).sign(message.id, message.timestamp, message.body)).join(' ');
    const target = new URL(url);
    const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise<DeliveryAttempt>((resolve) => {
      let settled = false;
      const done = (result: Omit<DeliveryAttempt, 'ms'>) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve({ ...result, ms: Math.round(performance.now() - started) });
      };
      const req = send(
        target,
        {
          method: 'POST',
          agent: target.protocol === 'https:' ? this.https : this.http,
          headers: {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(message.body),
            'user-agent': 'tg-gateway',
            'webhook-id': message.id,
            'webhook-timestamp': String(Math.floor(message.timestamp.getTime() / 1000)),
            'webhook-signature': signature,
            ...extraHeaders,
          },
        },
        (res) => {
          let read = 0;
          res.on('data', (chunk: Buffer) => {
            read += chunk.length;
            if (read > MAX_ANSWER_BYTES) res.destroy();
          });
          const status = res.statusCode ?? 0;
          const finish = () => {
            const ok = status >= 200 && status < 300;
            const retryAfterMs =
              status === 429 || status === 503 ? parseRetryAfter(res.headers['retry-after']) : undefined;
            done({
              ok,
              status,
              retryAfterMs,
              error: ok
                ? undefined
                : status >= 300 && status < 400
                  ? `HTTP ${status} (redirects are not followed)`
                  : `HTTP ${status}`,
            });
          };
          res.on('end', finish);
          res.on('close', finish);
          res.on('error', finish);
        },
      );
      const timer = setTimeout(() => {
        req.destroy();
        done({ ok: false, error: `No answer within ${timeoutMs} ms` });
      }, timeoutMs);
      req.on('error', (error: Error) => done({ ok: false, error: describeError(error) }));
      req.end(message.body);
    });
  }
}

/**
 * Checks a destination URL when it is added or changed: http(s), no credentials in it, and (unless allowed) a host
 * that resolves to public addresses only. The agent checks again at every connect. Returns the problem, or null.
 */
export async function checkDestinationUrl(url: string, policy: AddressPolicy): Promise<string | null> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'url must be an absolute http:// or https:// URL';
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return 'url must be http:// or https://';
  if (parsed.username || parsed.password) return 'url must not carry credentials (user:password@)';
  if (parsed.hash) return 'url must not have a #fragment';
  const host = parsed.hostname.replace(/^\[|\]$/g, '');
  let addresses: string[];
  try {
    addresses = isIP(host) ? [host] : (await lookup(host, { all: true })).map((a) => a.address);
  } catch {
    return `the host ${host} does not resolve`;
  }
  const refused = addresses.find((address) => !addressAllowed(address, policy));
  return refused
    ? `the host ${host} resolves to ${refused}, a loopback, private or link-local address; an operator may allow ` +
        'it with DESTINATION_ALLOW_PRIVATE or DESTINATION_ALLOWED_IPS'
    : null;
}

export function addressAllowed(address: string, policy: AddressPolicy): boolean {
  let parsed: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    parsed = ipaddr.process(address);
  } catch {
    return false;
  }
  for (const item of policy.allowedIps) {
    try {
      if (item.includes('/')) {
        const range = ipaddr.parseCIDR(item);
        if (parsed.kind() === range[0].kind() && parsed.match(range)) return true;
      } else if (ipaddr.process(item).toString() === parsed.toString()) return true;
    } catch {
      // Checked at start (config); skip anything else.
    }
  }
  if (parsed.range() === 'unspecified') return false;
  return policy.allowPrivate || parsed.range() === 'unicast';
}

/** Retry-After in seconds or as an HTTP date, in ms; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | string[] | undefined): number | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  if (!text) return undefined;
  if (/^\d+$/.test(text.trim())) return Number(text.trim()) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

function describeError(error: Error): string {
  const code = (error as { code?: string }).code;
  if (/is not allowed/.test(error.message)) return 'The address connected to is not allowed (private or loopback)';
  return code ? `${code}` : error.message.slice(0, 200);
}
