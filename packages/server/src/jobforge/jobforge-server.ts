import { EventEmitter } from 'node:events';
import type { Server as TlsServer } from 'node:tls';
import type { AddressInfo } from 'node:net';
import {
  attachPeerVerification,
  mtlsServerOptions,
  type CertificateAuthority,
  type FieldCipher,
  type Logger,
  type TlsMaterial,
  type Tracing,
} from '@controlplane/platform';
import { createHttpApp, registerHealthRoute, type HealthProbe, type HttpApp, registerAuditHook } from '../http/index.js';
import type { ServerMetrics } from '../observability/index.js';
import { type Database, withTenant } from '../storage/index.js';
import { startDuties, type DutyIntervals } from './duties.js';
import { EnrolmentService } from './enrolment.js';
import { DispatchStreams } from './http/dispatch-stream.js';
import { registerRunnerRoutes } from './http/runner-routes.js';
import { registerScheduleRoutes } from './http/schedule-routes.js';
import { registerServiceRoutes } from './http/service-routes.js';
import { registerSubmissionRoutes } from './http/submission-routes.js';
import { Scheduler } from './schedules/index.js';
import { JobStore } from './job-store.js';
import { JobTypeRegistry } from './job-types.js';
import { watchJobforgeGauges } from './metrics-gauges.js';
import { JobLifecycle, SERVICE_NAME } from './lifecycle/index.js';
import type { QueueBackend } from './queue/queue-backend.js';
import { ResultOutboxDeliverer, type TruthcoreTarget } from './result-outbox.js';
import type { AuditSink } from '../audit/index.js';
import { RunnerRegistry } from './runner-registry.js';
import { EnrollRequest, isTenantId, parseOrThrow, PRODUCT_VERSION } from '@controlplane/contracts';

export interface JobforgeServerOptions {
  db: Database;
  /** Builds the queue backend once the job store exists. */
  queue: (deps: { db: Database; store: JobStore }) => QueueBackend | Promise<QueueBackend>;
  logger: Logger;
  /** This service's mTLS material (certificate with spiffe://<domain>/service/jobforge). */
  tls: TlsMaterial;
  trustDomain: string;
  /** The CA that signs runner certificates at enrolment. */
  ca: CertificateAuthority;
  listen: { host: string; port: number };
  /** Enrolment listener: TLS with server authentication only (the runner has no certificate yet). */
  enrollListen: { host: string; port: number };
  leaseMs?: number;
  /** How long a single submission may wait to share its INSERT and commit with others (default 2 ms). */
  submitLingerMs?: number;
  heartbeatIntervalMs?: number;
  runnerCertificateTtlMs?: number;
  /** Service identities allowed to call the service API on behalf of tenants. */
  trustedServices?: readonly string[];
  duties?: Partial<DutyIntervals> | false;
  version?: string;
  /** The URL runners should use for the protocol (told to them at enrolment); defaults to the listener's. */
  advertisedUrl?: string;
  /** Where recorded results are delivered (from a transactional outbox). */
  truthcore?: TruthcoreTarget | undefined;
  outboxIntervalMs?: number;
  /** Where security-relevant actions are recorded (the audit chain). */
  audit?: AuditSink | undefined;
  /** Field encryption for payloads and results at rest (see docs/encryption.md). */
  cipher?: FieldCipher | undefined;
  /** More /health probes (the composition's: encryption at rest, audit checkpoints). */
  healthProbes?: readonly HealthProbe[];
  /** The process's metrics; JobForge adds its job counters, queue, runner and outbox gauges. */
  metrics?: ServerMetrics | undefined;
  /** Spans of its requests; a submission's trace context is kept with the job (off by default). */
  tracing?: Tracing | undefined;
}

export interface JobforgeServer {
  url: string;
  enrollUrl: string;
  jobs: JobLifecycle;
  registry: RunnerRegistry;
  jobTypes: JobTypeRegistry;
  app: HttpApp;
  outbox: ResultOutboxDeliverer | undefined;
  close(): Promise<void>;
}

