import {
  CoalescedSubmissionsRequest,
  errorBody,
  parseOrThrow,
  toAppError,
  type CoalescedAnswer,
  type CoalescedSubmission,
  type CoalescedSubmissionsResponse,
} from '@controlplane/contracts';
import { SpanKind, type Tracing } from '@controlplane/platform';
import type { FastifyRequest } from 'fastify';
import type { AuditSink } from '../../audit/index.js';
import { auditOutcomeOf, DEFAULT_JSON_MAX_DEPTH, jsonBodyParser, trustedServicePeer, type HttpApp } from '../../http/index.js';
import type { JobLifecycle } from '../lifecycle/index.js';

export interface SubmissionRouteDeps {
  jobs: JobLifecycle;
  /** Certificate identities (service ids) allowed to submit on behalf of tenants. */
  trustedServices: ReadonlySet<string>;
  audit?: AuditSink | undefined;
  /** Each item's submission is a span of the trace its request at the gateway belongs to. */
  tracing?: Tracing | undefined;
}

const SERVICE = 'jobforge';
/** What each item stands for: the single route's operation, in its envelope and audit record. */
const OPERATION = 'POST /v1/jobs';
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * `POST /v1/jobs/submissions`: submissions coalesced by the gateway (contracts/service-protocol.ts).
 * Each item is submitted in its own tenant's scope, exactly as `POST /v1/jobs` would submit it —
 * concurrently, so that the items share the submission's group commit (one INSERT, one WAL flush)
 * — and answered and audited on its own. Only a trusted service's certificate may call it.
 */
export function registerSubmissionRoutes(app: HttpApp, deps: SubmissionRouteDeps): { drain(): Promise<void> } {
  const auditing = new Set<Promise<unknown>>();
  void app.register(async (scope) => {
    // Each job sits three levels down ({items: [{job: …}]}): the body may nest that much deeper
    // than a single submission's, so that a job the single route accepts is accepted here too.
    scope.removeContentTypeParser('application/json');
    scope.addContentTypeParser('application/json', { parseAs: 'string' }, jsonBodyParser(DEFAULT_JSON_MAX_DEPTH + 3));
    scope.post(
      '/v1/jobs/submissions',
      // The peer is checked before the body is read: only a trusted service may send one this big.
      { onRequest: async (req) => void trustedServicePeer(req, deps.trustedServices) },
      async (req): Promise<CoalescedSubmissionsResponse> => {
        const { items } = parseOrThrow(CoalescedSubmissionsRequest, req.body);
        const answers = await Promise.all(items.map((item) => submitOne(req, deps, item, auditing)));
        return { answers };
      },
    );
  });
  // At shutdown, before the database closes: the records of answered items are not dropped.
  return { drain: async () => void (await Promise.all([...auditing])) };
}

async function submitOne(
  req: FastifyRequest,
  deps: SubmissionRouteDeps,
  item: CoalescedSubmission,
  auditing: Set<Promise<unknown>>,
): Promise<CoalescedAnswer> {
  let answer: CoalescedAnswer;
  try {
    const submit = () => deps.jobs.submission.submit(item.tenantId, item.actor, item.job);
    // The span stands for the request the item would have been on its own (the job keeps its context).
    const job = deps.tracing
      ? await deps.tracing.inSpan(
          OPERATION,
          {
            kind: SpanKind.SERVER,
            attributes: { 'controlplane.coalesced': true },
            carrier: item.traceparent ? { traceparent: item.traceparent } : undefined,
          },
          submit,
        )
      : await submit();
    answer = { status: 202, body: job };
  } catch (err) {
    const appErr = toAppError(err);
    if (appErr.status >= 500) req.log.error({ err, code: appErr.code, correlationId: item.correlationId }, 'submission failed');
    answer = {
      status: appErr.status,
      body: errorBody(appErr, { service: SERVICE, operation: OPERATION, correlationId: item.correlationId }),
    };
  }
  // Recorded after the answer is ready, not before it is sent: as the single route's audit hook
  // does (onResponse), so the record is not on the caller's latency path; the chain's own group
  // commit appends the items' records together.
  if (deps.audit) {
    const bodyId = (item.job as { id?: unknown } | null)?.id;
    const recording = deps.audit
      .record({
        tenantId: item.tenantId,
        actor: { kind: 'apikey', id: item.actor },
        action: 'job.submitted',
        ...(typeof bodyId === 'string' && UUID_RE.test(bodyId) ? { resource: { kind: 'job', id: bodyId } } : {}),
        outcome: auditOutcomeOf(answer.status),
        correlationId: item.correlationId,
        sourceAddress: req.ip,
        details: { status: answer.status },
      })
      .catch((err: unknown) =>
        req.log.error({ err, action: 'job.submitted', correlationId: item.correlationId }, 'could not record an audit event'),
      )
      .finally(() => auditing.delete(recording));
    auditing.add(recording);
  }
  return answer;
}
