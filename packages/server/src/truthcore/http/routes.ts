import { AppError, isTenantId, parseOrThrow, toAppError } from '@controlplane/contracts';
import { isValidCorrelationId, runWithContext, SpanKind, type Tracing } from '@controlplane/platform';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { forwardedCaller, peerPrincipal, type HttpApp } from '../../http/index.js';
import { toTruthAssertion } from '../assertion-row.js';
import type { AssertionService, SubscriptionPattern } from '../assertions.js';
import type { JobResultService } from '../job-results.js';
import type { AuditSink } from '../../audit/index.js';

export interface TruthcoreRouteDeps {
  assertions: AssertionService;
  results: JobResultService;
  /** Certificate identities (service ids) allowed to call on behalf of tenants (the gateway). */
  trustedServices: ReadonlySet<string>;
  /** Service identities allowed to record job results (jobforge). */
  resultWriters: ReadonlySet<string>;
  /** Resolves when the tenant may have new assertions (in-process; other replicas are polled). */
  waitForAppend(tenantId: string, ms: number, signal: AbortSignal): Promise<void>;
  /** How long a subscription sleeps between polls when nothing wakes it. */
  pollIntervalMs: number;
  /** Where results recorded through the batch route are audited (one event each, as the single route's hook does). */
  audit?: AuditSink | undefined;
  /** A span per recorded result, in the trace of the job it belongs to. */
  tracing?: Tracing | undefined;
}

const Uuid = z.uuid();
const SubscribeQuery = z.object({
  subject: z.string().min(1).max(1024).optional(),
  predicate: z.string().min(1).max(256).optional(),
});
const LAST_EVENT_ID = /^\d{1,19}$/;
const ResultBatch = z.object({
  results: z
    .array(
      z.object({
        correlationId: z.string().max(128).optional(),
        /** The job's W3C traceparent, when tracing is on (checked by the propagator, which drops a malformed one). */
        traceparent: z.string().max(128).optional(),
        delivery: z.unknown(),
      }),
    )
    .min(1)
    .max(100),
});

function tenantLabel(body: unknown): string | undefined {
  const claimed = (body as { tenantId?: unknown } | null | undefined)?.tenantId;
  return isTenantId(claimed) ? claimed : undefined;
}
const SUBSCRIPTION_BATCH = 500;

function uuidParam(req: FastifyRequest): string {
  const res = Uuid.safeParse((req.params as { id?: string }).id);
  if (!res.success) throw new AppError('VALIDATION_FAILED', { details: [{ path: ['params', 'id'], message: 'must be a UUID' }] });
  return res.data;
}

