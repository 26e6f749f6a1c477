import { z } from 'zod';
import { ACTOR_ID_PATTERN, TenantId } from './identifiers.js';

/**
 * The gateway → JobForge submission channel: single submissions that reach the gateway together
 * travel to JobForge as one message (`POST /v1/jobs/submissions`) instead of one HTTPS exchange
 * each. Every item keeps what a request of its own would have: the caller's tenant and actor (set
 * by the gateway from the API key, never by the client), its correlation id, its own validation,
 * idempotency, quota and audit record, and its own answer — the status and body the single route
 * would have answered, an ErrorEnvelope body for a refusal. One item's refusal never touches another.
 */
export const MAX_COALESCED_SUBMISSIONS = 256;
/**
 * A bigger submission travels on its own (`POST /v1/jobs`): a full message stays within a few
 * MiB, well under JobForge's body limit, so no item's size can make its neighbours' message fail.
 */
export const MAX_COALESCED_ITEM_BYTES = 16 * 1024;

export const CoalescedSubmission = z.object({
  tenantId: TenantId,
  /** The authenticated caller (`apikey:<id>`), as the forwarded-actor header carries it. */
  actor: z.string().regex(ACTOR_ID_PATTERN, 'must be an actor id'),
  correlationId: z.string().min(1).max(128),
  /** The client's JobRequest, unvalidated: JobForge validates each as the single route does. */
  job: z.unknown(),
  /** The W3C trace context of the caller's request at the gateway, when tracing is on. */
  traceparent: z
    .string()
    .regex(/^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/, 'must be a W3C traceparent')
    .optional(),
});
export type CoalescedSubmission = z.infer<typeof CoalescedSubmission>;

export const CoalescedSubmissionsRequest = z.object({
  items: z.array(CoalescedSubmission).min(1).max(MAX_COALESCED_SUBMISSIONS),
});
export type CoalescedSubmissionsRequest = z.infer<typeof CoalescedSubmissionsRequest>;

/** One answer per item, in the items' order. */
export const CoalescedAnswer = z.object({ status: z.number().int().min(200).max(599), body: z.unknown() });
export type CoalescedAnswer = z.infer<typeof CoalescedAnswer>;
export const CoalescedSubmissionsResponse = z.object({ answers: z.array(CoalescedAnswer) });
export type CoalescedSubmissionsResponse = z.infer<typeof CoalescedSubmissionsResponse>;