/** Delivers outbox batches back to back while there is work, then every `intervalMs`. */
function startOutboxLoop(outbox: ResultOutboxDeliverer, logger: Logger, intervalMs: number): () => Promise<void> {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  const tick = () => {
    running = (async () => {
      try {
        while (!stopped && (await outbox.deliverBatch()) > 0);
      } catch (err) {
        logger.warn({ err }, 'result outbox delivery failed; will retry');
      }
    })().finally(() => {
      if (!stopped) {
        timer = setTimeout(tick, intervalMs);
        timer.unref();
      }
    });
  };
  timer = setTimeout(tick, intervalMs);
  timer.unref();
  return async () => {
    stopped = true;
    clearTimeout(timer);
    await running;
  };
}

export async function startJobforge(o: JobforgeServerOptions): Promise<JobforgeServer> {
  const store = new JobStore(o.db, { cipher: o.cipher });
  const queue = await o.queue({ db: o.db, store });
  const registry = new RunnerRegistry();
  const jobTypes = new JobTypeRegistry();
  const events = new EventEmitter();
  events.setMaxListeners(0);
  const jobs = new JobLifecycle({
    db: o.db,
    store,
    queue,
    jobTypes,
    logger: o.logger,
    leaseMs: o.leaseMs,
    ...(o.submitLingerMs !== undefined ? { submitLingerMs: o.submitLingerMs } : {}),
    requireResultProof: true,
    metrics: o.metrics,
    tracing: o.tracing,
    onEvent: (tenantId, jobId) => events.emit(`${tenantId}/${jobId}`),
  });
  const scheduler = new Scheduler({ db: o.db, jobs, logger: o.logger });
  const enrolment = new EnrolmentService({
    db: o.db,
    registry,
    ca: o.ca,
    trustDomain: o.trustDomain,
    certificateTtlMs: o.runnerCertificateTtlMs ?? 24 * 3600_000,
    logger: o.logger,
  });
  const trusted = new Set(o.trustedServices ?? ['gateway']);
  const version = o.version ?? PRODUCT_VERSION;

  const app = createHttpApp({
    service: SERVICE_NAME,
    logger: o.logger,
    https: mtlsServerOptions(o.tls, { trustDomain: o.trustDomain }),
    bodyLimitBytes: 8 * 1024 * 1024,
    // Runners keep their dispatch stream's request body open; every peer here has a verified certificate.
    streamingRequestBodies: true,
    metrics: o.metrics,
    tracing: o.tracing,
  });
  // Checked once per connection here, and again per request by the routes: a revoked runner's
  // new connections are refused and its open ones stop working at the next request.
  attachPeerVerification(app.server as unknown as TlsServer, {
    trustDomain: o.trustDomain,
    verifyPeer: async (p) => {
      if (p.kind === 'service') return true;
      if (p.kind === 'runner') {
        if (!isTenantId(p.tenantId)) return false;
        return withTenant(p.tenantId, () => registry.isCertificateUsable(o.db, p.id, p.serialNumber));
      }
      return false;
    },
    onReject: (r) => o.logger.warn({ reason: r.reason, peer: r.principal?.spiffeId, remoteAddress: r.remoteAddress }, 'mTLS peer refused'),
  });
  registerHealthRoute(app, SERVICE_NAME, version, [
    { name: 'database', check: async () => void (await o.db.query('select 1')) },
    ...(o.healthProbes ?? []),
  ]);
  if (o.audit) registerAuditHook(app, o.audit, o.logger);
  const dispatchStreams = new DispatchStreams();
  registerRunnerRoutes(app, {
    db: o.db,
    jobs,
    registry,
    enrolment,
    dispatchStreams,
    heartbeatIntervalMs: o.heartbeatIntervalMs ?? Math.max(1000, Math.floor(jobs.runners.leaseMs / 3)),
    signingCertificatePem: o.tls.cert,
    signingKeyPem: o.tls.key,
  });
  const submissions = registerSubmissionRoutes(app, { jobs, trustedServices: trusted, audit: o.audit, tracing: o.tracing });
  registerScheduleRoutes(app, { scheduler, trustedServices: trusted });
  registerServiceRoutes(app, {
    db: o.db,
    jobs,
    jobTypes,
    registry,
    dispatchStreams,
    trustedServices: trusted,
    waitForJobEvent: (tenantId, jobId, ms, signal) =>
      new Promise<void>((resolve) => {
        const key = `${tenantId}/${jobId}`;
        const done = () => {
          clearTimeout(t);
          events.off(key, done);
          signal.removeEventListener('abort', done);
          resolve();
        };
        const t = setTimeout(done, ms);
        events.on(key, done);
        signal.addEventListener('abort', done, { once: true });
      }),
  });

  const enrollApp = createHttpApp({
    service: SERVICE_NAME,
    logger: o.logger,
    https: { cert: o.tls.cert, key: o.tls.key, minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3' },
    bodyLimitBytes: 64 * 1024,
    metrics: o.metrics,
  });
  registerHealthRoute(enrollApp, SERVICE_NAME, version, []);
  if (o.audit) registerAuditHook(enrollApp, o.audit, o.logger);
  let runnerApiUrl = o.advertisedUrl;
  enrollApp.post('/enroll', { config: { audit: 'runner.enrolled' } }, async (req, reply) => {
    const body = parseOrThrow(EnrollRequest, req.body);
    const res = await enrolment.enroll({ joinToken: body.joinToken, csrPem: body.csr, name: body.name });
    req.ctx.principal = { kind: 'runner', id: res.runnerId, tenantId: res.tenantId };
    return reply.code(201).send({ ...res, runnerApiUrl });
  });

  const unwatch = o.metrics ? [watchJobforgeGauges(o.metrics, o.db), o.metrics.watchPool(SERVICE_NAME, o.db.poolStats)] : [];
  const stopDuties = o.duties === false ? async () => {} : startDuties(jobs, o.logger, o.duties, scheduler);
  const outbox = o.truthcore ? new ResultOutboxDeliverer(o.db, o.truthcore, o.logger, { cipher: o.cipher }) : undefined;
  const stopOutbox = outbox ? startOutboxLoop(outbox, o.logger, o.outboxIntervalMs ?? 500) : async () => {};
  await app.listen({ host: o.listen.host, port: o.listen.port });
  await enrollApp.listen({ host: o.enrollListen.host, port: o.enrollListen.port });
  const addr = app.server.address() as AddressInfo;
  const enrollAddr = enrollApp.server.address() as AddressInfo;
  const host = (h: string) => (h.includes(':') ? `[${h}]` : h);
  runnerApiUrl ??= `https://${host(o.listen.host)}:${addr.port}`;
  o.logger.info({ port: addr.port, enrollPort: enrollAddr.port, queue: queue.kind }, 'jobforge listening');
  await o.audit
    ?.record({
      tenantId: null,
      actor: { kind: 'service', id: SERVICE_NAME },
      action: 'service.started',
      outcome: 'success',
      details: { queue: queue.kind, leaseMs: jobs.runners.leaseMs, resultDelivery: Boolean(o.truthcore) },
    })
    .catch((err: unknown) => o.logger.error({ err }, 'could not record service start in the audit log'));

  return {
    url: `https://${host(o.listen.host)}:${addr.port}`,
    enrollUrl: `https://${host(o.enrollListen.host)}:${enrollAddr.port}`,
    jobs,
    registry,
    jobTypes,
    app,
    outbox,
    async close() {
      for (const u of unwatch) u();
      await stopDuties();
      await stopOutbox();
      // Open dispatch streams would hold the listener open: end them, and runners reconnect elsewhere.
      dispatchStreams.endAll();
      await Promise.all([app.close(), enrollApp.close()]);
      await submissions.drain();
      await queue.close();
    },
  };
}
