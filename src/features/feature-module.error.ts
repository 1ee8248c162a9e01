/**
 * FEATURE_MODULES or DEFAULT_BOT_FEATURES cannot be used: the process refuses to start with this message (a name
 * clash, a module that cannot be found or loaded, or one that exports nothing the gateway can run).
 */
export class FeatureModuleError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'FeatureModuleError';
  }
}

/**
 * A bot's feature list does not fit this process's features (a feature no longer loaded, settings that no longer
 * match its schema): the bot's updates fail for good with this reason until the list or the deployment is fixed.
 */
export class FeatureSetupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FeatureSetupError';
  }
}
