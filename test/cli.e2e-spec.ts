import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BotView, toBotView } from '../src/bots/bot.view';
import { migrate } from '../src/infra/database/migrator';
import { FakeTelegram } from './support/fake-telegram';
import { Harness, TEST_DATABASE_URL, testEnv, waitUntil } from './support/harness';
import { alice, textUpdate } from './support/updates';

/**
 * The operator CLI as operators run it: the compiled `dist/cli.js` in a child process, with the environment of
 * a test gateway (same keys, database and Redis prefix), against real Postgres and Redis and the fake Telegram.
 *
 * The file has a database of its own, created here and dropped at the end: sync-webhooks and
 * rotate-encryption-key work on every bot in the database, which must not include other test files' bots.
 */
const CLI = resolve(__dirname, '..', 'dist', 'cli.js');
const EXAMPLE_FEATURES = resolve(__dirname, '..', 'examples', 'feature-module');
/** Generous: a run costs about a CPU-second of module loading, and test files run in parallel. */
const RUN_TIMEOUT_MS = 45_000;
/** More parallel runs than cores only make each one slower. */
const MAX_PARALLEL_RUNS = 3;

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

let running = 0;
const queued: (() => void)[] = [];

async function runCli(env: Record<string, string>, args: string[], input = ''): Promise<CliRun> {
  if (running >= MAX_PARALLEL_RUNS) await new Promise<void>((start) => queued.push(start));
  running++;
  try {
    return await spawnCli(env, args, input);
  } finally {
    running--;
    queued.shift()?.();
  }
}

function spawnCli(env: Record<string, string>, args: string[], input: string): Promise<CliRun> {
  return new Promise((done, reject) => {
    const started = Date.now();
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`tg-gateway ${args.join(' ')} did not exit within ${RUN_TIMEOUT_MS} ms\n${stdout}\n${stderr}`));
    }, RUN_TIMEOUT_MS);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr, ms: Date.now() - started });
    });
    child.stdin.end(input);
  });
}

/** A failure as the CLI must report it: nothing on stdout, exactly one `error: …` line on stderr. */
function expectOneErrorLine(run: CliRun, code: number, message: string | RegExp): void {
  expect({ code: run.code, stdout: run.stdout }).toEqual({ code, stdout: '' });
  const lines = run.stderr.split('\n').filter(Boolean);
  expect(lines).toHaveLength(1);
  if (typeof message === 'string') expect(lines[0]).toBe(`error: ${message}`);
  else expect(lines[0]).toMatch(message);
}

