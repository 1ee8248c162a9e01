import { INestApplicationContext } from '@nestjs/common';
import { CommandFactory, CommandRunnerService } from 'nest-commander';
import { AppConfig, loadConfig } from '../config/config';
import { withTimeout } from '../infra/database/prisma.service';
import { describeFailure, EXIT_OK } from './cli-errors';
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
    return fail(error);
  }
  if (config.devKeysFile) {
    process.stderr.write(`warning: using development keys from ${config.devKeysFile}\n`);
  }

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
  return failure === undefined ? EXIT_OK : fail(failure, config.databaseUrl);
}

function fail(error: unknown, databaseUrl?: string): number {
  const { message, exitCode } = describeFailure(error, databaseUrl);
  if (message !== null) process.stderr.write(`error: ${message}\n`);
  return exitCode;
}
