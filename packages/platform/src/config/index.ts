export { ConfigSchema, GATEWAY_LIMIT_DEFAULTS, LOG_LEVELS, METRICS_PORTS, type Config, type ConfigInput } from './schema.js';
export { resolvePostgresUrl, operatingSystemUser, type PostgresUrlDefaults } from './postgres-url.js';
export { loadConfig, ENV_VARS, CONFIG_FILE_ENV, type LoadConfigOptions } from './load-config.js';
