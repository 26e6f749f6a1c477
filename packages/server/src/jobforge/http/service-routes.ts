import { AppError, JobStatus, JobType, parseOrThrow, PoolName } from '@controlplane/contracts';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { forwardedCaller, type HttpApp } from '../../http/index.js';
import { exactTimeIdCursor, type Database } from '../../storage/index.js';
import { toJobResponse } from '../job-row.js';
import { DEFAULT_POOL, type JobTypeRegistry } from '../job-types.js';
import { createJoinToken } from '../join-tokens.js';
import { tenantOverview } from '../overview.js';
import { TERMINAL_STATES } from '../job-states.js';
import type { JobLifecycle } from '../lifecycle/index.js';
import type { RunnerRegistry, RunnerRecord } from '../runner-registry.js';
import type { DispatchStreams } from './dispatch-stream.js';

export interface ServiceRouteDeps {
  db: Database;
  jobs: JobLifecycle;
  jobTypes: JobTypeRegistry;
  registry: RunnerRegistry;
  /** Open dispatch streams: a revoked runner's are ended at once. */
  dispatchStreams: DispatchStreams;
  /** Certificate identities (service ids) allowed to call on behalf of tenants. */
  trustedServices: ReadonlySet<string>;
  /** Resolves when a job may have new events (in-process; other replicas are polled). */
  waitForJobEvent(tenantId: string, jobId: string, ms: number, signal: AbortSignal): Promise<void>;
}

const Uuid = z.uuid();
const ListQuery = z.object({
  status: JobStatus.optional(),
  type: JobType.optional(),
  deadLettered: z.enum(['true', 'false']).optional(),
  flow: z.uuid().optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z.string().max(200).optional(),
});
/** `GET /v1/jobs/:id?waitMs=…`: wait up to that long (at most 5 s a call) for the job to finish. */
const GetQuery = z.object({ waitMs: z.coerce.number().int().min(0).max(5_000).optional() });
const BatchBody = z.object({ jobs: z.array(z.unknown()).min(1).max(1000) });
const JobTypeBody = z.object({
  inputSchema: z.record(z.string(), z.unknown()).nullable().default(null),
  outputSchema: z.record(z.string(), z.unknown()).nullable().default(null),
  pool: PoolName.default(DEFAULT_POOL),
  concurrencyLimit: z.number().int().min(1).max(100_000).nullable().default(null),
});
const JoinTokenBody = z.object({
  pool: PoolName.default(DEFAULT_POOL),
  ttlSeconds: z
    .number()
    .int()
    .min(60)
    .max(7 * 86_400)
    .default(3600),
});

function idParam(req: FastifyRequest): string {
  const res = Uuid.safeParse((req.params as { id?: string }).id);
  if (!res.success) throw new AppError('VALIDATION_FAILED', { details: [{ path: ['params', 'id'], message: 'must be a UUID' }] });
  return res.data;
}

function runnerView(r: RunnerRecord) {
  return {
    id: r.id,
    name: r.name,
    pool: r.pool,
    version: r.version,
    jobTypes: r.job_types,
    tags: r.tags,
    status: r.status,
    lastHeartbeatAt: r.last_heartbeat_at?.toISOString() ?? null,
    revokedAt: r.revoked_at?.toISOString() ?? null,
    createdAt: r.created_at.toISOString(),
  };
}

