export { startTruthcore, TRUTHCORE_SERVICE, type TruthcoreServer, type TruthcoreServerOptions } from './truthcore-server.js';
export {
  AssertionService,
  TruthQueryRequest,
  RESERVED_SUBJECT_PREFIX,
  DEFAULT_COUNT_CAP,
  type TruthQueryAnswer,
  type SubscriptionPattern,
} from './assertions.js';
export { JobResultService, ResultDelivery, type RecordedResult, type ProvenanceView } from './job-results.js';
export { TruthStore, type AssertionFilter, type AssertionPage, type ProvenanceRecord, type ProvenanceRow } from './truth-store.js';
export { type AssertionRow, type NewAssertion, objectHash, toTruthAssertion } from './assertion-row.js';
export { attestRunnerResult, parseTrustAnchors, issuedByAnchor, type Attestation, type AttestationFailure } from './runner-attestation.js';
