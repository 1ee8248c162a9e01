import { INestApplicationContext } from '@nestjs/common';
import { CommandFactory, CommandRunnerService } from 'nest-commander';
import { AppConfig, ConfigError, loadConfig } from '../config/config';
import { withTimeout } from '../infra/database/prisma.service';
import { describeFailure, EXIT_OK, isHelpOrVersion } from './cli-errors';
import { CliLogger } from './cli-logger';
import { CliModule } from './cli.module';

/** Longest wait for Postgres and Redis connections to close; a hung server must not hold the shell. */
const CLOSE_TIMEOUT_MS = 5_000;

/**
 * One CLI run: loads the gateway's configuration (the same keys, database and Redis prefix as the servers),
 * runs the command, closes every connection, and returns the exit status. Failures are printed as one
 * `error: …` line on stderr.
 */
export async function runCli(argv: string[]): Promise<number> {
  let config: AppConfig;
  try {
    config = loadConfig();
  } catch (error) {
    // Help must be readable by someone whose configuration is still wrong.
    if (error instanceof ConfigError && asksForHelp(argv)) return showHelp(argv, error);
    return fail(error);
  }
  if (config.devKeysCreated) {
    process.stderr.write(
      `warning: generated development keys in ${config.devKeysFile} (used from now on while TOKEN_ENCRYPTION_KEYS, ` +
        'TOKEN_HASH_KEY and ADMIN_API_KEYS are unset; never use them in production)\n',
    );
  }
  const failure = await run(config, argv);
  return failure === undefined ? EXIT_OK : fail(failure, config.databaseUrl);
}

/** Runs the command line over `config`, closes every connection, and returns what failed (undefined: nothing). */
async function run(config: AppConfig, argv: string[]): Promise<unknown> {
  let failure: unknown;
  let app: INestApplicationContext | undefined;
  try {
    // The CLI queues nothing, so Redis' eviction policy does not concern it: skipping the check also spares a
    // wait for Redis at start when it is down.
    const cliConfig: AppConfig = { ...config, redisAllowEviction: true };
    app = await CommandFactory.createWithoutRunning(CliModule.forRoot(cliConfig), {
      logger: new CliLogger(config.logLevel),
      abortOnError: false,
      serviceErrorHandler: (error) => {
        failure = error;
      },
    });
    await app.get(CommandRunnerService).run(argv);
  } catch (error) {
    failure = error;
  } finally {
    if (app) await withTimeout(app.close(), CLOSE_TIMEOUT_MS).catch(() => undefined);
  }
  return failure;
}

/** `--help`, `-h`, `help [command]`, `--version`, `-V` anywhere on the command line. */
function asksForHelp(argv: string[]): boolean {
  const args = argv.slice(2);
  return args[0] === 'help' || args.some((arg) => ['-h', '--help', '-V', '--version'].includes(arg));
}

/**
 * Help without a valid configuration: the commands are built over a stand-in configuration whose database, Redis
 * and Bot API cannot be reached, and anything other than help or the version (an argument that only looked like
 * `--help`, say) reports the real configuration's problems instead of running.
 */
async function showHelp(argv: string[], configError: ConfigError): Promise<number> {
  const standIn = loadConfig({
    NODE_ENV: 'development',
    LOG_LEVEL: 'silent',
    DATABASE_URL: 'postgresql://help@127.0.0.1:1/help',
    REDIS_URL: 'redis://127.0.0.1:1',
    TELEGRAM_API_ROOT: 'http://127.0.0.1:1',
    TOKEN_ENCRYPTION_KEYS: `help:${Buffer.alloc(32, 1).toString('base64')}`,
    TOKEN_HASH_KEY: Buffer.alloc(32, 2).toString('base64'),
    ADMIN_API_KEYS: 'help-only-0123456789',
  });
  const failure = await run(standIn, argv);
  return isHelpOrVersion(failure) ? EXIT_OK : fail(configError);
}

function fail(error: unknown, databaseUrl?: string): number {
  const { message, exitCode } = describeFailure(error, databaseUrl);
  if (message !== null) process.stderr.write(`error: ${message}\n`);
  return exitCode;
}
