export { ConfigSchema, LOG_LEVELS, type Config, type ConfigInput } from './schema.js';
export { resolvePostgresUrl, operatingSystemUser, type PostgresUrlDefaults } from './postgres-url.js';
export { loadConfig, ConfigError, ENV_VARS, CONFIG_FILE_ENV, type LoadConfigOptions } from './load-config.js';
