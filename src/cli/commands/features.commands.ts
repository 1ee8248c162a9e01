import { Command, Option, SubCommand } from 'nest-commander';
import { BotAdminService, BotFeaturesView } from '../../bots/bot-admin.service';
import { FeatureCatalog } from '../../features/feature-catalog';
import { BOT_ID_HELP, CliCommand } from '../cli-command';
import { cliPrincipal } from '../cli-principal';
import { UsageError } from '../cli-errors';
import { parseFeatureNames, parseSettings } from '../cli-options';
import { print, printJson, table } from '../cli-output';

const FEATURES_HELP =
  'feature names, comma-separated, in the order they see an update (tg-gateway features lists them)';

function printFeatures(view: BotFeaturesView, json?: boolean): void {
  if (json) return printJson(view);
  if (view.features.length === 0) return print('(no features: the bot answers nothing)');
  print(
    table(
      ['FEATURE', 'SETTINGS'],
      view.features.map((feature) => [feature.name, feature.settings ? JSON.stringify(feature.settings) : '-']),
    ),
  );
}

@SubCommand({
  name: 'show',
  arguments: '<botId>',
  argsDescription: { botId: BOT_ID_HELP },
  description: "Show a bot's features, in order, with its settings for them",
})
export class BotsFeaturesShowCommand extends CliCommand {
  constructor(private readonly admin: BotAdminService) {
    super();
  }

  async run([botId]: string[], flags: { json?: boolean }): Promise<void> {
    printFeatures(await this.admin.features(cliPrincipal(), botId), flags.json);
  }

  @Option({ flags: '--json', description: 'print JSON' })
  parseJson(): boolean {
    return true;
  }
}

@SubCommand({
  name: 'set',
  arguments: '<botId> <features>',
  argsDescription: { botId: BOT_ID_HELP, features: `${FEATURES_HELP}; "" for none` },
  description: "Set a bot's whole feature list; features it keeps keep their settings",
})
export class BotsFeaturesSetCommand extends CliCommand {
  constructor(private readonly admin: BotAdminService) {
    super();
  }

  async run([botId, features]: string[], flags: { json?: boolean }): Promise<void> {
    printFeatures(await this.admin.setFeatureNames(cliPrincipal(), botId, parseFeatureNames(features)), flags.json);
  }

  @Option({ flags: '--json', description: 'print JSON' })
  parseJson(): boolean {
    return true;
  }
}

@SubCommand({
  name: 'add',
  arguments: '<botId> <feature>',
  argsDescription: { botId: BOT_ID_HELP, feature: 'a feature name' },
  description: 'Add a feature at the end of the list, or give one the bot has new settings (--settings)',
})
export class BotsFeaturesAddCommand extends CliCommand {
  constructor(private readonly admin: BotAdminService) {
    super();
  }

  async run([botId, feature]: string[], flags: { json?: boolean; settings?: Record<string, unknown> }): Promise<void> {
    const [name] = parseFeatureNames(feature);
    if (name === undefined) throw new UsageError('name a feature');
    printFeatures(await this.admin.putFeature(cliPrincipal(), botId, name, flags.settings), flags.json);
  }

  @Option({
    flags: '--settings <json>',
    description: "the bot's settings for the feature, a JSON object checked against the feature's schema",
  })
  parseSettings(value: string): Record<string, unknown> {
    return parseSettings(value);
  }

  @Option({ flags: '--json', description: 'print JSON' })
  parseJson(): boolean {
    return true;
  }
}

@SubCommand({
  name: 'remove',
  arguments: '<botId> <feature>',
  argsDescription: { botId: BOT_ID_HELP, feature: 'a feature name' },
  description: 'Remove a feature from a bot',
})
export class BotsFeaturesRemoveCommand extends CliCommand {
  constructor(private readonly admin: BotAdminService) {
    super();
  }

  async run([botId, feature]: string[], flags: { json?: boolean }): Promise<void> {
    printFeatures(await this.admin.removeFeature(cliPrincipal(), botId, feature.trim()), flags.json);
  }

  @Option({ flags: '--json', description: 'print JSON' })
  parseJson(): boolean {
    return true;
  }
}

@SubCommand({
  name: 'features',
  description: "Show or change a bot's features (changes reach every worker at once)",
  subCommands: [BotsFeaturesShowCommand, BotsFeaturesSetCommand, BotsFeaturesAddCommand, BotsFeaturesRemoveCommand],
  allowExcessArgs: true,
})
export class BotsFeaturesCommand extends CliCommand {
  run([unknown]: string[]): Promise<void> {
    if (unknown !== undefined) {
      throw new UsageError(`unknown command 'bots features ${unknown}' (see tg-gateway bots features --help)`);
    }
    this.command.help({ error: true });
  }
}

@Command({
  name: 'features',
  description: 'List the features bots can run: built in, and from FEATURE_MODULES',
})
export class FeaturesCommand extends CliCommand {
  constructor(private readonly catalog: FeatureCatalog) {
    super();
  }

  run(_args: string[], flags: { json?: boolean }): Promise<void> {
    const features = this.catalog.list();
    if (flags.json) printJson(features);
    else {
      print(
        table(
          ['FEATURE', 'SOURCE', 'SETTINGS', 'DESCRIPTION'],
          features.map((f) => [f.name, f.source, f.settingsSchema ? 'yes' : 'no', f.description ?? '']),
        ),
      );
    }
    return Promise.resolve();
  }

  @Option({ flags: '--json', description: 'print JSON' })
  parseJson(): boolean {
    return true;
  }
}
