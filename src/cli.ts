#!/usr/bin/env node
/**
 * `tg-gateway` (package.json `bin`; `npm run cli -- …`; `node dist/cli.js …`): the operator CLI. Run
 * `tg-gateway --help` for the commands.
 */
import 'reflect-metadata';
import { runCli } from './cli/run-cli';

void runCli(process.argv).then((code) => {
  // Connections are closed by now; exit at once rather than wait for a straggling timer or socket.
  process.stdout.write('', () => process.exit(code));
});
