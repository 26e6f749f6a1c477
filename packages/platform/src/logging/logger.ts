import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import { activeTraceIds } from '../tracing/index.js';
import { currentContext } from './correlation.js';

export type { Logger } from 'pino';

export const REDACTED = '[REDACTED]';

// Fields that must never reach a log in clear: credentials, tokens, keys, and job payloads/results.
// pino's redaction matches exact paths (with one-level wildcards), so each name is listed at the
// depths where it occurs in our log objects.
const SECRET_NAMES = [
  'authorization',
  'apiKey',
  'api_key',
  'token',
  'joinToken',
  'secret',
  'password',
  'privateKey',
  'keyPem',
  'signature',
  'payload',
  'result',
  'cookie',
  'x-api-key',
  'x-cp-signature',
  // Key material and what it protects (field encryption, docs/encryption.md).
  'dataKey',
  'kek',
  'plaintext',
  'privateKeyPem',
  // A handler's error details and evidence may quote the job's data.
  'details',
  'evidence',
];

export const REDACT_PATHS: readonly string[] = [
  ...SECRET_NAMES.map((n) => `["${n}"]`),
  ...SECRET_NAMES.map((n) => `*["${n}"]`),
  ...SECRET_NAMES.map((n) => `*.*["${n}"]`),
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'req.headers["x-cp-signature"]',
  'headers.authorization',
  'headers["x-api-key"]',
  'request.payload',
  'job.request.payload',
  'job.result',
  'body',
  '*.body',
];

export interface CreateLoggerOptions {
  service: string;
  level?: string;
  /** Where lines go; defaults to stdout. Tests pass a stream to read what was logged. */
  destination?: DestinationStream;
  /** Extra fields on every line. */
  base?: Record<string, unknown>;
}

/**
 * A JSON logger whose every line carries the service name and, inside a request, the
 * correlation id, and whose known secret fields are replaced by [REDACTED].
 */
export function createLogger(options: CreateLoggerOptions): Logger {
  const opts: LoggerOptions = {
    level: options.level ?? 'info',
    base: { service: options.service, pid: process.pid, ...options.base },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    redact: { paths: [...REDACT_PATHS], censor: REDACTED },
    messageKey: 'msg',
    mixin() {
      // Inside a traced span the line carries its trace_id, to find the trace from the log and back.
      const ids = activeTraceIds();
      const ctx = currentContext();
      if (!ctx) return ids ?? {};
      const out: Record<string, unknown> = { correlationId: ctx.correlationId, ...ids };
      if (ctx.causationId) out.causationId = ctx.causationId;
      if (ctx.principal) out.principal = `${ctx.principal.kind}:${ctx.principal.id}`;
      return out;
    },
  };
  return options.destination ? pino(opts, options.destination) : pino(opts);
}
