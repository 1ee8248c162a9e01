// Helpers without side effects, shared by bench/lib.mjs and the bench's child programs (the fake Telegram, the
// inline comparator servers), which must not import lib.mjs (it creates the run directory and loads autocannon):
// latency summaries, stamped message texts, the bots of an inline server.

/** The value at quantile `q` (0..1) of an ascending array (nearest rank); null when empty. */
export function quantile(sorted, q) {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

/** { count, mean, p50, p90, p99, p999, max } of a list of milliseconds, rounded to 0.1 ms; the list is not changed. */
export function summarize(values) {
  const sorted = Float64Array.from(values).sort();
  const r = (v) => (v === null ? null : Math.round(v * 10) / 10);
  let sum = 0;
  for (const v of sorted) sum += v;
  return {
    count: sorted.length,
    mean: sorted.length ? r(sum / sorted.length) : null,
    p50: r(quantile(sorted, 0.5)),
    p90: r(quantile(sorted, 0.9)),
    p99: r(quantile(sorted, 0.99)),
    p999: r(quantile(sorted, 0.999)),
    max: r(quantile(sorted, 1)),
  };
}

/** Wall-clock milliseconds with sub-millisecond resolution, comparable across the processes of one machine. */
export function nowMs() {
  return performance.timeOrigin + performance.now();
}

/**
 * The text of a stamped bench message: `bench <update id> <send time, ms>`. The gateway's echo feature (and the
 * inline bots') send it back unchanged, so the fake Telegram can tell each reply's update and its latency.
 */
export function stampedText(updateId) {
  return `bench ${updateId} ${nowMs().toFixed(1)}`;
}

/** The update id and the send time of a stamped text, or null. */
export function parseStamp(text) {
  const match = /^bench (\d+) (\d+(?:\.\d+)?)$/.exec(text);
  return match ? { id: Number(match[1]), sentAt: Number(match[2]) } : null;
}

/**
 * The bots an inline comparator server (bench/e2e-grammy.mjs, bench/e2e-telegraf.mjs) serves: E2E_BOTS (JSON
 * [{ token, secret, botInfo }]) or the one bot of E2E_BOT_TOKEN, E2E_BOT_SECRET and E2E_BOT_INFO (JSON).
 */
export function inlineBots(env) {
  if (env.E2E_BOTS) return JSON.parse(env.E2E_BOTS);
  return [{ token: env.E2E_BOT_TOKEN, secret: env.E2E_BOT_SECRET, botInfo: JSON.parse(env.E2E_BOT_INFO) }];
}
