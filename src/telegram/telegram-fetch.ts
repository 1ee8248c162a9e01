import { Agent, request } from 'undici';

/** The part of `fetch`'s options grammY passes (JSON, or a multipart stream when it uploads a file). */
interface GrammyFetchInit {
  method?: string;
  headers?: Record<string, string>;
  body?: string | NodeJS.ReadableStream | AsyncIterable<Uint8Array>;
  signal?: AbortSignal | null;
}

/**
 * A `fetch` for grammY's API client over undici's connection pools. grammY's default in Node is node-fetch over
 * `http.Agent`, which costs about twice the CPU per Bot API call (measured on a loopback fake Telegram: ~230 µs
 * against ~100 µs per call); a worker makes one or more such calls per update. grammY only reads the response
 * as JSON, so that is all the returned object offers.
 */
/** `connectionsPerOrigin` bounds the Bot API calls in flight per worker: give it at least WORKER_CONCURRENCY. */
export function createTelegramFetch(options: { connectionsPerOrigin?: number } = {}): typeof fetch {
  const dispatcher = new Agent({ connections: options.connectionsPerOrigin ?? 256, keepAliveTimeout: 30_000 });
  const telegramFetch = async (url: string | URL, init: GrammyFetchInit = {}) => {
    const response = await request(url, {
      method: (init.method ?? 'GET') as 'GET',
      headers: init.headers,
      body: init.body as string,
      signal: init.signal ?? undefined,
      dispatcher,
    });
    // Telegram answers JSON whatever the status; grammY reads `ok` and `error_code` from it.
    return { json: () => response.body.json() };
  };
  return telegramFetch as unknown as typeof fetch;
}
