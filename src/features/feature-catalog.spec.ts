import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AppConfig } from '../config/config';
import { GatewayContext } from '../handlers/context';
import { FeatureCatalog } from './feature-catalog';
import { FeatureModuleError, FeatureSetupError } from './feature-module.error';
import { FeatureDefinition } from './feature.types';

const FIXTURES = join(__dirname, '..', '..', 'test', 'fixtures', 'feature-modules');
const EXAMPLE = resolve(__dirname, '..', '..', 'examples', 'feature-module');

async function catalog(modules: string[], defaultBotFeatures: string[] = []): Promise<FeatureCatalog> {
  const config = { features: { modules, defaultBotFeatures } } as unknown as AppConfig;
  const features = new FeatureCatalog(config);
  await features.onModuleInit();
  return features;
}

function refusal(modules: string[], defaults: string[] = []): Promise<string> {
  return catalog(modules, defaults).then(
    () => 'started',
    (error: unknown) => (error instanceof FeatureModuleError ? error.message : `unexpected: ${String(error)}`),
  );
}

describe('FeatureCatalog', () => {
  it('has the demo features built in, and loads modules by path, in every shape', async () => {
    const features = await catalog([join(FIXTURES, 'shapes.cjs'), EXAMPLE]);
    expect(features.list().map((f) => [f.name, f.source])).toEqual([
      ['start', 'built-in'],
      ['form', 'built-in'],
      ['counter', 'built-in'],
      ['callback-query', 'built-in'],
      ['echo', 'built-in'],
      ['ping', join(FIXTURES, 'shapes.cjs')],
      ['shout', join(FIXTURES, 'shapes.cjs')],
      ['configured', join(FIXTURES, 'shapes.cjs')],
      ['greeter', EXAMPLE],
      ['notes', EXAMPLE],
    ]);
  });

  it('refuses to start on a bad module, naming it and the problem', async () => {
    const at = (file: string) => join(FIXTURES, file);
    expect(await refusal([at('clash-echo.cjs')])).toBe(
      `FEATURE_MODULES: feature "echo" of module "${at('clash-echo.cjs')}" clashes with the built-in feature of the same name; rename one of them`,
    );
    expect(await refusal([EXAMPLE, at('clash-greeter.cjs')])).toBe(
      `FEATURE_MODULES: feature "greeter" of module "${at('clash-greeter.cjs')}" clashes with module "${EXAMPLE}" of the same name; rename one of them`,
    );
    expect(await refusal(['./no/such/module.js'])).toMatch(
      /^FEATURE_MODULES: cannot find module "\.\/no\/such\/module\.js" \(no file at \/.*\/no\/such\/module\.js\)$/,
    );
    expect(await refusal(['no-such-package-tgw'])).toMatch(
      /^FEATURE_MODULES: cannot find module "no-such-package-tgw"/,
    );
    expect(await refusal([at('no-features.cjs')])).toMatch(
      new RegExp(`^FEATURE_MODULES: module ".*no-features.cjs" does not export \`features\``),
    );
    expect(await refusal([at('not-a-composer.mjs')])).toMatch(
      /feature "weird" of module ".*not-a-composer.mjs" is not a grammY composer or middleware function/,
    );
    expect(await refusal([at('bad-schema.cjs')])).toMatch(
      /feature "strict" of module ".*bad-schema.cjs" has an invalid settingsSchema: schema is invalid/,
    );
    expect(await refusal([at('throws.cjs')])).toMatch(
      /module ".*throws.cjs" failed to load: cannot reach the weather service at load$/,
    );
    expect(await refusal([], ['echo', 'greeter'])).toMatch(
      /^DEFAULT_BOT_FEATURES: no feature "greeter" \(known: start,/,
    );
  });

  it('checks a bot’s list: known names, none twice, settings valid against the schema (draft-07 or 2020-12)', async () => {
    const features = await catalog([join(FIXTURES, 'shapes.cjs'), EXAMPLE]);
    const problem = (list: { name: string; settings?: Record<string, unknown> }[]) => {
      try {
        features.check(list);
        return 'ok';
      } catch (error) {
        return `${(error as { code: string }).code}: ${(error as Error).message}`;
      }
    };
    expect(problem([{ name: 'echo' }, { name: 'configured', settings: { level: 2 } }])).toBe('ok');
    expect(problem([{ name: 'nope' }])).toMatch(/^unknown_feature: No feature "nope" \(known: start, form/);
    expect(problem([{ name: 'echo' }, { name: 'echo' }])).toBe('duplicate_feature: Feature "echo" is listed twice');
    expect(problem([{ name: 'echo', settings: { a: 1 } }])).toBe(
      'invalid_feature_settings: Invalid settings for feature "echo": this feature takes no settings',
    );
    expect(problem([{ name: 'configured', settings: { level: 'high', site: 'not a uri', extra: true } }])).toBe(
      'invalid_feature_settings: Invalid settings for feature "configured": settings must NOT have additional ' +
        'properties; settings/level must be integer; settings/site must match format "uri"',
    );
    expect(problem([{ name: 'greeter', settings: { greeting: '' } }])).toBe(
      'invalid_feature_settings: Invalid settings for feature "greeter": settings/greeting must NOT have fewer than 1 characters',
    );
    // Stored as given: defaults are the worker's business (a newer module version may change them).
    expect(features.check([{ name: 'greeter', settings: {} }])).toEqual([{ name: 'greeter', settings: {} }]);
  });

  it('composes a bot’s features in its order, each seeing its own settings, also after next()', async () => {
    const features = await catalog([]);
    const seen: string[] = [];
    const recorder = (name: string): FeatureDefinition => ({
      name,
      description: null,
      source: 'test',
      settingsSchema: { type: 'object', properties: { tag: { type: 'string', default: `${name}-default` } } },
      middleware: async (ctx, next) => {
        seen.push(`${name}:${String(ctx.settings.tag)}`);
        await next();
        seen.push(`${name} after:${String(ctx.settings.tag)}`);
      },
    });
    features.install([recorder('a'), recorder('b'), recorder('c')]);
    const composer = features.compose([{ name: 'c', settings: { tag: 'mine' } }, { name: 'a' }]);
    const ctx = {} as GatewayContext;
    await composer.middleware()(ctx, () => Promise.resolve());
    expect(seen).toEqual(['c:mine', 'a:a-default', 'a after:a-default', 'c after:mine']);
    expect(Object.isFrozen(ctx.settings)).toBe(true);

    expect(() => features.compose([{ name: 'gone' }])).toThrow(
      new FeatureSetupError('Feature "gone" is not loaded in this process (FEATURE_MODULES)'),
    );
    expect(() => features.compose([{ name: 'a', settings: { tag: 5 } }])).toThrow(
      'The bot\'s settings for feature "a" are invalid: settings/tag must be string',
    );
  });
});