/** The service API the gateway calls on behalf of authenticated clients (tenant from forwarded headers). */
export function registerServiceRoutes(app: HttpApp, deps: ServiceRouteDeps): void {
  const caller = (req: FastifyRequest) => {
    const c = forwardedCaller(req, deps.trustedServices);
    req.ctx.principal = { kind: 'client', id: c.actor, tenantId: c.tenantId };
    return c;
  };

  app.post('/v1/jobs', { config: { audit: 'job.submitted' } }, async (req, reply) => {
    const c = caller(req);
    const res = await deps.jobs.submission.submit(c.tenantId, c.actor, req.body);
    return reply.code(202).send(res);
  });

  app.post('/v1/jobs/batch', { config: { audit: 'job.batch_submitted' } }, async (req, reply) => {
    const c = caller(req);
    const body = parseOrThrow(BatchBody, req.body);
    const jobs = await deps.jobs.submission.submitMany(c.tenantId, c.actor, body.jobs);
    return reply.code(202).send({ jobs });
  });

  app.get('/v1/jobs', async (req) => {
    const c = caller(req);
    const q = parseOrThrow(ListQuery, req.query, ['query']);
    const after = q.cursor ? exactTimeIdCursor.decode(q.cursor, ['query', 'cursor']) : undefined;
    const rows = await deps.jobs.queries.list(c.tenantId, {
      status: q.status,
      type: q.type,
      deadLettered: q.deadLettered === undefined ? undefined : q.deadLettered === 'true',
      flowId: q.flow,
      after: after && { createdAt: after.at, id: after.id },
      limit: q.limit + 1,
    });
    const page = rows.slice(0, q.limit);
    const last = page[page.length - 1];
    return {
      jobs: page.map(toJobResponse),
      nextCursor: rows.length > q.limit && last?.cursor_at ? exactTimeIdCursor.encode({ at: last.cursor_at, id: last.id }) : null,
    };
  });

  app.get('/v1/jobs/:id', async (req, reply) => {
    const c = caller(req);
    const id = idParam(req);
    const { waitMs } = parseOrThrow(GetQuery, req.query, ['query']);
    if (!waitMs) return deps.jobs.queries.get(c.tenantId, id);
    // A long-poll: the answer comes as soon as the job is finished (or when waitMs runs out), so a
    // client waits for a job with one request instead of a stream and a read. The wake-up is
    // listened for before the job is read, so a completion between the two is not missed; another
    // replica's completion is seen at the next read, at least once a second.
    // The response's close before it is sent: the client has gone.
    const gone = new AbortController();
    const onClose = () => gone.abort();
    reply.raw.once('close', onClose);
    const deadline = Date.now() + waitMs;
    for (;;) {
      const turn = new AbortController();
      const woken = deps.waitForJobEvent(
        c.tenantId,
        id,
        Math.min(1_000, Math.max(0, deadline - Date.now())),
        AbortSignal.any([turn.signal, gone.signal]),
      );
      const job = await deps.jobs.queries.get(c.tenantId, id);
      if (TERMINAL_STATES.includes(job.status) || Date.now() >= deadline || gone.signal.aborted) {
        turn.abort();
        reply.raw.off('close', onClose);
        return job;
      }
      await woken;
    }
  });

  app.get('/v1/jobs/:id/attempts', async (req) => {
    const c = caller(req);
    const id = idParam(req);
    await deps.jobs.queries.get(c.tenantId, id);
    return { attempts: await deps.jobs.queries.attempts(c.tenantId, id) };
  });

  app.post('/v1/jobs/:id/cancel', { config: { audit: 'job.cancelled' } }, async (req) =>
    deps.jobs.operator.cancel(caller(req).tenantId, idParam(req)),
  );
  app.post('/v1/jobs/:id/retry', { config: { audit: 'job.retried' } }, async (req) =>
    deps.jobs.operator.retry(caller(req).tenantId, idParam(req)),
  );

  app.get('/v1/jobs/:id/events', async (req, reply) => streamJobEvents(req, reply, deps, caller(req).tenantId, idParam(req)));

  app.put('/v1/job-types/:type', { config: { audit: 'job_type.changed' } }, async (req) => {
    const c = caller(req);
    const type = parseOrThrow(JobType, (req.params as { type?: string }).type, ['params', 'type']);
    const body = parseOrThrow(JobTypeBody, req.body);
    const contract = await deps.jobTypes.put(deps.db, { tenantId: c.tenantId, type, ...body });
    return {
      type: contract.type,
      pool: contract.pool,
      inputSchema: contract.inputSchema,
      outputSchema: contract.outputSchema,
      concurrencyLimit: contract.concurrencyLimit,
      version: contract.version,
      updatedAt: contract.updatedAt.toISOString(),
    };
  });

  app.get('/v1/job-types', async (req) => {
    const c = caller(req);
    const list = await deps.jobTypes.list(deps.db, c.tenantId);
    return {
      jobTypes: list.map((t) => ({
        type: t.type,
        pool: t.pool,
        inputSchema: t.inputSchema,
        outputSchema: t.outputSchema,
        concurrencyLimit: t.concurrencyLimit,
        version: t.version,
        updatedAt: t.updatedAt.toISOString(),
      })),
    };
  });

  app.post('/v1/join-tokens', { config: { audit: 'join_token.created' } }, async (req, reply) => {
    const c = caller(req);
    const body = parseOrThrow(JoinTokenBody, req.body ?? {});
    const t = await createJoinToken(deps.db, { tenantId: c.tenantId, pool: body.pool, ttlMs: body.ttlSeconds * 1000, createdBy: c.actor });
    return reply.code(201).send({ id: t.id, token: t.token, tenantId: t.tenantId, pool: t.pool, expiresAt: t.expiresAt.toISOString() });
  });

  app.get('/v1/overview', async (req) => tenantOverview(deps.db, caller(req).tenantId));

  app.get('/v1/runners', async (req) => ({ runners: (await deps.registry.list(deps.db, caller(req).tenantId)).map(runnerView) }));

  app.post('/v1/runners/:id/revoke', { config: { audit: 'runner.revoked' } }, async (req) => {
    const c = caller(req);
    const id = parseOrThrow(z.string().min(1).max(64), (req.params as { id?: string }).id, ['params', 'id']);
    const revoked = await deps.registry.revoke(deps.db, c.tenantId, id);
    deps.dispatchStreams.end(revoked.id);
    return runnerView(revoked);
  });
}

