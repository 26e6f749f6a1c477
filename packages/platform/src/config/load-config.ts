import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { InternalError, formatPath } from '@controlplane/contracts';
import { ConfigSchema, type Config } from './schema.js';

/**
 * Environment variables the loader reads, and the config path each one sets. Only these are read;
 * process.env is consulted nowhere else in the code base.
 */
export const ENV_VARS: Readonly<Record<string, string>> = Object.freeze({
  CONTROLPLANE_TRUST_DOMAIN: 'trustDomain',
  CONTROLPLANE_DATA_DIR: 'dataDir',
  CONTROLPLANE_LOG_LEVEL: 'log.level',
  CONTROLPLANE_TLS_CA_FILE: 'tls.caFile',
  CONTROLPLANE_TLS_CERT_FILE: 'tls.certFile',
  CONTROLPLANE_TLS_KEY_FILE: 'tls.keyFile',
  CONTROLPLANE_KEYRING_FILE: 'encryption.keyringFile',
  CONTROLPLANE_ENCRYPTION_ENABLED: 'encryption.enabled',
  CONTROLPLANE_AUDIT_CHECKPOINT_DIR: 'audit.checkpointDir',
  DATABASE_URL: 'database.url',
  CONTROLPLANE_DATABASE_SSL_MODE: 'database.sslMode',
  CONTROLPLANE_DATABASE_SSL_CA_FILE: 'database.sslCaFile',
  CONTROLPLANE_DATABASE_MAX_CONNECTIONS: 'database.maxConnections',
  // libpq's own variables, so that a database URL means what it means to psql.
  PGHOST: 'database.urlDefaults.host',
  PGPORT: 'database.urlDefaults.port',
  PGUSER: 'database.urlDefaults.user',
  PGDATABASE: 'database.urlDefaults.database',
  REDIS_URL: 'redis.url',
  CONTROLPLANE_REDIS_KEY_PREFIX: 'redis.keyPrefix',
  CONTROLPLANE_REDIS_TLS_CA_FILE: 'redis.tlsCaFile',
  CONTROLPLANE_GATEWAY_HOST: 'gateway.listen.host',
  CONTROLPLANE_GATEWAY_PORT: 'gateway.listen.port',
  CONTROLPLANE_JOBFORGE_HOST: 'jobforge.listen.host',
  CONTROLPLANE_JOBFORGE_PORT: 'jobforge.listen.port',
  CONTROLPLANE_JOBFORGE_URL: 'jobforge.url',
  CONTROLPLANE_JOBFORGE_ENROLL_HOST: 'jobforge.enrollListen.host',
  CONTROLPLANE_JOBFORGE_ENROLL_PORT: 'jobforge.enrollListen.port',
  CONTROLPLANE_JOBFORGE_ADVERTISED_URL: 'jobforge.advertisedUrl',
  CONTROLPLANE_JOBFORGE_CA_KEY_FILE: 'jobforge.caKeyFile',
  CONTROLPLANE_TRUTHCORE_HOST: 'truthcore.listen.host',
  CONTROLPLANE_TRUTHCORE_PORT: 'truthcore.listen.port',
  CONTROLPLANE_TRUTHCORE_URL: 'truthcore.url',
  CONTROLPLANE_METRICS_ENABLED: 'metrics.enabled',
  CONTROLPLANE_METRICS_HOST: 'metrics.listen.host',
  CONTROLPLANE_METRICS_PORT: 'metrics.listen.port',
  // OpenTelemetry's own variables (docs/observability.md, Tracing).
  OTEL_EXPORTER_OTLP_ENDPOINT: 'tracing.endpoint',
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'tracing.tracesEndpoint',
  OTEL_TRACES_EXPORTER: 'tracing.exporter',
  OTEL_SDK_DISABLED: 'tracing.disabled',
});

/** The variable that names a config file when `--config` is not given. */
export const CONFIG_FILE_ENV = 'CONTROLPLANE_CONFIG';

