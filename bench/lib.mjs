// Helpers shared by the benchmarks (bench/*.mjs): paths and settings from the environment
// bench/run.sh prepares, the gateway processes' environment, child processes (started, logged, stopped, listed in <run dir>/pids for run.sh's exit
// trap), free ports, readiness, CPU and memory from /proc, idle-machine detection, the load generator (autocannon
// with a fresh Telegram update per request), Prometheus text parsing, Redis statistics and table formatting.
import { spawn, execFileSync } from 'node:child_process';
import { appendFileSync, createWriteStream, mkdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import process from 'node:process';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath, URL } from 'node:url';
import autocannon from 'autocannon';

export const here = fileURLToPath(new URL('.', import.meta.url));
const env = process.env;

export const dist = resolve(env.BENCH_DIST ?? join(here, '..', 'dist'));
export const resultsDir = resolve(env.BENCH_RESULTS_DIR ?? join(here, 'results'));
export const runDir = resolve(env.BENCH_RUN_DIR ?? join(resultsDir, `run-${Date.now()}`));
export const botsFile = env.BENCH_BOTS_FILE ?? join(runDir, 'bots.json');
const pidsFile = join(runDir, 'pids');
mkdirSync(runDir, { recursive: true });

/** The environment for child processes: ours without npm's variables. */
export const baseEnv = { ...env };
for (const key of Object.keys(baseEnv)) if (key.startsWith('npm_')) delete baseEnv[key];

/**
 * The environment of a gateway process under test (API or worker): the run's settings, production mode, warnings
 * and up only, the API on 127.0.0.1:`apiPort` (also its PUBLIC_URL); `extra` adds or overrides variables.
 */
export function gatewayEnv(apiPort, extra = {}) {
  return {
    ...baseEnv,
    NODE_ENV: env.NODE_ENV ?? 'production',
    LOG_LEVEL: env.LOG_LEVEL ?? 'warn',
    HOST: '127.0.0.1',
    PORT: String(apiPort),
    PUBLIC_URL: `http://127.0.0.1:${apiPort}`,
    ...extra,
  };
}

/** Extra `node` flags from a variable such as BENCH_API_NODE_ARGS ("--cpu-prof --cpu-prof-dir=…"). */
export function nodeArgs(name) {
  return (env[name] ?? '').split(/\s+/).filter(Boolean);
}

export function positiveInt(name, fallback, min = 1) {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min) throw new Error(`${name} must be an integer ≥ ${min} (got "${raw}")`);
  return Number(raw);
}

/** The bench bots registered by run.sh: [{ id, telegramId, token, secret }]. */
export function loadBots() {
  const bots = JSON.parse(readFileSync(botsFile, 'utf8'));
  if (!Array.isArray(bots) || bots.length === 0) throw new Error(`${botsFile} lists no bots`);
  return bots;
}

// ---------------------------------------------------------------------------------------------------------------
// Child processes

const children = new Set();

/** Starts `node <args>` with its output in <runDir>/<name>.log; resolves the first stdout line if asked. */
export function startNode(name, args, childEnv, { firstLine = false } = {}) {
  const log = createWriteStream(join(runDir, `${name}.log`));
  const child = spawn(process.execPath, args, { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  const entry = { name, child, exited: false, exitCode: null };
  children.add(entry);
  appendFileSync(pidsFile, `${child.pid}\n`);
  child.stderr.pipe(log);
  const exited = new Promise((resolveExit) => {
    child.once('exit', (code, signal) => {
      entry.exited = true;
      entry.exitCode = code ?? signal;
      children.delete(entry);
      resolveExit();
    });
  });
  entry.exitedPromise = exited;
  if (!firstLine) {
    child.stdout.pipe(log);
    return { entry, line: Promise.resolve(undefined) };
  }
  const lines = createInterface({ input: child.stdout });
  const line = new Promise((resolveLine, reject) => {
    let first = true;
    lines.on('line', (text) => {
      log.write(text + '\n');
      if (first) {
        first = false;
        resolveLine(text);
      }
    });
    void exited.then(() => {
      if (first) reject(new Error(`${name} exited (${entry.exitCode}) before it was ready; see ${name}.log`));
    });
  });
  return { entry, line };
}

export async function stopChild(entry, timeoutMs = 10_000) {
  if (entry.exited) return;
  entry.child.kill('SIGTERM');
  const timer = sleep(timeoutMs).then(() => 'timeout');
  if ((await Promise.race([entry.exitedPromise, timer])) === 'timeout') {
    entry.child.kill('SIGKILL');
    await entry.exitedPromise;
  }
}

export async function stopAll() {
  await Promise.all([...children].map((entry) => stopChild(entry)));
}

/** On SIGINT/SIGTERM: stops the child processes, then exits 130. `tag` prefixes the message. */
export function stopChildrenOnSignals(tag) {
  let stopping = false;
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.once(signal, () => {
      if (stopping) return;
      stopping = true;
      console.error(`\n${tag}: ${signal}, stopping the child processes`);
      void stopAll().finally(() => process.exit(130));
    });
  }
}

export function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
  });
}

