import type { GatewayContext } from '../handlers/context';

/** One entry of a bot's feature list: a feature's name and the bot's settings for it. */
export interface BotFeature {
  name: string;
  /** A JSON object, valid against the feature's settings schema; absent when the bot has none. */
  settings?: Record<string, unknown>;
}

/** A grammY middleware function, the form every feature is installed in. */
export type FeatureMiddleware = (ctx: GatewayContext, next: () => Promise<void>) => unknown;

/** A feature the gateway can run: built in, or from a module named in FEATURE_MODULES. */
export interface FeatureDefinition {
  name: string;
  description: string | null;
  /** `built-in`, or the FEATURE_MODULES entry it came from. */
  source: string;
  /** JSON Schema (draft 2020-12, or draft-07 when `$schema` says so) of the per-bot settings; null: none. */
  settingsSchema: Record<string, unknown> | null;
  middleware: FeatureMiddleware;
}

/** A feature as operators see it (admin API, CLI). */
export interface FeatureInfo {
  name: string;
  description: string | null;
  source: string;
  settingsSchema: Record<string, unknown> | null;
}
