// The schema (zod) is not re-exported as a value: loading the configuration from a cache
// must not import it (load.ts); validate.ts and schema.ts are imported where needed.
export type { Config, ConfigInput } from './schema.js';
export { loadConfig, redactConfig, resolveHome, defaultConfigPath, ENV_PREFIX, CONFIG_CACHE_FILE, type LoadOptions } from './load.js';
