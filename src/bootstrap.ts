import './runtime-flags';
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import type { Logger as PinoLogger } from 'pino';
import { setupOpenApi } from './admin/openapi';
import { AppModule, AppRole } from './app.module';
import { AppConfig, ConfigError, loadConfig, publicUrlWarnings, SAFE_DEDUPE_TTL_SECONDS } from './config/config';
import { AppLogger, createRootLogger, logFormatFor, serializeError } from './common/logger';
import { redactUrl } from './common/redact';
import { loadTlsPair, SecureContextTarget, TlsReloader } from './tls/tls-certificates';

export interface CreateAppOptions {
  role: AppRole;
  config: AppConfig;
  logger?: PinoLogger;
}

/** Builds (but does not start) the application of one process role. Tests use it with their own config. */
export async function createApp({ role, config, logger }: CreateAppOptions): Promise<NestFastifyApplication> {
  const pino = logger ?? rootLogger(config);
  // HTTPS for the API's listener only: a worker's health and metrics port stays internal, plain HTTP.
  const tls = role !== 'worker' && config.tls ? { files: config.tls, pair: loadTlsPair(config.tls) } : undefined;
  // No Nest middleware is used: without @fastify/middie, requests skip its hook (~6% of a webhook call's CPU).
  const adapter = new FastifyAdapter({
    bodyLimit: 1024 * 1024,
    trustProxy: false,
    skipMiddie: true,
    ...(tls ? { https: { cert: tls.pair.cert, key: tls.pair.key } } : {}),
  } as ConstructorParameters<typeof FastifyAdapter>[0]);
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forRoot(config, role), adapter, {
    logger: new AppLogger(pino),
    bufferLogs: false,
  });
  const fastify = app.getHttpAdapter().getInstance();
  // Request log: the URL is redacted, because the webhook path carries the bot token.
  fastify.addHook('onResponse', (request, reply, done) => {
    const status = reply.statusCode;
    const level = status >= 500 ? 'warn' : status >= 400 ? 'info' : 'debug';
    if (!pino.isLevelEnabled(level)) return done();
    pino[level]({
      msg: 'request',
      method: request.method,
      url: redactUrl(request.url),
      status,
      ms: Math.round(reply.elapsedTime * 100) / 100,
    });
    done();
  });
  if (tls) {
    const reloader = new TlsReloader(app.getHttpServer() as unknown as SecureContextTarget, tls.files, pino, tls.pair);
    reloader.start();
    fastify.addHook('onClose', (_instance, done) => {
      reloader.stop();
      done();
    });
    pino.info({
      msg: 'Serving HTTPS',
      fingerprint256: tls.pair.fingerprint256,
      subject: tls.pair.subject,
      validTo: tls.pair.validTo,
    });
  }
  if (role !== 'worker' && config.apiDocs) setupOpenApi(app);
  return app;
}

/**
 * Graceful shutdown on SIGTERM/SIGINT, in the order Nest runs its hooks on close:
 * 1. onModuleDestroy: readiness turns false; beforeApplicationShutdown: workers finish the update each conversation
 *    is running and hand the conversations back (to the head of their bot's ready list);
 * 2. the HTTP server stops accepting and lets in-flight requests finish (their updates are enqueued);
 * 3. onApplicationShutdown: Redis and Postgres connections close.
 * Then the process exits 0; if that takes longer than SHUTDOWN_TIMEOUT_MS it exits 1 (unfinished updates are then
 * run again by another worker once this one's heartbeat expires).
 */
function installShutdown(app: NestFastifyApplication, config: AppConfig, logger: PinoLogger): void {
  const onSignal = (signal: NodeJS.Signals) => {
    logger.info(`${signal} received; shutting down`);
    setTimeout(() => {
      logger.error('Shutdown took longer than SHUTDOWN_TIMEOUT_MS; exiting');
      process.exit(1);
    }, config.shutdownTimeoutMs).unref();
    app.close().then(
      () => {
        logger.info('Shut down cleanly');
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ msg: 'Shutdown failed', err: serializeError(error) });
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
}

/** The process' logger on stdout: readable on a terminal in development, JSON lines everywhere else. */
function rootLogger(config: AppConfig): PinoLogger {
  return createRootLogger(config.logLevel, undefined, logFormatFor(config.nodeEnv, process.stdout.isTTY));
}

/** Loads the configuration, or prints every problem with it and exits. */
export function loadConfigOrExit(): AppConfig {
  try {
    const config = loadConfig();
    if (config.devKeysFile) {
      rootLogger(config).warn(
        `${config.devKeysCreated ? 'Generated development keys in' : 'Using development keys from'} ${config.devKeysFile}. Set TOKEN_ENCRYPTION_KEYS, ` +
          'TOKEN_HASH_KEY and ADMIN_API_KEYS for any real deployment; NODE_ENV=production requires them.',
      );
    }
    for (const warning of publicUrlWarnings(config)) rootLogger(config).warn(warning);
    if (config.queue.dedupeTtlSeconds < SAFE_DEDUPE_TTL_SECONDS) {
      rootLogger(config).warn(
        `DEDUPE_TTL_SECONDS=${config.queue.dedupeTtlSeconds} is shorter than Telegram's 24 h retry window: an ` +
          'update Telegram sends again after that long is processed twice. Use it only for tests and benchmarks.',
      );
    }
    return config;
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(1);
    }
    throw error;
  }
}

export async function runProcess(role: AppRole): Promise<void> {
  const config = loadConfigOrExit();
  const logger = rootLogger(config);
  const app = await createApp({ role, config, logger });
  installShutdown(app, config, logger);
  const port = role === 'worker' ? config.workerPort : config.port;
  if (role === 'worker' && port === 0) {
    await app.init();
    logger.info('Worker started (no HTTP listener; set WORKER_PORT for /health and /metrics)');
    return;
  }
  await app.listen({ port, host: config.host });
  const scheme = role !== 'worker' && config.tls ? 'https' : 'http';
  logger.info(`tg-gateway ${role} listening on ${scheme}://${config.host}:${port}`);
}
