import { createRequire } from 'node:module';
import { isAbsolute, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { FEATURE_NAME, FEATURE_NAME_RULE } from '../config/config';
import { FeatureModuleError } from './feature-module.error';
import { FeatureDefinition, FeatureMiddleware } from './feature.types';

const CONTRACT = 'see "Your own features" in the README';

/**
 * Loads the modules named in FEATURE_MODULES: each must export `features`, an object whose keys are feature names
 * and whose values are grammY composers (or middleware functions), or `{ composer, settingsSchema?, description? }`.
 * Any problem is a FeatureModuleError naming the module: the process must not start with half its features.
 */
export async function loadFeatureModules(specs: string[], cwd = process.cwd()): Promise<FeatureDefinition[]> {
  const definitions: FeatureDefinition[] = [];
  for (const spec of specs) definitions.push(...(await loadFeatureModule(spec, cwd)));
  return definitions;
}

async function loadFeatureModule(spec: string, cwd: string): Promise<FeatureDefinition[]> {
  const file = resolveModule(spec, cwd);
  let namespace: Record<string, unknown>;
  try {
    // A real import(): ES modules and CommonJS alike (the build keeps dynamic imports as they are).
    namespace = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (error) {
    throw new FeatureModuleError(`FEATURE_MODULES: module "${spec}" failed to load: ${messageOf(error)}`, {
      cause: error,
    });
  }
  const fallback = namespace.default as Record<string, unknown> | undefined;
  const exported = namespace.features ?? (isObject(fallback) ? fallback.features : undefined);
  if (!isObject(exported)) {
    throw new FeatureModuleError(
      `FEATURE_MODULES: module "${spec}" does not export \`features\` (an object of named grammY composers; ${CONTRACT})`,
    );
  }
  const entries = Object.entries(exported);
  if (entries.length === 0) {
    throw new FeatureModuleError(`FEATURE_MODULES: module "${spec}" exports an empty \`features\` object`);
  }
  return entries.map(([name, value]) => toDefinition(spec, name, value));
}

function toDefinition(spec: string, name: string, value: unknown): FeatureDefinition {
  const where = `feature "${name}" of module "${spec}"`;
  if (!FEATURE_NAME.test(name)) {
    throw new FeatureModuleError(`FEATURE_MODULES: ${where}: the name must be ${FEATURE_NAME_RULE}`);
  }
  let middleware = asMiddleware(value);
  let settingsSchema: Record<string, unknown> | null = null;
  let description: string | null = null;
  if (!middleware && isObject(value)) {
    middleware = asMiddleware(value.composer);
    if (value.settingsSchema !== undefined) {
      if (!isObject(value.settingsSchema)) {
        throw new FeatureModuleError(`FEATURE_MODULES: ${where}: settingsSchema must be a JSON Schema object`);
      }
      settingsSchema = value.settingsSchema;
    }
    if (value.description !== undefined) {
      if (typeof value.description !== 'string') {
        throw new FeatureModuleError(`FEATURE_MODULES: ${where}: description must be a string`);
      }
      description = value.description;
    }
  }
  if (!middleware) {
    throw new FeatureModuleError(
      `FEATURE_MODULES: ${where} is not a grammY composer or middleware function, nor { composer, settingsSchema? } (${CONTRACT})`,
    );
  }
  return { name, description, source: spec, settingsSchema, middleware };
}

/**
 * A grammY Composer (anything with `middleware()`, so a module may bring its own copy of grammY) or a middleware
 * function; undefined for anything else.
 */
function asMiddleware(value: unknown): FeatureMiddleware | undefined {
  if (typeof value === 'function') return value as FeatureMiddleware;
  if (isObject(value) && typeof value.middleware === 'function') {
    const middleware: unknown = (value.middleware as () => unknown).call(value);
    if (typeof middleware === 'function') return middleware as FeatureMiddleware;
  }
  return undefined;
}

/** A path (absolute, or starting with `.`) from the working directory, else a package resolved from there. */
function resolveModule(spec: string, cwd: string): string {
  const local = isAbsolute(spec) || spec.startsWith('.');
  try {
    const require = createRequire(join(cwd, 'noop.js'));
    return require.resolve(local ? resolve(cwd, spec) : spec);
  } catch (error) {
    throw new FeatureModuleError(
      `FEATURE_MODULES: cannot find module "${spec}" (${local ? `no file at ${resolve(cwd, spec)}` : `not installed where ${cwd} can require it`})`,
      { cause: error },
    );
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function messageOf(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0];
}