/** Configuration that cannot be used (CP_CONFIG_INVALID), with every problem on a line of its own. */
export function configInvalid(problems: readonly string[], source?: string): InternalError {
  return new InternalError('CP_CONFIG_INVALID', {
    params: { source: source ? ` (${source})` : '', problems: problems.map((p) => `  - ${p}`).join('\n') },
  });
}

export interface LoadConfigOptions {
  /** Dotted paths from command-line flags, e.g. `{ 'gateway.listen.port': '9443' }`. Highest precedence. */
  flags?: Readonly<Record<string, unknown>>;
  /** A JSON config file. When absent, CONTROLPLANE_CONFIG names one (if set). */
  file?: string | undefined;
  /** The environment to read; lowest precedence. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Base directory for relative paths in the file (defaults to the file's directory). */
  cwd?: string;
}

/**
 * Reads configuration once: flags > config file > environment > defaults, validated with one
 * schema and frozen. Anything wrong is a CP_CONFIG_INVALID error listing every problem with its path.
 */
export function loadConfig(options: LoadConfigOptions = {}): Readonly<Config> {
  const env = options.env ?? {};
  const raw: Record<string, unknown> = {};

  const envPairs = Object.entries(ENV_VARS).flatMap(([name, path]) => {
    const v = env[name];
    return v !== undefined && v !== '' ? [[path, v] as const] : [];
  });
  // DATABASE_URL / REDIS_URL imply the real backends.
  if (env.DATABASE_URL) setPath(raw, 'database.mode', 'postgres');
  if (env.REDIS_URL) setPath(raw, 'redis.mode', 'redis');
  for (const [path, v] of envPairs) setPath(raw, path, v);

  const file = options.file ?? env[CONFIG_FILE_ENV];
  if (file) {
    const fromFile = readConfigFile(resolve(options.cwd ?? '.', file));
    deepMerge(raw, fromFile);
    if (isObject(fromFile.database) && fromFile.database.url && fromFile.database.mode === undefined)
      setPath(raw, 'database.mode', 'postgres');
    if (isObject(fromFile.redis) && fromFile.redis.url && fromFile.redis.mode === undefined) setPath(raw, 'redis.mode', 'redis');
  }

  for (const [path, v] of Object.entries(options.flags ?? {})) {
    if (v !== undefined) setPath(raw, path, v);
  }
  if (options.flags?.['database.url'] && options.flags['database.mode'] === undefined) setPath(raw, 'database.mode', 'postgres');
  if (options.flags?.['redis.url'] && options.flags['redis.mode'] === undefined) setPath(raw, 'redis.mode', 'redis');

  const parsed = ConfigSchema.safeParse(raw);
  if (!parsed.success) {
    throw configInvalid(
      parsed.error.issues.map((i) => `${formatPath(i.path) || '<root>'}: ${i.message}${hintFor(formatPath(i.path))}`),
      file ? `file ${file}` : undefined,
    );
  }
  return deepFreeze(parsed.data);
}

function hintFor(path: string): string {
  const envName = Object.entries(ENV_VARS).find(([, p]) => p === path)?.[0];
  return envName ? ` [env ${envName}]` : '';
}

function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw configInvalid([`cannot read config file ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`]);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw configInvalid([`config file ${path} is not valid JSON: ${(err as Error).message}`]);
  }
  if (!isObject(value)) throw configInvalid([`config file ${path} must hold a JSON object`]);
  return value;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.');
  let node = target;
  for (const [i, part] of parts.entries()) {
    if (FORBIDDEN_KEYS.has(part)) throw configInvalid([`${path}: forbidden key`]);
    if (i === parts.length - 1) {
      node[part] = value;
    } else {
      if (!isObject(node[part])) node[part] = {};
      node = node[part] as Record<string, unknown>;
    }
  }
}

function deepMerge(target: Record<string, unknown>, source: Record<string, unknown>): void {
  for (const [k, v] of Object.entries(source)) {
    if (FORBIDDEN_KEYS.has(k)) throw configInvalid([`${k}: forbidden key`]);
    if (isObject(v) && isObject(target[k])) deepMerge(target[k] as Record<string, unknown>, v);
    else target[k] = v;
  }
}

function deepFreeze<T>(value: T): Readonly<T> {
  if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
