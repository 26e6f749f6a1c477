export { createHttpApp, type HttpApp, type HttpAppOptions } from './create-app.js';
export { registerHealthRoute, runHealthChecks, type HealthProbe, type ProbeVerdict } from './health.js';
export { parseJsonBody, jsonNestingDepth, jsonBodyParser, DEFAULT_JSON_MAX_DEPTH } from './json-body.js';
export { httpErrorFrom } from './error-mapping.js';
export { SECURITY_HEADERS } from './security-headers.js';
export { auditOutcomeOf, registerAuditHook } from './audit-hook.js';
export {
  FORWARDED_TENANT,
  FORWARDED_ACTOR,
  forwardedCaller,
  isForwardedActor,
  peerPrincipal,
  trustedServicePeer,
  type ForwardedCaller,
} from './caller.js';
