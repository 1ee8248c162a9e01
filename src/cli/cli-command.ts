import { Injectable, OnModuleInit } from '@nestjs/common';
import { CommandRunner, InjectCommander } from 'nest-commander';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { redactSecrets } from '../common/redact';

/** nest-commander's own commander `Command` (it bundles commander 11; the top-level package may differ). */
export type CommanderCommand = Parameters<CommandRunner['setCommand']>[0];

export const BOT_ID_HELP = 'the gateway id (UUID), the Telegram bot id, or @username';

/**
 * Every command throws instead of exiting, so the runner closes Postgres and Redis and chooses the exit status:
 * commander's own usage errors (unknown option, missing argument, bad value) and `--help` end up there too.
 * Commander quotes what was typed in its errors; a token pasted in the wrong place is redacted.
 */
export function configureCommand(command: CommanderCommand): void {
  command
    .exitOverride()
    .allowExcessArguments(false)
    .showSuggestionAfterError(true)
    // One line per error: commander puts its "(Did you mean …?)" on a line of its own.
    .configureOutput({
      outputError: (text, write) => write(redactSecrets(text).replace(/\n(?=\(Did you mean)/g, ' ')),
    });
}

/** Base of every command: nest-commander hands each its commander `Command` before adding options. */
export abstract class CliCommand extends CommandRunner {
  override setCommand(command: CommanderCommand): this {
    configureCommand(command);
    return super.setCommand(command);
  }
}

/** The top-level program: its name in usage lines, description and version. */
@Injectable()
export class CliProgram implements OnModuleInit {
  constructor(@InjectCommander() private readonly program: CommanderCommand) {}

  onModuleInit() {
    configureCommand(this.program);
    this.program
      .name('tg-gateway')
      .description(
        'Operate a tg-gateway deployment: register bots, manage their webhooks at Telegram, rotate keys.\n' +
          'Uses the same configuration (environment variables) as the gateway processes.',
      )
      .addHelpText('after', `\n<botId> is ${BOT_ID_HELP}.\nRun "tg-gateway <command> --help" for a command's options.`);
    const version = packageVersion();
    if (version) this.program.version(version, '-V, --version', 'output the version number');
  }
}

function packageVersion(): string | undefined {
  // The nearest package.json above this file: from src/cli/, dist/cli/ or a build that dist/ links to.
  for (let dir = __dirname; dirname(dir) !== dir; dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'tg-gateway') return pkg.version;
    } catch {
      // not here: one level up
    }
  }
  return undefined;
}