/**
 * Server-Sent Events for one job: replays stored events after Last-Event-ID (the event seq), then
 * follows new ones until the job is finished or the client leaves.
 */
async function streamJobEvents(
  req: FastifyRequest,
  reply: FastifyReply,
  deps: ServiceRouteDeps,
  tenantId: string,
  jobId: string,
): Promise<void> {
  await deps.jobs.queries.get(tenantId, jobId); // 404 before the stream starts
  const lastId = req.headers['last-event-id'];
  let after = typeof lastId === 'string' && /^\d{1,19}$/.test(lastId) ? lastId : '0';
  const abort = new AbortController();
  reply.hijack();
  const res = reply.raw;
  res.once('close', () => abort.abort());
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    connection: 'keep-alive',
    'x-correlation-id': req.id,
  });
  res.write(': stream open\n\n');
  const terminal = new Set(['job.completed', 'job.failed', 'job.cancelled', 'job.expired']);
  let lastBeat = Date.now();
  try {
    while (!abort.signal.aborted) {
      const events = await deps.jobs.queries.events(tenantId, jobId, after);
      let finished = false;
      for (const e of events) {
        res.write(
          `id: ${e.seq}\nevent: ${e.type}\ndata: ${JSON.stringify({ id: e.id, type: e.type, jobId: e.job_id, timestamp: e.created_at.toISOString(), data: e.data ?? undefined, metadata: { service: 'jobforge', version: '1.0.0' } })}\n\n`,
        );
        after = e.seq;
        if (terminal.has(e.type)) finished = true;
      }
      if (finished) break;
      if (Date.now() - lastBeat > 15_000) {
        res.write(': keep-alive\n\n');
        lastBeat = Date.now();
      }
      await deps.waitForJobEvent(tenantId, jobId, 1_000, abort.signal);
    }
  } finally {
    res.end();
  }
}