export async function waitForHttp(url, entry, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    if (entry.exited) throw new Error(`${entry.name} exited (${entry.exitCode}); see ${entry.name}.log`);
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(1_000) });
      if (response.ok) return;
      last = `HTTP ${response.status}`;
    } catch (error) {
      last = error instanceof Error ? error.message : String(error);
    }
    await sleep(200);
  }
  throw new Error(`${url} not ready after ${timeoutMs} ms (${last}); see ${entry.name}.log`);
}

// ---------------------------------------------------------------------------------------------------------------
// Process statistics (Linux /proc; null elsewhere)

let clockTicks = 100;
try {
  clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
} catch {
  // keep the usual 100 Hz
}

export function procStats(pid) {
  if (!pid) return null;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
    // fields[11], fields[12]: utime and stime (the 14th and 15th fields of /proc/<pid>/stat)
    return {
      cpuSeconds: (Number(fields[11]) + Number(fields[12])) / clockTicks,
      rssBytes: kb('VmRSS'),
      peakRssBytes: kb('VmHWM'),
    };
  } catch {
    return null;
  }
}

/** CPU time of the whole machine (all processes), from the first line of /proc/stat. */
export function machineStats() {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal: busy = all but idle and iowait
    const busy = fields.slice(0, 8).reduce((sum, n) => sum + n, 0) - fields[3] - fields[4];
    return { cpuSeconds: busy / clockTicks };
  } catch {
    return null;
  }
}

/** Cores busy on the whole machine over `ms` milliseconds (nothing of ours should be running then). */
export async function backgroundLoad(ms = 1_000) {
  const before = machineStats();
  await sleep(ms);
  return share(before, machineStats(), ms / 1000);
}

/**
 * Waits up to `seconds` for the machine to be quiet (other processes below a quarter of a core over one second):
 * on a shared machine, someone else's build or test run halves the numbers. Returns the last reading.
 */
export async function waitForIdle(label, { seconds, tag }) {
  const deadline = Date.now() + seconds * 1000;
  let busy = await backgroundLoad();
  if (busy === null || busy < 0.25) return busy;
  process.stdout.write(
    `${tag}: ${label}: the machine is busy (${busy.toFixed(2)} cores), waiting up to ${seconds} s... `,
  );
  while (busy >= 0.25 && Date.now() < deadline) busy = await backgroundLoad();
  process.stdout.write(busy < 0.25 ? 'quiet now\n' : `still ${busy.toFixed(2)} cores busy, going ahead\n`);
  return busy;
}

export function selfStats() {
  const usage = process.cpuUsage();
  return { cpuSeconds: (usage.user + usage.system) / 1e6, rssBytes: process.memoryUsage().rss, peakRssBytes: NaN };
}

/**
 * Starts measuring the CPU time of the given processes ({ name: pid }), of this process (the load generator) and of
 * the whole machine. The returned function ends the window: { wallSeconds, cpuCores: { loadGenerator, <name>...,
 * otherProcesses, machineTotal } }, in cores (1.0 = one core busy all the time).
 */