function databaseUrlNamed(name: string): string {
  const url = new URL(TEST_DATABASE_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

function key(): string {
  return randomBytes(32).toString('base64');
}

describe('tg-gateway CLI (dist/cli.js)', { timeout: 120_000 }, () => {
  const databaseName = `tg_gateway_test_cli_${randomBytes(4).toString('hex')}`;
  const databaseUrl = databaseUrlNamed(databaseName);
  const k1 = key();
  let telegram: FakeTelegram;
  let env: Record<string, string>;
  let gw: Harness;
  let db: Client;

  const cli = (args: string[], input?: string) => runCli(env, args, input);

  beforeAll(async () => {
    if (!existsSync(CLI)) {
      throw new Error(`${CLI} is missing: build first (npm run build; scripts/test.sh does it before vitest)`);
    }
    const newestSource = Math.max(...['src/cli.ts', 'src/cli', 'src/bots'].map((p) => statSync(p).mtimeMs));
    if (statSync(CLI).mtimeMs < newestSource) console.warn('dist/cli.js may be older than src/: run npm run build');
    await migrate(databaseUrl);
    db = new Client({ connectionString: databaseUrl });
    await db.connect();
    telegram = await FakeTelegram.start();
    env = testEnv(telegram.apiRoot, {
      DATABASE_URL: databaseUrl,
      TOKEN_ENCRYPTION_KEYS: `k1:${k1}`,
      // Long enough that only the CLI's announcement over Redis can make a running gateway see a change in time.
      BOT_CACHE_TTL_MS: '120000',
      BOT_NEGATIVE_CACHE_TTL_MS: '120000',
      FEATURE_MODULES: EXAMPLE_FEATURES,
    });
    gw = await Harness.start({ role: 'all', env, telegram });
  });

  afterAll(async () => {
    await gw?.close();
    await telegram?.close();
    await db?.end();
    const admin = new Client({ connectionString: databaseUrlNamed('postgres') });
    await admin.connect();
    try {
      await admin.query(`DROP DATABASE IF EXISTS "${databaseName}" WITH (FORCE)`);
    } finally {
      await admin.end();
    }
  });

  /** A bot Telegram knows, registered through `bots add` with the token on standard input. */
  async function addBotWithCli(firstName?: string): Promise<{ bot: BotView; token: string }> {
    const { token } = telegram.addBot(firstName ? { first_name: firstName } : {});
    const run = await cli(['bots', 'add', '--json'], `${token}\n`);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    return { bot: JSON.parse(run.stdout) as BotView, token };
  }

  /** A bot Telegram knows, registered in-process (the same keys and database as the CLI), to save a CLI run. */
  async function addBot(firstName?: string): Promise<{ bot: BotView; token: string }> {
    const { record, token } = await gw.registerBot(firstName ? { first_name: firstName } : {});
    return { bot: toBotView(record), token };
  }

  /** Sets a webhook at the fake Telegram the way someone else (or an old deployment) would have. */
  async function setWebhookDirectly(token: string, url: string): Promise<void> {
    const res = await fetch(`${telegram.apiRoot}/bot${token}/setWebhook`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ url }),
    });
    expect(res.status).toBe(200);
  }

  async function secretOf(botId: string): Promise<string> {
    const record = await gw.registry.resolve(botId);
    return gw.registry.webhookSecretOf(record!);
  }

  async function botRows(): Promise<{ id: string; enabled: boolean; token_key_id: string }[]> {
    return (await db.query('SELECT id, enabled, token_key_id FROM bots ORDER BY id')).rows;
  }

  describe('help and usage', () => {
    it('prints the help of every command on stdout and exits 0', async () => {
      const expected: [string[], string[]][] = [
        [[], ['set-webhook', 'delete-webhook', 'webhook-info', 'rotate-secret', 'sync-webhooks', 'bots', 'features']],
        [['bots'], ['add', 'list', 'show', 'enable', 'disable', 'albums', 'remove', 'replace-token', 'features']],
        [
          ['bots', 'add'],
          ['--name <name>', '--token <token>', '--features <names>', '--json'],
        ],
        [
          ['bots', 'features'],
          ['show', 'set', 'add', 'remove'],
        ],
        [
          ['bots', 'features', 'add'],
          ['<botId>', '<feature>', '--settings <json>', '--json'],
        ],
        [
          ['bots', 'list'],
          ['--json', '--enabled', '--disabled'],
        ],
        [
          ['bots', 'show'],
          ['<botId>', '--json'],
        ],
        [['bots', 'enable'], ['<botId>']],
        [['bots', 'disable'], ['<botId>']],
        [
          ['bots', 'albums'],
          ['<botId>', '<onOrOff>'],
        ],
        [['bots', 'remove'], ['<botId>']],
        [
          ['bots', 'replace-token'],
          ['<botId>', '--token <token>'],
        ],
        [
          ['set-webhook'],
          ['<botId>', '--url <publicUrl>', '--drop-pending-updates', '--max-connections <n>', '--allowed-updates'],
        ],
        [['delete-webhook'], ['<botId>', '--drop-pending-updates']],
        [['webhook-info'], ['<botId>', '--json']],
        [['rotate-secret'], ['<botId>']],
        [['sync-webhooks'], ['--dry-run', '--url <publicUrl>']],
        [['rotate-encryption-key'], ['--batch-size <n>', 'TOKEN_ENCRYPTION_KEYS']],
      ];
      const [helpCommand, ...runs] = await Promise.all([
        cli(['help', 'set-webhook']),
        ...expected.map(([command]) => cli([...command, '--help'])),
      ]);
      expect(helpCommand.code).toBe(0);
      expect(helpCommand.stdout).toContain('Usage: tg-gateway set-webhook [options] <botId>');
      runs.forEach((run, i) => {
        const [command, snippets] = expected[i];
        expect({ command, code: run.code, stderr: run.stderr }).toEqual({ command, code: 0, stderr: '' });
        expect(run.stdout).toContain(`Usage: tg-gateway ${command.join(' ')}`.trimEnd());
        for (const snippet of snippets) expect(run.stdout).toContain(snippet);
      });
    });

    it('rejects bad arguments with one usage line on stderr and exit status 2', async () => {
      const cases: [string[], RegExp][] = [
        [['frobnicate'], /^error: unknown command 'frobnicate'/],
        [['bots', 'frobnicate'], /^error: unknown command 'bots frobnicate'/],
        [['bots', 'show'], /^error: missing required argument 'botId'/],
        [['bots', 'list', '--jsn'], /^error: unknown option '--jsn' \(Did you mean --json\?\)$/],
        // A token pasted where a command belongs is not repeated back.
        [['123456789:AAbcdefghijklmnopqrstuvwxyz0123456789'], /^error: unknown command '<redacted-token>'$/],
        [['bots', 'list', '--enabled', '--disabled'], /^error: --enabled and --disabled cannot be used together$/],
        [['set-webhook', '@x', '--max-connections', 'abc'], /^error: option '--max-connections <n>' argument 'abc'/],
        [['set-webhook', '@x', '--max-connections', '0'], /Expected an integer from 1 to 100/],
        [['set-webhook', '@x', '--max-connections', '101'], /Expected an integer from 1 to 100/],
        [
          ['set-webhook', '@x', '--allowed-updates', 'message,messages'],
          /unknown update type "messages"; known types: message, edited_message, .*, managed_bot, subscription\.$/,
        ],
        [['set-webhook', '@x', '--url', 'ftp://example.com'], /^error: option '--url <publicUrl>' argument/],
        [['set-webhook', '@x', '--url', 'https://u:p@example.com'], /The URL must not contain credentials/],
        [['rotate-encryption-key', '--batch-size', '0'], /Expected an integer from 1 to 1000/],
        [['bots', 'add'], /^error: no token given/],
        [['bots', 'albums', '@x', 'maybe'], /^error: expected "on" or "off", got "maybe"$/],
      ];
      const runs = await Promise.all(cases.map(([args]) => cli(args)));
      runs.forEach((run, i) => expectOneErrorLine(run, 2, cases[i][1]));
      expect(telegram.calls).toHaveLength(0);
    });

    it('prints help and the version without a valid configuration, and nothing else', async () => {
      const broken = { ...env, TOKEN_HASH_KEY: 'not-a-key', DATABASE_URL: 'mysql://nowhere' };
      const [root, command, helpCommand, version, list] = await Promise.all([
        runCli(broken, ['--help']),
        runCli(broken, ['bots', 'add', '--help']),
        runCli(broken, ['help', 'set-webhook']),
        runCli(broken, ['--version']),
        runCli(broken, ['bots', 'list']),
      ]);
      for (const run of [root, command, helpCommand, version]) {
        expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
      }
      expect(root.stdout).toContain('Usage: tg-gateway [options] [command]');
      expect(command.stdout).toContain('Usage: tg-gateway bots add [options]');
      expect(helpCommand.stdout).toContain('Usage: tg-gateway set-webhook [options] <botId>');
      expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
      expectOneErrorLine(list, 1, /^error: invalid configuration: .*TOKEN_HASH_KEY must be 32 bytes/);
      expect(list.stderr).toContain('DATABASE_URL must be a postgres: or postgresql: URL');
    });

    it('says once, when it generates them, that development keys are in use', async () => {
      const keysFile = join(mkdtempSync(join(tmpdir(), 'tgw-cli-keys-')), 'dev-keys.json');
      const devEnv: Record<string, string> = { ...env, NODE_ENV: 'development', DEV_KEYS_FILE: keysFile };
      for (const name of ['TOKEN_ENCRYPTION_KEYS', 'TOKEN_HASH_KEY', 'ADMIN_API_KEYS']) delete devEnv[name];

      const first = await runCli(devEnv, ['bots', 'list', '--json']);
      expect(first.code).toBe(0);
      expect(first.stderr).toBe(
        `warning: generated development keys in ${keysFile} (used from now on while TOKEN_ENCRYPTION_KEYS, ` +
          'TOKEN_HASH_KEY and ADMIN_API_KEYS are unset; never use them in production)\n',
      );
      expect(existsSync(keysFile)).toBe(true);

      const [again, failure] = await Promise.all([
        runCli(devEnv, ['bots', 'list', '--json']),
        runCli(devEnv, ['bots', 'show', '@nobody_here_bot']),
      ]);
      expect({ code: again.code, stderr: again.stderr }).toEqual({ code: 0, stderr: '' });
      expectOneErrorLine(failure, 1, 'No bot @nobody_here_bot');
    });

    it('prints the usage on stderr with status 2 when no command is given', async () => {
      const [none, bots] = await Promise.all([cli([]), cli(['bots'])]);
      for (const run of [none, bots]) {
        expect(run.code).toBe(2);
        expect(run.stdout).toBe('');
        expect(run.stderr).toContain('Usage: tg-gateway');
      }
    });
  });

  describe('bots', () => {
    it('bots add reads the token from standard input and never prints it', async () => {
      const { token, bot: info } = telegram.addBot({ first_name: 'Helpdesk' });
      const run = await cli(['bots', 'add', '--name', 'Support desk'], `  ${token}  \n`);
      expect(run.code).toBe(0);
      expect(run.stderr).toBe('');
      expect(run.stdout).toContain(`Registered @${info.username}`);
      expect(run.stdout).toMatch(/^name:\s+Support desk$/m);
      expect(run.stdout).toMatch(new RegExp(`^telegram id:\\s+${info.id}$`, 'm'));
      expect(run.stdout + run.stderr).not.toContain(token);
      expect(run.stdout + run.stderr).not.toContain(token.split(':')[1]);
      expect(telegram.callsOf('getMe', token)).toHaveLength(1);

      const { rows } = await db.query('SELECT name, token_key_id, token_ciphertext FROM bots WHERE telegram_id = $1', [
        info.id,
      ]);
      expect(rows).toHaveLength(1);
      expect(rows[0].name).toBe('Support desk');
      expect(rows[0].token_key_id).toBe('k1');
      expect(Buffer.from(rows[0].token_ciphertext).toString('latin1')).not.toContain(token);
    });

    it('bots add --token and --json print the bot as JSON, without the token', async () => {
      const { token, bot: info } = telegram.addBot();
      const run = await cli(['bots', 'add', '--token', token, '--json']);
      expect(run.code).toBe(0);
      const bot = JSON.parse(run.stdout) as BotView;
      expect(bot).toMatchObject({ telegramId: String(info.id), username: info.username, name: info.first_name });
      expect(Object.keys(bot).sort()).toEqual(
        [
          'albums',
          'createdAt',
          'enabled',
          'features',
          'firstName',
          'id',
          'name',
          'revoked',
          'revokedAt',
          'telegramId',
          'tenantId',
          'updatedAt',
          'username',
        ].sort(),
      );
      expect(run.stdout + run.stderr).not.toContain(token);
    });

    it('bots add reports a token Telegram rejects (401), an unreachable Telegram and a duplicate', async () => {
      const unknown = `${7_999_000_000 + Math.floor(Math.random() * 1000)}:AA${randomBytes(24).toString('base64url')}`;
      const { token: known } = await addBot();
      const [rejected, unreachable, duplicate, malformed] = await Promise.all([
        cli(['bots', 'add'], unknown),
        runCli({ ...env, TELEGRAM_API_ROOT: 'http://127.0.0.1:1' }, ['bots', 'add'], unknown),
        cli(['bots', 'add'], known),
        cli(['bots', 'add'], 'not-a-token'),
      ]);
      expectOneErrorLine(rejected, 1, 'Telegram getMe: Unauthorized');
      expectOneErrorLine(unreachable, 1, 'Telegram is unreachable (getMe)');
      expectOneErrorLine(duplicate, 1, /^error: Bot @fake_\d+_bot is already registered$/);
      expectOneErrorLine(malformed, 1, /^error: token does not look like a Telegram bot token/);
      for (const run of [rejected, unreachable, duplicate]) {
        expect(run.stderr).not.toContain(unknown);
        expect(run.stderr).not.toContain(known);
      }
    });

    it('bots show finds a bot by gateway id, Telegram id and @username', async () => {
      const { bot } = await addBot('Finder');
      const runs = await Promise.all(
        [bot.id, bot.telegramId, `@${bot.username.toUpperCase()}`].map((ref) => cli(['bots', 'show', ref])),
      );
      for (const run of runs) {
        expect(run.code).toBe(0);
        expect(run.stdout).toMatch(new RegExp(`^id:\\s+${bot.id}$`, 'm'));
        expect(run.stdout).toMatch(new RegExp(`^username:\\s+@${bot.username}$`, 'm'));
        expect(run.stdout).toMatch(/^enabled:\s+yes$/m);
      }
      const json = await cli(['bots', 'show', bot.telegramId, '--json']);
      expect(JSON.parse(json.stdout)).toEqual(bot);
    });

    it('bots albums switches albums on and off', async () => {
      const { bot } = await addBot('Albums');
      expect(bot.albums).toBe(false);
      const on = await cli(['bots', 'albums', bot.id, 'on']);
      expect(on).toMatchObject({ code: 0, stdout: `Albums on for @${bot.username} (${bot.id})\n` });
      expect((await db.query('SELECT albums FROM bots WHERE id = $1', [bot.id])).rows).toEqual([{ albums: true }]);
      expect((await cli(['bots', 'show', bot.id])).stdout).toMatch(/^albums:\s+on$/m);
      expect((await cli(['bots', 'albums', `@${bot.username}`, 'off'])).code).toBe(0);
      expect((await db.query('SELECT albums FROM bots WHERE id = $1', [bot.id])).rows).toEqual([{ albums: false }]);
    });

    it('reports an unknown bot with one line and status 1, whatever the kind of id', async () => {
      const runs = await Promise.all([
        cli(['bots', 'show', '@nobody_here_bot']),
        cli(['bots', 'enable', '00000000-0000-4000-8000-000000000000']),
        cli(['set-webhook', '123456789']),
        cli(['webhook-info', 'not an id']),
        cli(['bots', 'remove', '@nobody_here_bot']),
      ]);
      expectOneErrorLine(runs[0], 1, 'No bot @nobody_here_bot');
      expectOneErrorLine(runs[1], 1, 'No bot 00000000-0000-4000-8000-000000000000');
      expectOneErrorLine(runs[2], 1, 'No bot 123456789');
      expectOneErrorLine(runs[3], 1, 'No bot not an id');
      expectOneErrorLine(runs[4], 1, 'No bot @nobody_here_bot');
    });

    it('bots list shows every bot in a table, follows all pages, and filters by --enabled/--disabled', async () => {
      const { bot: on } = await addBot('Listed on');
      const { bot: off } = await addBot('Listed off');
      await db.query('UPDATE bots SET enabled = false WHERE id = $1', [off.id]);
      // More bots than one page of the service (100), registered directly to keep the test fast.
      const extra: string[] = [];
      for (let i = 0; i < 101; i++) extra.push((await gw.registerBot()).record.id);
      try {
        const [tableRun, all, enabled, disabled] = await Promise.all([
          cli(['bots', 'list']),
          cli(['bots', 'list', '--json']),
          cli(['bots', 'list', '--json', '--enabled']),
          cli(['bots', 'list', '--json', '--disabled']),
        ]);
        const total = (await botRows()).length;
        expect(tableRun.code).toBe(0);
        const lines = tableRun.stdout.trimEnd().split('\n');
        expect(lines[0]).toMatch(/^ID\s+TELEGRAM ID\s+USERNAME\s+NAME\s+ENABLED\s+TOKEN$/);
        expect(lines).toHaveLength(total + 2);
        expect(lines[lines.length - 1]).toBe(`${total} bots`);
        expect(tableRun.stdout).toMatch(
          new RegExp(`^${on.id}\\s+${on.telegramId}\\s+@${on.username}\\s+Listed on\\s+yes\\s+ok$`, 'm'),
        );
        expect(tableRun.stdout).toMatch(new RegExp(`^${off.id}\\s+.*\\s+no\\s+ok$`, 'm'));

        const ids = (run: typeof all) => (JSON.parse(run.stdout) as BotView[]).map((b) => b.id);
        expect(ids(all)).toHaveLength(total);
        expect(new Set(ids(all)).size).toBe(total);
        expect(ids(all)).toEqual(expect.arrayContaining([on.id, off.id, ...extra]));
        expect(ids(enabled)).toContain(on.id);
        expect(ids(enabled)).not.toContain(off.id);
        expect(ids(disabled)).toContain(off.id);
        expect(ids(disabled)).not.toContain(on.id);
      } finally {
        await db.query('DELETE FROM bots WHERE id = ANY($1::uuid[])', [extra]);
      }
    });

    it('bots disable and enable take effect on a running gateway at once', async () => {
      const { bot, token } = await addBot();
      const secret = await secretOf(bot.id);
      // The gateway now has the bot in its cache (for BOT_CACHE_TTL_MS = 2 minutes).
      expect((await gw.post(token, textUpdate(alice, 'one'), { secret })).status).toBe(200);

      const disabled = await cli(['bots', 'disable', `@${bot.username}`]);
      expect(disabled.code).toBe(0);
      expect(disabled.stdout).toBe(`Disabled @${bot.username} (${bot.id})\n`);
      expect((await botRows()).find((r) => r.id === bot.id)?.enabled).toBe(false);
      await waitUntil(
        async () => (await gw.post(token, textUpdate(alice, 'two'), { secret })).status === 404,
        3_000,
        'the gateway to refuse the disabled bot',
      );

      const enabled = await cli(['bots', 'enable', bot.telegramId]);
      expect(enabled.code).toBe(0);
      expect(enabled.stdout).toBe(`Enabled @${bot.username} (${bot.id})\n`);
      await waitUntil(
        async () => (await gw.post(token, textUpdate(alice, 'three'), { secret })).status === 200,
        3_000,
        'the gateway to accept the enabled bot again',
      );
    });

    it('bots remove deletes the bot and its webhook at Telegram, and says whether that worked', async () => {
      const { bot, token } = await addBot();
      await setWebhookDirectly(token, `https://gateway.example.com/webhook/${token}`);
      const removed = await cli(['bots', 'remove', `@${bot.username}`]);
      expect(removed.code).toBe(0);
      expect(removed.stdout).toBe(`Removed @${bot.username} (${bot.id})\nWebhook at Telegram removed: yes\n`);
      expect(telegram.webhookOf(token)).toBeUndefined();
      expect((await botRows()).map((r) => r.id)).not.toContain(bot.id);
      expect((await gw.post(token, textUpdate(alice, 'gone'), { secret: 'whatever' })).status).toBe(404);

      const { bot: other, token: otherToken } = await addBot();
      telegram.fail('deleteWebhook', 'network');
      const unreachable = await cli(['bots', 'remove', other.id]);
      expect(unreachable.code).toBe(0);
      expect(unreachable.stdout).toContain('Webhook at Telegram removed: no (Telegram is unreachable (deleteWebhook))');
      expect(unreachable.stdout + unreachable.stderr).not.toContain(otherToken);
      expect((await botRows()).map((r) => r.id)).not.toContain(other.id);
    });

    it('bots replace-token takes a new token of the same Telegram bot from standard input', async () => {
      const { bot, token: oldToken } = await addBot();
      const { token: newToken } = telegram.addBot({ id: Number(bot.telegramId), username: bot.username });
      const run = await cli(['bots', 'replace-token', bot.id], newToken);
      expect(run.code).toBe(0);
      expect(run.stdout).toContain(`Token replaced for @${bot.username}`);
      expect(run.stdout + run.stderr).not.toContain(newToken);
      expect(run.stdout + run.stderr).not.toContain(oldToken);

      expect((await cli(['set-webhook', bot.id])).code).toBe(0);
      expect(telegram.webhookOf(newToken)?.url).toBe(`https://gateway.example.com/webhook/${newToken}`);

      const { token: foreign } = telegram.addBot();
      const mismatch = await cli(['bots', 'replace-token', bot.id, '--token', foreign]);
      expectOneErrorLine(mismatch, 1, /^error: The new token belongs to Telegram bot \d+ \(@fake_\d+_bot\), not \d+$/);
    });
  });

  describe('features', () => {
    const featuresOf = async (botId: string) => {
      const run = await cli(['bots', 'features', 'show', botId, '--json']);
      expect(run.code).toBe(0);
      return JSON.parse(run.stdout).features;
    };

    it('registers a bot with features, then adds, sets and removes them; a running gateway follows', async () => {
      const { token } = telegram.addBot();
      const add = await cli(['bots', 'add', '--features', 'start,greeter', '--json'], `${token}\n`);
      expect(add.code).toBe(0);
      const bot = JSON.parse(add.stdout) as BotView;
      expect(bot.features).toEqual(['start', 'greeter']);

      const put = await cli([
        'bots',
        'features',
        'add',
        `@${bot.username}`,
        'greeter',
        '--settings',
        '{"greeting":"Ahoy"}',
      ]);
      expect(put.code).toBe(0);
      expect(put.stdout).toBe('FEATURE  SETTINGS\nstart    -\ngreeter  {"greeting":"Ahoy"}\n');
      // The running gateway hears of it over Redis (its cache would otherwise keep the bot for BOT_CACHE_TTL_MS).
      const record = (await gw.registry.resolve(bot.id))!;
      const registered = { record, token, secret: gw.registry.webhookSecretOf(record), info: record.botInfo as never };
      await gw.deliver(registered, textUpdate(alice, '/hello'));
      await telegram.waitFor(
        () => telegram.callsOf('sendMessage', token).some((c) => c.params.text === 'Ahoy, Alice!'),
        10_000,
        'the greeting with the new settings',
      );

      const set = await cli(['bots', 'features', 'set', bot.id, 'echo,greeter', '--json']);
      expect(set.code).toBe(0);
      expect(JSON.parse(set.stdout).features).toEqual([
        { name: 'echo' },
        { name: 'greeter', settings: { greeting: 'Ahoy' } },
      ]);
      expect((await cli(['bots', 'features', 'remove', bot.id, 'echo'])).code).toBe(0);
      expect(await featuresOf(bot.id)).toEqual([{ name: 'greeter', settings: { greeting: 'Ahoy' } }]);
      expect((await cli(['bots', 'features', 'set', bot.id, ''])).stdout).toBe(
        '(no features: the bot answers nothing)\n',
      );
      expect((await cli(['bots', 'show', bot.id])).stdout).toContain('features:     (none)\n');
    });

    it('refuses unknown features, bad settings and bad names with one line', async () => {
      const { bot } = await addBot();
      const runs = await Promise.all([
        cli(['bots', 'features', 'add', bot.id, 'nope']),
        cli(['bots', 'features', 'add', bot.id, 'notes', '--settings', '{"max":0}']),
        cli(['bots', 'features', 'add', bot.id, 'notes', '--settings', 'max=3']),
        cli(['bots', 'features', 'remove', bot.id, 'notes']),
        cli(['bots', 'add', '--features', 'Start!', '--token', 'x']),
      ]);
      expectOneErrorLine(
        runs[0],
        1,
        /^error: No feature "nope" \(known: start, form, counter, callback-query, echo, greeter, notes\)$/,
      );
      expectOneErrorLine(runs[1], 1, 'Invalid settings for feature "notes": settings/max must be >= 1');
      expectOneErrorLine(
        runs[2],
        2,
        /^error: option '--settings <json>' argument 'max=3' is invalid\. Expected a JSON object/,
      );
      expectOneErrorLine(runs[3], 1, `Bot @${bot.username} does not have the feature "notes"`);
      expectOneErrorLine(runs[4], 2, /^error: option '--features <names>' argument 'Start!' is invalid\./);
      expect(await featuresOf(bot.id)).toEqual(
        toBotView((await gw.registry.resolve(bot.id))!).features.map((name) => ({ name })),
      );
    });

    it('lists the features bots can run, and refuses to run with a module that clashes', async () => {
      const list = await cli(['features', '--json']);
      expect(list.code).toBe(0);
      expect(JSON.parse(list.stdout).map((f: { name: string; source: string }) => `${f.name} ${f.source}`)).toEqual([
        'start built-in',
        'form built-in',
        'counter built-in',
        'callback-query built-in',
        'echo built-in',
        `greeter ${EXAMPLE_FEATURES}`,
        `notes ${EXAMPLE_FEATURES}`,
      ]);
      const clash = resolve(__dirname, 'fixtures', 'feature-modules', 'clash-greeter.cjs');
      const refused = await runCli({ ...env, FEATURE_MODULES: `${EXAMPLE_FEATURES},${clash}` }, ['features']);
      expectOneErrorLine(
        refused,
        1,
        `FEATURE_MODULES: feature "greeter" of module "${clash}" clashes with module "${EXAMPLE_FEATURES}" of the same name; rename one of them`,
      );
    });
  });

  describe('webhooks', () => {
    it('set-webhook gives Telegram PUBLIC_URL/webhook/<token> and the bot secret, with no optional parameter', async () => {
      const { bot, token } = await addBot();
      const run = await cli(['set-webhook', `@${bot.username}`]);
      expect(run.code).toBe(0);
      expect(run.stderr).toBe('');
      expect(run.stdout).toContain(`Webhook set for @${bot.username}`);
      expect(run.stdout).toMatch(/^url:\s+https:\/\/gateway\.example\.com\/webhook\/<redacted>$/m);
      expect(run.stdout).toMatch(/^matches expected:\s+yes$/m);
      expect(run.stdout).not.toContain(token);

      const [call] = telegram.callsOf('setWebhook', token);
      expect(call.params).toEqual({
        url: `https://gateway.example.com/webhook/${token}`,
        secret_token: await secretOf(bot.id),
      });
      expect(run.stdout).not.toContain(call.params.secret_token);
    });

    it('set-webhook passes --url, --drop-pending-updates, --max-connections and --allowed-updates', async () => {
      const { bot, token } = await addBot();
      const run = await cli([
        'set-webhook',
        bot.telegramId,
        '--url',
        'https://hooks.example.org/tg/',
        '--drop-pending-updates',
        '--max-connections',
        '7',
        '--allowed-updates',
        'message,callback_query',
      ]);
      expect(run.code).toBe(0);
      expect(telegram.webhookOf(token)).toEqual({
        url: `https://hooks.example.org/tg/webhook/${token}`,
        secret_token: await secretOf(bot.id),
        drop_pending_updates: true,
        max_connections: 7,
        allowed_updates: ['message', 'callback_query'],
      });
      expect(run.stdout).toMatch(/^url:\s+https:\/\/hooks\.example\.org\/tg\/webhook\/<redacted>$/m);
      expect(run.stdout).toMatch(/^matches expected:\s+yes$/m);
      expect(run.stdout).toMatch(/^max connections:\s+7$/m);
      expect(run.stdout).toMatch(/^allowed updates:\s+message,callback_query$/m);
      expect(run.stdout).not.toContain(token);
    });

    it('set-webhook reports Telegram errors (5xx, 429, unreachable) with one line', async () => {
      const { bot, token } = await addBot();
      telegram.fail('setWebhook', FakeTelegram.error(500, 'Internal Server Error'));
      const serverError = await cli(['set-webhook', bot.id]);
      telegram.fail('setWebhook', FakeTelegram.error(429, 'Too Many Requests: retry after 3', { retry_after: 3 }));
      const limited = await cli(['set-webhook', bot.id]);
      const unreachable = await runCli({ ...env, TELEGRAM_API_ROOT: 'http://127.0.0.1:1' }, ['set-webhook', bot.id]);
      expectOneErrorLine(serverError, 1, 'Telegram setWebhook failed: Internal Server Error');
      expectOneErrorLine(limited, 1, 'Telegram setWebhook: Too Many Requests: retry after 3');
      expectOneErrorLine(unreachable, 1, 'Telegram is unreachable (setWebhook)');
      expect(telegram.webhookOf(token)).toBeUndefined();
    });

    it('webhook-info shows the redacted URL, whether it matches, pending updates and the last error', async () => {
      const { bot, token } = await addBot();
      const none = await cli(['webhook-info', bot.id]);
      expect(none.code).toBe(0);
      expect(none.stdout).toMatch(/^url:\s+\(no webhook set\)$/m);
      expect(none.stdout).toMatch(/^matches expected:\s+no$/m);

      const lastErrorDate = Math.floor(Date.now() / 1000) - 60;
      telegram.fail('getWebhookInfo', {
        status: 200,
        body: {
          ok: true,
          result: {
            url: `https://old.example.net/webhook/${token}`,
            has_custom_certificate: false,
            pending_update_count: 42,
            last_error_date: lastErrorDate,
            last_error_message: 'Wrong response from the webhook: 502 Bad Gateway',
            max_connections: 40,
          },
        },
      });
      const drifted = await cli(['webhook-info', `@${bot.username}`]);
      expect(drifted.code).toBe(0);
      expect(drifted.stdout).toMatch(/^url:\s+https:\/\/old\.example\.net\/webhook\/<redacted>$/m);
      expect(drifted.stdout).toMatch(/^expected url:\s+https:\/\/gateway\.example\.com\/webhook\/<redacted>$/m);
      expect(drifted.stdout).toMatch(/^matches expected:\s+no$/m);
      expect(drifted.stdout).toMatch(/^pending updates:\s+42$/m);
      expect(drifted.stdout).toContain(
        `${new Date(lastErrorDate * 1000).toISOString()} Wrong response from the webhook: 502 Bad Gateway`,
      );
      expect(drifted.stdout).not.toContain(token);

      expect((await cli(['set-webhook', bot.id])).code).toBe(0);
      const json = await cli(['webhook-info', bot.telegramId, '--json']);
      expect(JSON.parse(json.stdout)).toMatchObject({
        url: 'https://gateway.example.com/webhook/<redacted>',
        matchesExpected: true,
        pendingUpdateCount: 0,
        lastErrorMessage: null,
      });
      expect(json.stdout).not.toContain(token);
    });

    it('delete-webhook removes the webhook at Telegram, optionally dropping pending updates', async () => {
      const { bot, token } = await addBot();
      await setWebhookDirectly(token, `https://gateway.example.com/webhook/${token}`);
      const run = await cli(['delete-webhook', `@${bot.username}`, '--drop-pending-updates']);
      expect(run.code).toBe(0);
      expect(run.stdout).toContain(`Webhook deleted for @${bot.username}`);
      expect(run.stdout).toMatch(/^url:\s+\(no webhook set\)$/m);
      expect(telegram.webhookOf(token)).toBeUndefined();
      expect(telegram.callsOf('deleteWebhook', token).map((c) => c.params)).toEqual([{ drop_pending_updates: true }]);
    });

    it('rotate-secret gives Telegram a new secret; the gateway accepts the new one and, for a while, the old', async () => {
      const { bot, token } = await addBot();
      expect((await cli(['set-webhook', bot.id])).code).toBe(0);
      const before = await secretOf(bot.id);
      expect((await gw.post(token, textUpdate(alice, 'cached'), { secret: before })).status).toBe(200);

      const run = await cli(['rotate-secret', `@${bot.username}`]);
      expect(run.code).toBe(0);
      expect(run.stdout).toContain(`Webhook secret rotated for @${bot.username}`);
      expect(run.stdout).toContain('Telegram now signs deliveries with the new secret.');
      const after = await secretOf(bot.id);
      expect(after).not.toBe(before);
      expect(telegram.webhookOf(token)).toMatchObject({
        url: `https://gateway.example.com/webhook/${token}`,
        secret_token: after,
      });
      expect(run.stdout + run.stderr).not.toContain(after);
      expect(run.stdout + run.stderr).not.toContain(before);
      await waitUntil(
        async () => (await gw.post(token, textUpdate(alice, 'new'), { secret: after })).status === 200,
        3_000,
        'the gateway to accept the new secret',
      );
      expect((await gw.post(token, textUpdate(alice, 'old'), { secret: before })).status).toBe(200);
    });

    it('full loop: bots add, set-webhook, then Telegram delivers to the URL and secret it was given', async () => {
      const { bot, token } = await addBotWithCli('Greeter');
      expect((await cli(['set-webhook', bot.id])).code).toBe(0);
      const hook = telegram.webhookOf(token)!;
      const url = new URL(hook.url as string);
      expect(url.origin).toBe('https://gateway.example.com');

      const res = await fetch(`${gw.baseUrl}${url.pathname}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-telegram-bot-api-secret-token': hook.secret_token },
        body: JSON.stringify(textUpdate(alice, '/start')),
      });
      expect(res.status).toBe(200);
      await telegram.waitFor(
        () => telegram.callsOf('sendMessage', token).some((c) => c.params.text === 'Hello, Alice!'),
        10_000,
        'the greeting',
      );
      expect(telegram.callsOf('sendMessage', token)[0].params.chat_id).toBe(alice.id);
    });
  });

  describe('sync-webhooks', () => {
    it('fixes a missing and a wrong webhook, leaves a correct one alone, and --dry-run changes nothing', async () => {
      await db.query('DELETE FROM bots');
      const missing = await addBot('Missing');
      const wrong = await addBot('Wrong');
      const right = await addBot('Right');
      const disabled = await addBot('Disabled');
      await setWebhookDirectly(wrong.token, `https://old.example.net/webhook/${wrong.token}`);
      expect((await cli(['set-webhook', right.bot.id])).code).toBe(0);
      await db.query('UPDATE bots SET enabled = false WHERE id = $1', [disabled.bot.id]);
      const setCalls = () => telegram.callsOf('setWebhook').length;
      const callsBefore = setCalls();

      const dry = await cli(['sync-webhooks', '--dry-run']);
      expect(dry.code).toBe(0);
      expect(setCalls()).toBe(callsBefore);
      expect(telegram.webhookOf(missing.token)).toBeUndefined();
      expect(dry.stdout).toMatch(
        new RegExp(`^@${missing.bot.username}\\s+would_set\\s+no webhook set\\s+0\\s+-$`, 'm'),
      );
      expect(dry.stdout).toMatch(new RegExp(`^@${wrong.bot.username}\\s+would_set\\s+different URL\\s+0\\s+-$`, 'm'));
      expect(dry.stdout).toMatch(new RegExp(`^@${right.bot.username}\\s+ok\\s+up to date\\s+0\\s+-$`, 'm'));
      expect(dry.stdout).not.toContain(disabled.bot.username);
      expect(dry.stdout).toContain('3 bots: 1 ok, 2 would_set (dry run)');

      const sync = await cli(['sync-webhooks']);
      expect(sync.code).toBe(0);
      expect(sync.stdout.split('\n')[0]).toMatch(/^BOT\s+STATE\s+REASON\s+PENDING\s+LAST ERROR$/);
      expect(sync.stdout).toMatch(new RegExp(`^@${missing.bot.username}\\s+set\\s+no webhook set`, 'm'));
      expect(sync.stdout).toMatch(new RegExp(`^@${wrong.bot.username}\\s+set\\s+different URL`, 'm'));
      expect(sync.stdout).toMatch(new RegExp(`^@${right.bot.username}\\s+ok\\s+up to date`, 'm'));
      expect(sync.stdout).toContain('3 bots: 1 ok, 2 set');
      const progress = sync.stderr.split('\n').filter(Boolean);
      expect(progress).toHaveLength(3);
      expect(progress).toEqual(
        expect.arrayContaining([
          expect.stringMatching(new RegExp(`^\\[[1-3]/3\\] @${missing.bot.username}: set \\(no webhook set\\)$`)),
          expect.stringMatching(new RegExp(`^\\[[1-3]/3\\] @${right.bot.username}: ok \\(up to date\\)$`)),
        ]),
      );
      for (const { bot, token } of [missing, wrong]) {
        expect(telegram.webhookOf(token)).toMatchObject({
          url: `https://gateway.example.com/webhook/${token}`,
          secret_token: await secretOf(bot.id),
        });
      }
      expect(setCalls()).toBe(callsBefore + 2);
      expect(telegram.callsOf('setWebhook', right.token)).toHaveLength(1);
      expect(sync.stdout + sync.stderr).not.toMatch(/webhook\/\d+:/);
    });

    it('exits 1 with one error line when a bot cannot be checked, after fixing the others', async () => {
      await db.query('DELETE FROM bots');
      const good = await addBot();
      // A bot whose token Telegram no longer accepts (revoked): getWebhookInfo answers 401.
      const { bot: info } = telegram.addBot();
      const revoked = `${info.id}:AA${randomBytes(24).toString('base64url')}`;
      const record = await gw.registry.register({ token: revoked, botInfo: info });
      gw.botIds.push(record.id);

      const run = await cli(['sync-webhooks', '--url', 'https://other.example.com']);
      expect(run.code).toBe(1);
      expect(run.stdout).toMatch(
        new RegExp(`^@${info.username}\\s+error\\s+Telegram getWebhookInfo: Unauthorized`, 'm'),
      );
      expect(run.stdout).toMatch(new RegExp(`^@${good.bot.username}\\s+set\\s+no webhook set`, 'm'));
      expect(run.stdout).toContain('2 bots: 1 set, 1 error');
      const stderr = run.stderr.split('\n').filter(Boolean);
      expect(stderr.filter((line) => line.startsWith('error: '))).toEqual([
        'error: 1 of 2 bots could not be checked or fixed',
      ]);
      expect(telegram.webhookOf(good.token)?.url).toBe(`https://other.example.com/webhook/${good.token}`);
      expect(run.stdout + run.stderr).not.toContain(revoked);
    });
  });

  describe('infrastructure failures', () => {
    it('reports an unreachable database with one line that names DATABASE_URL without its password', async () => {
      const run = await runCli({ ...env, DATABASE_URL: 'postgresql://postgres:s3cret-pw@127.0.0.1:1/tg_gateway' }, [
        'bots',
        'list',
      ]);
      expectOneErrorLine(
        run,
        1,
        /^error: database unreachable \(DATABASE_URL=postgresql:\/\/postgres:\*\*\*@127\.0\.0\.1:1\/tg_gateway\): .+/,
      );
      expect(run.stderr).not.toContain('s3cret-pw');
    });

    it('reports an invalid configuration with one line', async () => {
      const run = await runCli({ ...env, TOKEN_ENCRYPTION_KEYS: 'nonsense' }, ['bots', 'list']);
      expectOneErrorLine(run, 1, /^error: invalid configuration: TOKEN_ENCRYPTION_KEYS entries must look like/);
    });

    it('still works, and exits promptly, while Redis is down', async () => {
      const { bot } = await addBot();
      const baseline = await cli(['bots', 'show', bot.id]);
      const down = { ...env, REDIS_URL: 'redis://127.0.0.1:1' };
      const show = await runCli(down, ['bots', 'show', bot.id]);
      expect(show.code).toBe(0);
      expect(show.stdout).toContain(bot.id);
      const disable = await runCli(down, ['bots', 'disable', bot.id]);
      expect(disable.code).toBe(0);
      expect(disable.stdout).toBe(`Disabled @${bot.username} (${bot.id})\n`);
      // The change is stored; only the announcement to running gateways failed (they see it after the cache TTL).
      expect(disable.stderr).toMatch(/^warning: Could not announce a bot change over Redis/m);
      expect((await botRows()).find((r) => r.id === bot.id)?.enabled).toBe(false);
      // Closing gives up on Redis after a second; nothing waits for it to come back.
      for (const run of [show, disable]) expect(run.ms).toBeLessThan(baseline.ms + 5_000);
    });
  });

  // Last: it moves every row of this file's database to another key.
  describe('rotate-encryption-key', () => {
    it('re-encrypts every bot with the new primary key; a gateway with only that key still accepts deliveries', async () => {
      await db.query('DELETE FROM bots');
      const bots = [await addBot(), await addBot(), await addBot()];
      const secrets = await Promise.all(bots.map(({ bot }) => secretOf(bot.id)));
      expect((await botRows()).map((r) => r.token_key_id)).toEqual(['k1', 'k1', 'k1']);

      // A destination's signing secret is sealed with the same keys.
      const added = await runCli(env, [
        'destinations',
        'add',
        bots[0].bot.id,
        'http',
        '--url',
        'https://93.184.216.34/hook',
      ]);
      expect(added.code, added.stderr).toBe(0);
      const secretKeyIds = async () =>
        (await db.query<{ s: Buffer }>('SELECT secret_ciphertext AS s FROM destinations')).rows.map((r) =>
          r.s.subarray(2, 2 + r.s[1]).toString('utf8'),
        );
      expect(await secretKeyIds()).toEqual(['k1']);

      const k2 = key();
      const rotating = { ...env, TOKEN_ENCRYPTION_KEYS: `k2:${k2},k1:${k1}` };
      // A bot added once the new key came first: the database is half rotated, as after an interrupted run.
      const { token: lateToken } = telegram.addBot();
      expect((await runCli(rotating, ['bots', 'add'], lateToken)).code).toBe(0);
      expect((await botRows()).map((r) => r.token_key_id).sort()).toEqual(['k1', 'k1', 'k1', 'k2']);

      const run = await runCli(rotating, ['rotate-encryption-key', '--batch-size', '2']);
      expect(run.code).toBe(0);
      expect(run.stderr.split('\n').filter(Boolean)).toEqual(['re-encrypted 2/3', 're-encrypted 3/3']);
      expect(run.stdout).toContain('Re-encrypted 3 bots with key "k2".');
      expect(run.stdout.trimEnd().split('\n').pop()).toMatch(
        /the old keys can now be removed from TOKEN_ENCRYPTION_KEYS\.$/,
      );
      expect((await botRows()).map((r) => r.token_key_id)).toEqual(['k2', 'k2', 'k2', 'k2']);
      expect(run.stdout).toContain('Re-encrypted the signing secrets of 1 destination.');
      expect(await secretKeyIds()).toEqual(['k2']);

      const again = await runCli(rotating, ['rotate-encryption-key']);
      expect(again.code).toBe(0);
      expect(again.stdout).toContain('Every bot was already on key "k2".');

      // The old key alone can no longer read the rows.
      const oldOnly = await cli(['webhook-info', bots[0].bot.id]);
      expectOneErrorLine(
        oldOnly,
        1,
        /^error: cannot decrypt a stored token or secret: TOKEN_ENCRYPTION_KEYS has no key/,
      );

      const newOnly = await Harness.start({
        role: 'api',
        env: { ...env, TOKEN_ENCRYPTION_KEYS: `k2:${k2}`, REDIS_PREFIX: `${env.REDIS_PREFIX}-k2` },
        telegram,
      });
      try {
        for (const [i, { token }] of bots.entries()) {
          expect((await newOnly.post(token, textUpdate(alice, 'after rotation'), { secret: secrets[i] })).status).toBe(
            200,
          );
        }
        const setWebhook = await runCli({ ...env, TOKEN_ENCRYPTION_KEYS: `k2:${k2}` }, ['set-webhook', bots[1].bot.id]);
        expect(setWebhook.code).toBe(0);
        expect(telegram.webhookOf(bots[1].token)?.secret_token).toBe(secrets[1]);
      } finally {
        await newOnly.close();
      }
    });
  });

  describe('failed (dead letters)', () => {
    /** An update of `person` that Telegram refuses for good (400), so it ends in the dead letters. */
    async function deadLetterOf(bot: BotView, token: string, text: string): Promise<number> {
      const secret = await secretOf(bot.id);
      telegram.fail('sendMessage', FakeTelegram.error(400, 'Bad Request: chat not found'));
      const update = textUpdate(alice, text);
      expect((await gw.post(token, update, { secret })).status).toBe(200);
      await waitUntil(
        async () => (await gw.failed(bot.id)).some((r) => r.entry.update.update_id === update.update_id),
        15_000,
        'the update to fail',
      );
      return update.update_id;
    }

    it('lists, shows, retries and purges dead letters', async () => {
      const { bot, token } = await addBot();
      const first = await deadLetterOf(bot, token, 'lost one');
      const second = await deadLetterOf(bot, token, 'lost two');

      const list = await cli(['failed', 'list', '--bot', `@${bot.username}`, '--json']);
      expect(list.code, list.stderr).toBe(0);
      const letters = JSON.parse(list.stdout) as { id: string; updateId: number; reason: string; botId: string }[];
      expect(letters.map((l) => l.updateId)).toEqual([second, first]);
      expect(letters.every((l) => l.botId === bot.id && l.reason.includes('chat not found'))).toBe(true);
      expect(list.stdout).not.toContain(token);
      // The ids are those of the dead letters stored in Redis.
      const stored = await gw.failed(bot.id);
      expect(letters.map((l) => l.id).sort()).toEqual(stored.map((r) => r.id).sort());

      const table = await cli(['failed', 'list', '--bot', bot.id]);
      expect(table.code).toBe(0);
      expect(table.stdout).toContain('2 dead letters');

      const show = await cli(['failed', 'show', letters[1].id, '--json']);
      expect(show.code, show.stderr).toBe(0);
      const detail = JSON.parse(show.stdout) as { update: { message: { text: string } }; reason: string };
      expect(detail.update.message.text).toBe('lost one');

      const before = telegram.callsOf('sendMessage', token).length;
      const retry = await cli(['failed', 'retry', letters[1].id]);
      expect(retry.code, retry.stderr).toBe(0);
      await telegram.waitFor(() => telegram.callsOf('sendMessage', token).length === before + 1, 15_000, 'the retry');
      expect(telegram.callsOf('sendMessage', token).at(-1)!.params.text).toBe('lost one');
      await waitUntil(
        async () => JSON.parse((await cli(['failed', 'list', '--bot', bot.id, '--json'])).stdout).length === 1,
        15_000,
        'the retried letter to leave the list',
      );
      expect((await gw.failed(bot.id)).map((r) => r.id)).toEqual([letters[0].id]);

      const purge = await cli(['failed', 'purge', '--bot', `@${bot.username}`]);
      expect(purge.code, purge.stderr).toBe(0);
      expect(purge.stdout).toContain('Deleted 1 dead letter(s)');
      expect(JSON.parse((await cli(['failed', 'list', '--bot', bot.id, '--json'])).stdout)).toEqual([]);
      expect(await gw.failed(bot.id)).toEqual([]);
    });

    it('retries every dead letter of a bot and refuses ambiguous or unknown targets', async () => {
      const { bot, token } = await addBot();
      await deadLetterOf(bot, token, 'again one');
      await deadLetterOf(bot, token, 'again two');
      const retry = await cli(['failed', 'retry', '--bot', bot.id]);
      expect(retry.code, retry.stderr).toBe(0);
      expect(retry.stdout).toContain('Queued again: 2 dead letter(s)');
      await telegram.waitFor(
        () =>
          ['again one', 'again two'].every(
            (t) => telegram.callsOf('sendMessage', token).filter((c) => c.params.text === t).length === 2,
          ),
        15_000,
        'both retries',
      );
      await waitUntil(async () => (await gw.queued(bot.id)).length === 0, 15_000, 'the retried updates to be done');
      expect(await gw.failed(bot.id)).toEqual([]);

      expectOneErrorLine(
        await cli(['failed', 'purge']),
        2,
        'give exactly one of: a dead letter id, --bot <botId>, --all',
      );
      expectOneErrorLine(await cli(['failed', 'retry']), 2, 'give either a dead letter id or --bot <botId>');
      expectOneErrorLine(await cli(['failed', 'show', '0.nope']), 1, 'No dead letter 0.nope');
      expectOneErrorLine(await cli(['failed', 'show', `${bot.id}-1-1`]), 1, `No dead letter ${bot.id}-1-1`);
      expectOneErrorLine(await cli(['failed', 'list', '--bot', '@no_such_bot']), 1, 'No bot @no_such_bot');
    });
  });
});
