import { GATEWAY_LIMIT_DEFAULTS } from '@controlplane/platform';
import type { FailureRule, RateRule } from './rate-limits.js';

export interface GatewayLimits {
  bodyLimitBytes: number;
  jsonMaxDepth: number;
  /** Headers must arrive within this (slow-loris bound). */
  headersTimeoutMs: number;
  /** The whole request must arrive within this. */
  requestTimeoutMs: number;
  /** A connection idle this long is closed; keep it above the 15 s SSE keep-alive interval. */
  idleTimeoutMs: number;
  keepAliveTimeoutMs: number;
  perAddress: RateRule;
  perKey: RateRule;
  /** Default per-tenant bucket; tenant_quotas.requests_per_second / burst override it per tenant. */
  perTenant: RateRule;
  /** Authentication failures per source address before it is refused for the rest of the window. */
  authFailures: FailureRule;
  maxInFlight: number;
  maxEventLoopDelayMs: number;
  upstreamTimeoutMs: number;
  upstreamRetries: number;
  breakerThreshold: number;
  breakerHalfOpenAfterMs: number;
  upstreamMaxConcurrent: number;
  upstreamMaxQueued: number;
  signatureWindowSeconds: number;
  lastUsedIntervalSeconds: number;
  /** A dashboard session unused this long is over. */
  sessionIdleSeconds: number;
  /** A dashboard session is over this long after sign-in, however active. */
  sessionAbsoluteSeconds: number;
}

/** The same object the configuration's `gateway.*` settings default to, so the two cannot drift. */
export const DEFAULT_GATEWAY_LIMITS: Readonly<GatewayLimits> = GATEWAY_LIMIT_DEFAULTS;