/** TruthCore's API: tenant routes for the gateway, and the result route for JobForge. */
export function registerTruthcoreRoutes(app: HttpApp, deps: TruthcoreRouteDeps): void {
  const caller = (req: FastifyRequest) => {
    const c = forwardedCaller(req, deps.trustedServices);
    req.ctx.principal = { kind: 'client', id: c.actor, tenantId: c.tenantId };
    return c;
  };

  app.post('/v1/assert', { config: { audit: 'assertion.recorded' } }, async (req, reply) => {
    const c = caller(req);
    const { assertion, created } = await deps.assertions.assert(c.tenantId, c.actor, req.body);
    return reply.code(created ? 201 : 200).send(assertion);
  });

  app.post('/v1/query', async (req) => deps.assertions.query(caller(req).tenantId, req.body));

  app.get('/v1/assertions/:id', async (req) => deps.assertions.get(caller(req).tenantId, uuidParam(req)));

  app.get('/v1/subscribe', async (req, reply) => {
    const c = caller(req);
    const pattern = parseOrThrow(SubscribeQuery, req.query, ['query']);
    return streamAssertions(req, reply, deps, c.tenantId, pattern);
  });

  app.get('/v1/jobs/:id/provenance', async (req) => deps.results.provenance(caller(req).tenantId, uuidParam(req)));

  /** Only the service that records outcomes may write them: not the gateway on a client's behalf, and not a runner, whose word the signature check exists to keep honest. */
  const resultWriter = (req: FastifyRequest, tenantId: string | undefined): string => {
    const p = peerPrincipal(req);
    req.ctx.principal = { kind: p.kind === 'runner' ? 'runner' : 'service', id: p.id, tenantId };
    if (p.kind !== 'service' || !deps.resultWriters.has(p.id)) throw new AppError('FORBIDDEN');
    return p.id;
  };

  app.post('/v1/results', { config: { audit: 'job_result.recorded' } }, async (req, reply) => {
    // The tenant is only a label for the audit record here; the service validates the body.
    const writer = resultWriter(req, tenantLabel(req.body));
    const res = await deps.results.record(writer, req.body);
    return reply.code(res.duplicate ? 200 : 201).send(res);
  });

  // Many results in one request (the result outbox sends what it has): each is verified, recorded
  // and audited on its own, under its job's correlation id, and answered on its own.
  app.post('/v1/results/batch', async (req) => {
    const writer = resultWriter(req, undefined);
    const { results } = parseOrThrow(ResultBatch, req.body);
    const answers = [];
    for (const item of results) {
      const correlationId = isValidCorrelationId(item.correlationId) ? item.correlationId : req.id;
      // The request's caller, the job's correlation id (the batch's own id is the cause).
      const ctx = { correlationId, causationId: req.id, principal: req.ctx.principal };
      const record = () => recordOne(writer, item.delivery, correlationId, req);
      answers.push(
        await runWithContext(ctx, () =>
          deps.tracing?.enabled
            ? deps.tracing.inSpan(
                'truthcore.record_result',
                {
                  kind: SpanKind.CONSUMER,
                  carrier: item.traceparent ? { traceparent: item.traceparent } : undefined,
                  attributes: { 'controlplane.service': 'truthcore' },
                },
                async (span) => {
                  const answer = await record();
                  span?.setAttribute('controlplane.result.ok', answer.ok);
                  return answer;
                },
              )
            : record(),
        ),
      );
    }
    return { results: answers };
  });

  async function recordOne(writer: string, delivery: unknown, correlationId: string, req: FastifyRequest) {
    const tenantId = tenantLabel(delivery) ?? null;
    const jobId = (delivery as { jobId?: unknown } | null)?.jobId;
    const resource = typeof jobId === 'string' && Uuid.safeParse(jobId).success ? { kind: 'job_result', id: jobId } : undefined;
    const audit = (outcome: 'success' | 'failure', details: Record<string, unknown>) =>
      deps.audit
        ?.record({
          tenantId,
          actor: { kind: 'service', id: writer },
          action: 'job_result.recorded',
          ...(resource ? { resource } : {}),
          outcome,
          correlationId,
          sourceAddress: req.ip,
          details,
        })
        .catch((err: unknown) => req.log.error({ err }, 'could not record an audit event'));
    try {
      const res = await deps.results.record(writer, delivery);
      await audit('success', { status: res.duplicate ? 200 : 201 });
      return { ok: true, duplicate: res.duplicate };
    } catch (err) {
      const e = toAppError(err);
      // A failure of this service, not of the result: the whole request fails, and is sent again.
      if (e.code === 'INTERNAL') throw err;
      await audit('failure', { status: e.status, code: e.code });
      return { ok: false, code: e.code, retryable: e.retryable };
    }
  }
}

/**
 * Server-Sent Events of new assertions matching the pattern. The event id is the row's seq, so a
 * client reconnecting with Last-Event-ID gets every matching assertion after it, none twice.
 */
async function streamAssertions(
  req: FastifyRequest,
  reply: FastifyReply,
  deps: TruthcoreRouteDeps,
  tenantId: string,
  pattern: SubscriptionPattern,
): Promise<void> {
  const lastId = req.headers['last-event-id'];
  let after = typeof lastId === 'string' && LAST_EVENT_ID.test(lastId) ? lastId : await deps.assertions.head(tenantId);
  const abort = new AbortController();
  req.raw.once('close', () => abort.abort());
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    connection: 'keep-alive',
    'x-correlation-id': req.id,
  });
  // Sent once the start position is fixed: an assertion made after a client sees this is delivered.
  res.write(': stream open\n\n');
  let lastBeat = Date.now();
  try {
    while (!abort.signal.aborted) {
      const { rows, next } = await deps.assertions.changesAfter(tenantId, after, pattern, SUBSCRIPTION_BATCH);
      for (const row of rows) {
        res.write(`id: ${row.seq}\nevent: assertion\ndata: ${JSON.stringify(toTruthAssertion(row))}\n\n`);
      }
      after = next;
      if (rows.length >= SUBSCRIPTION_BATCH) continue;
      if (Date.now() - lastBeat > 15_000) {
        res.write(': keep-alive\n\n');
        lastBeat = Date.now();
      }
      await deps.waitForAppend(tenantId, deps.pollIntervalMs, abort.signal);
    }
  } catch (err) {
    // The response has started; all that is left is to end it and say why in the log.
    if (!abort.signal.aborted) req.log.warn({ err }, 'assertion subscription ended by an error');
  } finally {
    res.end();
  }
}
