export { configSchema, type Config, type ConfigInput } from './schema.js';
export { loadConfig, redactConfig, resolveHome, defaultConfigPath, configLeaves, ENV_PREFIX, type LoadOptions } from './load.js';
