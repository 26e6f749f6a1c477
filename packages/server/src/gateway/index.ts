export { startGateway, type GatewayMetrics, type GatewayOptions, type GatewayServer } from './gateway-server.js';
export { DEFAULT_GATEWAY_LIMITS, type GatewayLimits } from './gateway-limits.js';
export { GATEWAY_SERVICE } from './route-handlers.js';
export { upstreamPath } from './upstream-request.js';
export {
  ROUTES,
  ROLES,
  routeById,
  type Role,
  type RouteAccess,
  type RouteId,
  type RouteSpec,
  type UpstreamService,
} from './route-table.js';
export { authorize, isAllowed, isPlatformAdmin, renderRbacTable, type GatewayPrincipal } from './rbac.js';
export {
  API_KEY_PREFIX,
  createApiKey,
  hashApiKey,
  listApiKeys,
  parseApiKey,
  revokeApiKey,
  type ApiKeyRecord,
  type CreateApiKeyInput,
  type CreatedApiKey,
} from './api-keys.js';
export { ApiKeyAuthenticator, type AuthFailureReason, type AuthOutcome } from './authenticator.js';
export {
  InMemoryFailureCounter,
  InMemoryRateLimiter,
  RedisFailureCounter,
  RedisNonceStore,
  RedisRateLimiter,
  type FailureCounter,
  type FailureRule,
  type RateDecision,
  type RateLimiter,
  type RateRule,
} from './rate-limits.js';
export { LoadShedder, type LoadSheddingOptions } from './load-shedding.js';
export { DependencyGuard, type DependencyGuardOptions } from './dependency-guard.js';
export { Upstream, type UpstreamAnswer, type UpstreamCall, type UpstreamPolicyOptions, type UpstreamTarget } from './upstream.js';
export { type AuditReader, type AuditReadFilter, type AuditReadPage } from './audit-port.js';