export function cpuWindow(pids) {
  const before = Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, procStats(pid)]));
  const selfBefore = selfStats();
  const machineBefore = machineStats();
  const started = process.hrtime.bigint();
  return () => {
    const wallSeconds = Number(process.hrtime.bigint() - started) / 1e9;
    const selfAfter = selfStats();
    const machine = share(machineBefore, machineStats(), wallSeconds);
    const cpu = { loadGenerator: share(selfBefore, selfAfter, wallSeconds) };
    for (const [name, pid] of Object.entries(pids)) cpu[name] = share(before[name], procStats(pid), wallSeconds);
    // Whatever else ran on the machine meanwhile (other people's builds and tests skew the numbers).
    const ours = Object.values(cpu).reduce((sum, c) => sum + (c ?? 0), 0);
    cpu.otherProcesses = machine === null ? null : round(Math.max(0, machine - ours), 2);
    cpu.machineTotal = machine;
    return { wallSeconds, cpuCores: cpu };
  };
}

/** Average cores used over the window (1.0 = one core busy all the time). */
export function share(before, after, wallSeconds) {
  if (!before || !after) return null;
  return round((after.cpuSeconds - before.cpuSeconds) / wallSeconds, 2);
}

export function round(value, digits = 0) {
  if (value === null || value === undefined || Number.isNaN(value)) return null;
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

// ---------------------------------------------------------------------------------------------------------------
// Load

// One counter for the whole process: every request of a run carries a new update_id, whichever target it goes to
// (the gateway deduplicates on bot and update_id for 25 h, in a Redis prefix shared by the run's targets).
let nextUpdateId = 1;

/**
 * autocannon's `setupRequest` for one fresh update per request (a new update_id): a private text message 'hello',
 * rotating over the given bots and over `chats` chats, posted to `/webhook/<token>` with the bot's secret header.
 */
export function updateRequests(bots, chats) {
  return (request) => {
    const n = nextUpdateId++;
    const bot = bots[n % bots.length];
    const chatId = 100_000 + (n % chats);
    request.path = `/webhook/${bot.token}`;
    request.headers = {
      ...request.headers,
      'content-type': 'application/json',
      'x-telegram-bot-api-secret-token': bot.secret,
    };
    request.body = updateBody(n, chatId);
    return request;
  };
}

/** The JSON of a Telegram update: the private text message 'hello' from `chatId` in its own chat. */
export function updateBody(updateId, chatId) {
  return JSON.stringify({
    update_id: updateId,
    message: {
      message_id: updateId,
      date: 1_700_000_000,
      chat: { id: chatId, type: 'private', first_name: 'A' },
      from: { id: chatId, is_bot: false, first_name: 'A' },
      text: 'hello',
    },
  });
}

/** What every results file starts with: the machine, the code under test, the gateway settings that were set. */
export function runInfo() {
  return {
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, memoryBytes: totalmem(), node: process.version },
    source: env.BENCH_SOURCE ?? null,
    // Gateway settings taken from the environment (they pass through to the gateway's processes); secrets excluded.
    gatewaySettings: Object.fromEntries(
      Object.entries(env).filter(
        ([key]) =>
          /^(QUEUE_|WORKER_|JOB_|COMPLETED_|FAILED_|ENQUEUE_|BOT_CACHE|BOT_NEGATIVE|DEDUPE_|SESSION_|LOG_LEVEL|NODE_ENV)/.test(
            key,
          ) && key !== 'WORKER_PORT',
      ),
    ),
  };
}

