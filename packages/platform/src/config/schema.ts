import { DEFAULT_SIGNATURE_WINDOW_SECONDS } from '@controlplane/contracts';
import { z } from 'zod';
import { resolvePostgresUrl } from './postgres-url.js';

const Port = z.coerce.number().int().min(0).max(65535);
const Bool = z.preprocess((v) => {
  if (typeof v !== 'string') return v;
  const s = v.trim().toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(s)) return true;
  if (['false', '0', 'no', 'off'].includes(s)) return false;
  return v;
}, z.boolean());
const PositiveInt = z.coerce.number().int().positive();

const TrustDomain = z
  .string()
  .regex(/^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/, 'must be a lowercase DNS-like name (e.g. controlplane.local)');

/** The certificate, key and CA a service uses for mTLS. */
const ServiceTls = z.object({
  caFile: z.string().min(1).optional(),
  certFile: z.string().min(1).optional(),
  keyFile: z.string().min(1).optional(),
});

const HttpsUrl = z
  .string()
  .url()
  .refine((u) => u.startsWith('https://'), { message: 'must be an https:// URL; plaintext HTTP is refused between services' });

const Listener = z.object({ host: z.string().min(1).default('127.0.0.1'), port: Port });

/** A token bucket: `capacity` requests at once, refilled at `refillPerSecond`. */
const RateRule = z.object({ capacity: z.coerce.number().positive(), refillPerSecond: z.coerce.number().positive() }).strict();

/**
 * Every gateway limit's default, written once: the `gateway.*` settings below default to these, and
 * the gateway fills in whatever its caller leaves out from the same object (docs/gateway.md, Limits).
 */
export const GATEWAY_LIMIT_DEFAULTS = Object.freeze({
  bodyLimitBytes: 1_048_576,
  jsonMaxDepth: 64,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  /** Keep it above the 15 s SSE keep-alive interval, or idle event streams are cut. */
  idleTimeoutMs: 60_000,
  keepAliveTimeoutMs: 5_000,
  // Bounds on abuse, not on ordinary use: a service's key submitting and waiting for a few hundred
  // jobs a second (two requests each) stays within them; tenant_quotas and config tighten them.
  perAddress: Object.freeze({ capacity: 4_000, refillPerSecond: 2_000 }),
  perKey: Object.freeze({ capacity: 2_000, refillPerSecond: 1_000 }),
  perTenant: Object.freeze({ capacity: 4_000, refillPerSecond: 2_000 }),
  authFailures: Object.freeze({ max: 20, windowSeconds: 300 }),
  maxInFlight: 2_000,
  maxEventLoopDelayMs: 250,
  upstreamTimeoutMs: 10_000,
  upstreamRetries: 2,
  breakerThreshold: 5,
  breakerHalfOpenAfterMs: 5_000,
  upstreamMaxConcurrent: 256,
  upstreamMaxQueued: 1_024,
  signatureWindowSeconds: DEFAULT_SIGNATURE_WINDOW_SECONDS,
  lastUsedIntervalSeconds: 60,
  /** Dashboard sessions: short-lived, and over sooner when left alone. */
  sessionIdleSeconds: 900,
  sessionAbsoluteSeconds: 28_800,
});

