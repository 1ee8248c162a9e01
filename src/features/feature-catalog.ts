import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import Ajv, { ValidateFunction } from 'ajv';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { Composer } from 'grammy';
import { AppConfig } from '../config/config';
import { APP_CONFIG } from '../config/config.module';
import { BadRequestError, UnprocessableError } from '../common/errors';
import { GatewayContext } from '../handlers/context';
import { builtInFeatures } from '../handlers/features';
import { FeatureModuleError, FeatureSetupError } from './feature-module.error';
import { loadFeatureModules } from './feature-modules';
import { BotFeature, FeatureDefinition, FeatureInfo } from './feature.types';

const NO_SETTINGS: Readonly<Record<string, unknown>> = Object.freeze({});

interface CatalogEntry {
  definition: FeatureDefinition;
  /** Validates settings and fills in the schema's defaults (it changes what it is given). */
  validate: ValidateFunction | null;
}

/**
 * Every feature this process can run, by name: the built-in ones and those of FEATURE_MODULES (loaded at start; any
 * problem stops the start). Checks bots' feature lists for the admin API and CLI, and builds the composer a bot's
 * list runs in the worker.
 */
@Injectable()
export class FeatureCatalog implements OnModuleInit {
  private readonly entries = new Map<string, CatalogEntry>();
  private readonly validators = {
    draft2020: withFormats(new Ajv2020({ allErrors: true, useDefaults: true, strictTypes: false })),
    draft7: withFormats(new Ajv({ allErrors: true, useDefaults: true, strictTypes: false })),
  };

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  async onModuleInit(): Promise<void> {
    const builtIn = builtInFeatures.map<FeatureDefinition>((feature) => ({
      name: feature.name,
      description: feature.description,
      source: 'built-in',
      settingsSchema: null,
      middleware: feature.composer.middleware(),
    }));
    this.install([...builtIn, ...(await loadFeatureModules(this.config.features.modules))]);
    const unknown = this.config.features.defaultBotFeatures.filter((name) => !this.entries.has(name));
    if (unknown.length > 0) {
      throw new FeatureModuleError(
        `DEFAULT_BOT_FEATURES: no feature ${unknown.map((n) => `"${n}"`).join(', ')} (known: ${[...this.entries.keys()].join(', ')})`,
      );
    }
  }

  /** Adds definitions; a name already taken (by a built-in or another module) refuses the whole start. */
  install(definitions: FeatureDefinition[]): void {
    for (const definition of definitions) {
      const taken = this.entries.get(definition.name);
      if (taken) {
        const other =
          taken.definition.source === 'built-in' ? 'the built-in feature' : `module "${taken.definition.source}"`;
        throw new FeatureModuleError(
          `FEATURE_MODULES: feature "${definition.name}" of module "${definition.source}" clashes with ${other} of the same name; rename one of them`,
        );
      }
      this.entries.set(definition.name, { definition, validate: this.compile(definition) });
    }
  }

  list(): FeatureInfo[] {
    return [...this.entries.values()].map(({ definition: { name, description, source, settingsSchema } }) => ({
      name,
      description,
      source,
      settingsSchema,
    }));
  }

  /** The names a bot registered without a list gets (DEFAULT_BOT_FEATURES). */
  defaults(): BotFeature[] {
    return this.config.features.defaultBotFeatures.map((name) => ({ name }));
  }

  /**
   * Checks a bot's feature list as an operator gave it: every feature known, none twice, settings valid. Returns it
   * as it is stored (settings as given; defaults are filled in when the worker builds the bot's composer).
   */
  check(features: BotFeature[]): BotFeature[] {
    const seen = new Set<string>();
    return features.map(({ name, settings }) => {
      if (seen.has(name)) throw new BadRequestError(`Feature "${name}" is listed twice`, 'duplicate_feature');
      seen.add(name);
      const entry = this.entries.get(name);
      if (!entry) {
        throw new UnprocessableError(
          `No feature "${name}" (known: ${[...this.entries.keys()].join(', ')})`,
          'unknown_feature',
        );
      }
      const problem = this.problemWith(entry, settings === undefined ? undefined : structuredClone(settings));
      if (problem)
        throw new UnprocessableError(`Invalid settings for feature "${name}": ${problem}`, 'invalid_feature_settings');
      return settings === undefined ? { name } : { name, settings };
    });
  }

  /**
   * The middleware a bot with this feature list runs: its features in the list's order, each seeing its own settings
   * (with the schema's defaults) as `ctx.settings`. Throws FeatureSetupError when the list does not fit this process.
   */
  compose(features: BotFeature[]): Composer<GatewayContext> {
    const composer = new Composer<GatewayContext>();
    composer.use((ctx, next) => {
      ctx.settings = NO_SETTINGS;
      return next();
    });
    for (const { name, settings } of features) {
      const entry = this.entries.get(name);
      if (!entry) throw new FeatureSetupError(`Feature "${name}" is not loaded in this process (FEATURE_MODULES)`);
      const own = structuredClone(settings ?? {});
      const problem = this.problemWith(entry, own);
      if (problem) throw new FeatureSetupError(`The bot's settings for feature "${name}" are invalid: ${problem}`);
      const frozen = Object.freeze(own);
      const middleware = entry.definition.middleware;
      // ctx.settings is this feature's while its code runs, also after `await next()` returns from the features after it.
      composer.use(async (ctx, next) => {
        const outer = ctx.settings;
        ctx.settings = frozen;
        try {
          await middleware(ctx, async () => {
            ctx.settings = outer;
            try {
              await next();
            } finally {
              ctx.settings = frozen;
            }
          });
        } finally {
          ctx.settings = outer;
        }
      });
    }
    return composer;
  }

  /** Why these settings are refused, or null; validation fills in the schema's defaults. */
  private problemWith(entry: CatalogEntry, settings: Record<string, unknown> | undefined): string | null {
    if (settings === undefined) return null;
    if (typeof settings !== 'object' || settings === null || Array.isArray(settings))
      return 'settings must be an object';
    if (!entry.validate) {
      return Object.keys(settings).length === 0 ? null : 'this feature takes no settings';
    }
    if (entry.validate(settings)) return null;
    const ajv = this.validators.draft2020;
    return ajv.errorsText(entry.validate.errors, { dataVar: 'settings', separator: '; ' });
  }

  private compile({ name, source, settingsSchema }: FeatureDefinition): ValidateFunction | null {
    if (!settingsSchema) return null;
    const draft7 = typeof settingsSchema.$schema === 'string' && settingsSchema.$schema.includes('draft-07');
    try {
      return (draft7 ? this.validators.draft7 : this.validators.draft2020).compile(settingsSchema);
    } catch (error) {
      throw new FeatureModuleError(
        `FEATURE_MODULES: feature "${name}" of module "${source}" has an invalid settingsSchema: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }
}

function withFormats<T extends Ajv>(ajv: T): T {
  addFormats(ajv);
  return ajv;
}