/** `seconds` of load at full speed over `connections` keep-alive connections; autocannon's numbers, summarized. */
export async function load(url, seconds, { connections, setupRequest, rate }) {
  const result = await autocannon({
    url,
    method: 'POST',
    connections,
    duration: seconds,
    // A fixed request rate across all connections (latency below saturation); by default as fast as answered.
    ...(rate ? { overallRate: rate } : {}),
    requests: [{ method: 'POST', setupRequest }],
  });
  return {
    seconds,
    requestsAverage: result.requests.average,
    requestsTotal: result.requests.total,
    latencyMs: {
      average: result.latency.average,
      p50: result.latency.p50,
      p90: result.latency.p90,
      p99: result.latency.p99,
      p999: result.latency.p99_9,
      max: result.latency.max,
    },
    status2xx: result['2xx'],
    non2xx: result.non2xx,
    statusCodes: Object.fromEntries(Object.entries(result.statusCodeStats ?? {}).map(([k, v]) => [k, v.count])),
    errors: result.errors,
    timeouts: result.timeouts,
    resets: result.resets ?? 0,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Prometheus text format, HTTP

export function metricSum(text, name, labels = {}) {
  let sum = 0;
  let found = false;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const match = /^([a-zA-Z_:][\w:]*)(\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (!match || match[1] !== name) continue;
    const have = Object.fromEntries([...(match[3] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([key, value]) => have[key] === value)) {
      sum += Number(match[4]);
      found = true;
    }
  }
  return found ? sum : 0;
}

export function metricLabels(text, name, label) {
  const out = {};
  for (const line of text.split('\n')) {
    const match = new RegExp(`^${name}\\{[^}]*${label}="([^"]*)"[^}]*\\}\\s+(\\S+)`).exec(line);
    if (match) out[match[1]] = (out[match[1]] ?? 0) + Number(match[2]);
  }
  return out;
}

export async function getText(url) {
  const adminKey = (env.ADMIN_API_KEYS ?? '').split(',')[0]?.trim();
  const headers = adminKey ? { authorization: `Bearer ${adminKey}`, 'x-api-key': adminKey } : {};
  const response = await fetch(url, { headers, signal: AbortSignal.timeout(5_000) });
  if (!response.ok) throw new Error(`GET ${url} → HTTP ${response.status}`);
  return response.text();
}

export async function getJson(url) {
  return JSON.parse(await getText(url));
}

// ---------------------------------------------------------------------------------------------------------------
// Redis

export async function redisMemory(redis) {
  const info = await redis.info('memory');
  return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? NaN);
}

export async function redisPid(redis) {
  try {
    return Number(/process_id:(\d+)/.exec(await redis.info('server'))?.[1]) || null;
  } catch {
    return null;
  }
}

export async function slowlogHead(redis) {
  try {
    const [latest] = await redis.slowlog('GET', 1);
    return latest ? Number(latest[0]) : -1;
  } catch {
    return null;
  }
}

export async function slowlogSince(redis, fromId) {
  if (fromId === null) return null;
  try {
    const entries = (await redis.slowlog('GET', 1000)).filter((entry) => Number(entry[0]) > fromId);
    const byCommand = {};
    let totalMs = 0;
    for (const entry of entries) {
      const command = String(entry[3]?.[0] ?? '?').toUpperCase();
      const ms = Number(entry[2]) / 1000;
      byCommand[command] = round((byCommand[command] ?? 0) + ms, 1);
      totalMs += ms;
    }
    return { entries: entries.length, totalMs: round(totalMs, 1), msByCommand: byCommand };
  } catch {
    return null;
  }
}

export async function deleteKeys(redis, prefix) {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await redis.unlink(...keys);
  } while (cursor !== '0');
}

export async function countKeys(redis, prefix) {
  let cursor = '0';
  let count = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    count += keys.length;
  } while (cursor !== '0');
  return count;
}

// ---------------------------------------------------------------------------------------------------------------
// Formatting

export function fmt(n, digits = 0) {
  if (n === null || n === undefined || Number.isNaN(n)) return 'n/a';
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function mb(bytes) {
  return bytes === null || bytes === undefined || Number.isNaN(bytes) ? 'n/a' : `${fmt(bytes / 1024 / 1024)} MB`;
}

export function table(rows) {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => String(row[i]).length)));
  return rows
    .map((row, r) =>
      [
        row.map((cell, i) => (i === 0 ? String(cell).padEnd(widths[i]) : String(cell).padStart(widths[i]))).join('  '),
        r === 0 ? widths.map((w) => '-'.repeat(w)).join('  ') : null,
      ]
        .filter(Boolean)
        .join('\n'),
    )
    .join('\n');
}