/** Each process's metrics port when `metrics.listen.port` is not set (docs/observability.md). */
export const METRICS_PORTS = Object.freeze({ dev: 9460, gateway: 9461, jobforge: 9462, truthcore: 9463 });

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export const ConfigSchema = z
  .object({
    /** SPIFFE trust domain: every certificate identity is spiffe://<trustDomain>/... */
    trustDomain: TrustDomain.default('controlplane.local'),
    /** Where the embedded database, PKI and generated secrets live in development mode. */
    dataDir: z.string().min(1).default('.controlplane'),
    log: z.object({ level: z.enum(LOG_LEVELS).default('info') }).default({ level: 'info' }),
    /** mTLS material for this process (service certificate and the CA it trusts). */
    tls: ServiceTls.default({}),
    database: z
      .object({
        /** `embedded` runs PGlite in-process; `postgres` connects to `url`. */
        mode: z.enum(['embedded', 'postgres']).default('embedded'),
        url: z.string().min(1).optional(),
        maxConnections: PositiveInt.default(10),
        statementTimeoutMs: PositiveInt.default(15_000),
        /** `disable` only for a database on loopback/socket; `verify-full` checks the server certificate. */
        sslMode: z.enum(['disable', 'require', 'verify-full']).default('disable'),
        sslCaFile: z.string().min(1).optional(),
        /**
         * libpq's environment (PGHOST, PGPORT, PGUSER, PGDATABASE): the parts of `url` it leaves
         * out, filled in as psql fills them (see resolvePostgresUrl).
         */
        urlDefaults: z
          .object({
            host: z.string().min(1).optional(),
            port: z.coerce.number().int().min(1).max(65535).optional(),
            user: z.string().min(1).optional(),
            database: z.string().min(1).optional(),
          })
          .strict()
          .default({}),
      })
      .default({ mode: 'embedded', maxConnections: 10, statementTimeoutMs: 15_000, sslMode: 'disable', urlDefaults: {} }),
    redis: z
      .object({
        /** `embedded` uses the in-process queue and limiter; `redis` connects to `url`. */
        mode: z.enum(['embedded', 'redis']).default('embedded'),
        url: z.string().min(1).optional(),
        keyPrefix: z
          .string()
          .regex(/^[a-zA-Z0-9_-]{1,32}$/)
          .default('cp'),
        tlsCaFile: z.string().min(1).optional(),
      })
      .default({ mode: 'embedded', keyPrefix: 'cp' }),
    gateway: z
      .object({
        listen: Listener.default({ host: '127.0.0.1', port: 8443 }),
        /** Public HTTPS certificate; defaults to the service certificate. */
        publicCertFile: z.string().min(1).optional(),
        publicKeyFile: z.string().min(1).optional(),
        bodyLimitBytes: PositiveInt.default(GATEWAY_LIMIT_DEFAULTS.bodyLimitBytes),
        jsonMaxDepth: PositiveInt.default(GATEWAY_LIMIT_DEFAULTS.jsonMaxDepth),
        requestTimeoutMs: PositiveInt.default(GATEWAY_LIMIT_DEFAULTS.requestTimeoutMs),
        headersTimeoutMs: PositiveInt.default(GATEWAY_LIMIT_DEFAULTS.headersTimeoutMs),
        keepAliveTimeoutMs: PositiveInt.default(GATEWAY_LIMIT_DEFAULTS.keepAliveTimeoutMs),
        /** Dashboard sessions (docs/dashboard.md): idle and absolute expiry. */
        sessionIdleSeconds: PositiveInt.default(GATEWAY_LIMIT_DEFAULTS.sessionIdleSeconds),
        sessionAbsoluteSeconds: PositiveInt.default(GATEWAY_LIMIT_DEFAULTS.sessionAbsoluteSeconds),
        /** Overrides of the gateway's request-rate buckets (docs/gateway.md, Limits); shared in Redis when configured. */
        rateLimits: z
          .object({ perAddress: RateRule.optional(), perKey: RateRule.optional(), perTenant: RateRule.optional() })
          .strict()
          .default({}),
      })
      // Parsed like an empty section, so the field defaults above are the only ones written down.
      .prefault({}),
    jobforge: z
      .object({
        listen: Listener.default({ host: '127.0.0.1', port: 8444 }),
        url: HttpsUrl.default('https://127.0.0.1:8444'),
        /** Enrolment listener: server-authenticated TLS only, since a new runner has no certificate yet. */
        enrollListen: Listener.default({ host: '127.0.0.1', port: 8446 }),
        /** The runner-protocol URL told to runners at enrolment (e.g. behind a load balancer); default the listener's. */
        advertisedUrl: HttpsUrl.optional(),
        /** The CA private key that signs runner certificates; default `ca.key` next to tls.caFile. */
        caKeyFile: z.string().min(1).optional(),
      })
      .default({
        listen: { host: '127.0.0.1', port: 8444 },
        url: 'https://127.0.0.1:8444',
        enrollListen: { host: '127.0.0.1', port: 8446 },
      }),
    truthcore: z
      .object({
        listen: Listener.default({ host: '127.0.0.1', port: 8445 }),
        url: HttpsUrl.default('https://127.0.0.1:8445'),
      })
      .default({ listen: { host: '127.0.0.1', port: 8445 }, url: 'https://127.0.0.1:8445' }),
    /**
     * Field-level encryption at rest (docs/encryption.md). `controlplane dev` makes a keyring at
     * `<dataDir>/pki/keyring.json` when none is set; JobForge and TruthCore started on their own
     * refuse to start without `keyringFile` unless `enabled` is false, said explicitly.
     */
    encryption: z
      .object({
        /** The local keyring file of KEKs (mode 0600). */
        keyringFile: z.string().min(1).optional(),
        /** false stores payloads, results and sensitive assertions in clear (said by /health, doctor and the log). */
        enabled: Bool.optional(),
      })
      .default({}),
    /** The audit chain's signed head checkpoints, kept outside the database (docs/audit.md). */
    audit: z
      .object({
        /** Where the services write checkpoints; default `<dataDir>/audit-checkpoints`. */
        checkpointDir: z.string().min(1).optional(),
        /** How often a service writes one (and always on shutdown). */
        checkpointIntervalMs: z.coerce.number().int().min(1000).max(86_400_000).default(60_000),
      })
      .default({ checkpointIntervalMs: 60_000 }),
    /**
     * The process's Prometheus listener (plain HTTP: `GET /metrics`). Loopback by default; without a
     * port each process takes its own (METRICS_PORTS: gateway 9461, jobforge 9462, truthcore 9463,
     * `controlplane dev` 9460), so the three services can share one host and one config file.
     */
    metrics: z
      .object({
        enabled: Bool.default(true),
        listen: z.object({ host: z.string().min(1).default('127.0.0.1'), port: Port.optional() }).default({ host: '127.0.0.1' }),
      })
      .default({ enabled: true, listen: { host: '127.0.0.1' } }),
    /**
     * OpenTelemetry tracing, off unless an OTLP endpoint is set (the standard OTEL_* variables map
     * here: docs/observability.md, Tracing). `exporter` is OTEL_TRACES_EXPORTER's list; without
     * `otlp` in it, or with `disabled`, nothing is traced.
     */
    tracing: z
      .object({
        endpoint: z.string().url().optional(),
        tracesEndpoint: z.string().url().optional(),
        exporter: z.string().default('otlp'),
        disabled: Bool.default(false),
      })
      .default({ exporter: 'otlp', disabled: false }),
    runner: z
      .object({
        dir: z.string().min(1).optional(),
        handlers: z.string().min(1).optional(),
        metricsListen: Listener.optional(),
        devMode: Bool.default(false),
      })
      .default({ devMode: false }),
  })
  .superRefine((c, ctx) => {
    // Security settings fail closed: a setting that would silently downgrade to plaintext is an error.
    if (c.database.mode === 'postgres' && !c.database.url) {
      ctx.addIssue({
        code: 'custom',
        path: ['database', 'url'],
        message: "is required when database.mode is 'postgres' (set DATABASE_URL or database.url)",
      });
    }
    if (c.database.url && /[?&]sslmode=(disable|allow|prefer)\b/.test(c.database.url) && c.database.sslMode !== 'disable') {
      ctx.addIssue({
        code: 'custom',
        path: ['database', 'url'],
        message: `asks for sslmode that may fall back to plaintext while database.sslMode is '${c.database.sslMode}'; remove sslmode from the URL`,
      });
    }
    // The host that will be reached: PGHOST fills in a URL without one.
    if (
      c.database.sslMode === 'disable' &&
      c.database.url &&
      !isLocalDatabase(resolvePostgresUrl(c.database.url, c.database.urlDefaults))
    ) {
      ctx.addIssue({
        code: 'custom',
        path: ['database', 'sslMode'],
        message: "is 'disable' for a non-local database; set database.sslMode to 'verify-full' (with sslCaFile) or 'require'",
      });
    }
    if (c.redis.mode === 'redis' && !c.redis.url) {
      ctx.addIssue({
        code: 'custom',
        path: ['redis', 'url'],
        message: "is required when redis.mode is 'redis' (set REDIS_URL or redis.url)",
      });
    }
    if (c.redis.url && !/^rediss?:\/\//.test(c.redis.url)) {
      ctx.addIssue({ code: 'custom', path: ['redis', 'url'], message: 'must start with redis:// (loopback only) or rediss:// (TLS)' });
    }
    if (c.redis.url?.startsWith('redis://') && !isLocalRedis(c.redis.url)) {
      ctx.addIssue({ code: 'custom', path: ['redis', 'url'], message: 'uses plaintext redis:// to a non-local host; use rediss:// (TLS)' });
    }
    if (c.redis.tlsCaFile && c.redis.url?.startsWith('redis://')) {
      ctx.addIssue({ code: 'custom', path: ['redis', 'tlsCaFile'], message: 'is set but redis.url is plaintext redis://; use rediss://' });
    }
    for (const key of ['endpoint', 'tracesEndpoint'] as const) {
      const url = c.tracing[key];
      if (!url) continue;
      if (!/^https?:\/\//.test(url)) {
        ctx.addIssue({ code: 'custom', path: ['tracing', key], message: 'must be an http(s):// URL of an OTLP/HTTP receiver' });
      } else if (url.startsWith('http://') && !LOCAL_HOSTS.has(hostOf(url) ?? '')) {
        ctx.addIssue({
          code: 'custom',
          path: ['tracing', key],
          message: 'sends traces in plaintext to a non-local host; use https:// (or a collector on this host)',
        });
      }
    }
    if (Boolean(c.gateway.publicCertFile) !== Boolean(c.gateway.publicKeyFile)) {
      ctx.addIssue({
        code: 'custom',
        path: ['gateway', 'publicKeyFile'],
        message: 'gateway.publicCertFile and gateway.publicKeyFile must be set together',
      });
    }
  });

function hostOf(url: string): string | undefined {
  try {
    return new URL(url).hostname;
  } catch {
    return undefined;
  }
}

const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]', '::1', '']);

function isLocalDatabase(url: string): boolean {
  const host = hostOf(url);
  // A URL without a host (or with ?host=/socket/dir) is a Unix socket: local.
  return host === undefined || LOCAL_HOSTS.has(host) || /[?&]host=\//.test(url);
}

function isLocalRedis(url: string): boolean {
  const host = hostOf(url);
  return host !== undefined && LOCAL_HOSTS.has(host);
}

export type Config = z.infer<typeof ConfigSchema>;
export type ConfigInput = z.input<typeof ConfigSchema>;
