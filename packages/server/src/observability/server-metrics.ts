import { X509Certificate } from 'node:crypto';
import { Counter, Gauge, Histogram, createMetricsRegistry, type Registry } from '@controlplane/platform';

/** Seconds: from a few milliseconds (a warm dispatch) to an hour (a backlog or a long job). */
const JOB_SECONDS_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600];
const HTTP_SECONDS_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const AUDIT_SECONDS_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];

/** A gauge whose value is read when Prometheus scrapes, from whatever sources registered for it. */
type Source = () => void | Promise<void>;

/** Where a gateway's circuit breakers stand: 0 closed, 1 half-open, 2 open. */
export const BREAKER_STATE = { closed: 0, halfOpen: 1, open: 2 } as const;

/**
 * Every metric the control plane's services expose, in one registry per process: the services of
 * `controlplane dev` share a process and so a registry, and a label `service` tells their HTTP and
 * dependency metrics apart. Labels are bounded sets — tenants, job types and pools (configuration),
 * route patterns, states — and never a job, lease, key or runner id (docs/observability.md).
 */
export class ServerMetrics {
  readonly registry: Registry;
  readonly #sources: Source[] = [];

  readonly jobsSubmitted: Counter<'tenant' | 'type'>;
  readonly jobsCompleted: Counter<'tenant' | 'type'>;
  readonly jobsFailed: Counter<'tenant' | 'type'>;
  readonly jobsDeadLettered: Counter<'tenant' | 'type'>;
  readonly leaseExpirations: Counter<'tenant' | 'type'>;
  readonly jobWait: Histogram<'tenant' | 'type'>;
  readonly jobRun: Histogram<'tenant' | 'type'>;
  readonly queueDepth: Gauge<'tenant' | 'pool' | 'type' | 'state'>;
  readonly queueOldestAge: Gauge<'tenant' | 'pool' | 'type' | 'state'>;
  readonly runners: Gauge<'tenant' | 'pool' | 'state'>;
  readonly outboxPending: Gauge;
  readonly outboxOldestAge: Gauge;
  readonly auditAppend: Histogram<'service'>;
  readonly auditAppendFailures: Counter<'service'>;
  readonly httpRequests: Counter<'service' | 'method' | 'route' | 'status'>;
  readonly httpDuration: Histogram<'service' | 'method' | 'route' | 'status'>;
  readonly rateLimited: Counter<'scope'>;
  readonly breakerState: Gauge<'service' | 'dependency'>;
  readonly pgPool: Gauge<'service' | 'state'>;
  readonly redisConnected: Gauge<'service' | 'connection'>;
  readonly certificateNotAfter: Gauge<'service' | 'certificate'>;

  constructor(o: { registry?: Registry } = {}) {
    const registry = o.registry ?? createMetricsRegistry();
    this.registry = registry;
    const registers = [registry];
    const sources = this.#sources;
    // Every scrape runs each source once, whichever collecting gauge asks first.
    let round: Promise<void> | undefined;
    const collectAll = async () => {
      round ??= Promise.allSettled(sources.map(async (s) => s())).then(() => {
        round = undefined;
      });
      await round;
    };
    const collected = { collect: collectAll };
    const counter = <L extends string>(name: string, help: string, labelNames: readonly L[]) =>
      new Counter<L>({ name, help, labelNames, registers });
    const histogram = <L extends string>(name: string, help: string, labelNames: readonly L[], buckets: number[]) =>
      new Histogram<L>({ name, help, labelNames, buckets, registers });
    const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[]) =>
      new Gauge<L>({ name, help, labelNames, registers, ...collected });

    this.jobsSubmitted = counter('controlplane_jobs_submitted_total', 'Jobs accepted (new jobs, not idempotent repeats).', [
      'tenant',
      'type',
    ]);
    this.jobsCompleted = counter('controlplane_jobs_completed_total', 'Jobs completed successfully.', ['tenant', 'type']);
    this.jobsFailed = counter(
      'controlplane_jobs_failed_total',
      'Failed attempts (a handler error, a refused result, a lease that ran out), retried or not.',
      ['tenant', 'type'],
    );
    this.jobsDeadLettered = counter(
      'controlplane_jobs_dead_lettered_total',
      'Jobs failed for good and dead-lettered (no retry left, or expired before they started).',
      ['tenant', 'type'],
    );
    this.leaseExpirations = counter(
      'controlplane_lease_expirations_total',
      'Leases that ran out because their runner stopped renewing them.',
      ['tenant', 'type'],
    );
    this.jobWait = histogram(
      'controlplane_job_wait_seconds',
      'From when a job could run (its submission, or its scheduled or retry time) to its lease by a runner.',
      ['tenant', 'type'],
      JOB_SECONDS_BUCKETS,
    );
    this.jobRun = histogram(
      'controlplane_job_run_seconds',
      'From the start of an attempt to its recorded outcome.',
      ['tenant', 'type'],
      JOB_SECONDS_BUCKETS,
    );
    this.queueDepth = gauge('controlplane_queue_depth', 'Jobs not finished, by state (pending, queued, retrying, running).', [
      'tenant',
      'pool',
      'type',
      'state',
    ]);
    this.queueOldestAge = gauge(
      'controlplane_queue_oldest_age_seconds',
      'Age of the oldest job in each state: since it could run (waiting states) or since its lease began (running).',
      ['tenant', 'pool', 'type', 'state'],
    );
    this.runners = gauge(
      'controlplane_runners',
      'Runners by state: enrolled, active (heartbeat within 60 s), stale (active, no heartbeat for 60 s), draining, revoked.',
      ['tenant', 'pool', 'state'],
    );
    this.outboxPending = gauge('controlplane_outbox_pending', 'Recorded results not yet delivered to TruthCore.', []);
    this.outboxOldestAge = gauge('controlplane_outbox_oldest_age_seconds', 'Age of the oldest result not yet delivered to TruthCore.', []);
    this.auditAppend = histogram(
      'controlplane_audit_append_seconds',
      'Time to append a batch of audit events to the hash chain.',
      ['service'],
      AUDIT_SECONDS_BUCKETS,
    );
    this.auditAppendFailures = counter('controlplane_audit_append_failures_total', 'Audit appends that failed.', ['service']);
    this.httpRequests = counter('controlplane_http_requests_total', 'HTTP requests answered, by route pattern and status.', [
      'service',
      'method',
      'route',
      'status',
    ]);
    this.httpDuration = histogram(
      'controlplane_http_request_duration_seconds',
      'Time to answer an HTTP request, by route pattern and status.',
      ['service', 'method', 'route', 'status'],
      HTTP_SECONDS_BUCKETS,
    );
    this.rateLimited = counter(
      'controlplane_rate_limited_total',
      'Requests refused by a gateway rate limit, by bucket (address, key, tenant, auth_failures).',
      ['scope'],
    );
    this.breakerState = gauge('controlplane_breaker_state', 'Circuit breaker of a dependency: 0 closed, 1 half-open, 2 open.', [
      'service',
      'dependency',
    ]);
    this.pgPool = gauge('controlplane_pg_pool_connections', 'PostgreSQL pool connections: total, idle, and callers waiting for one.', [
      'service',
      'state',
    ]);
    this.redisConnected = gauge('controlplane_redis_connected', 'Whether a Redis connection is ready (1) or not (0).', [
      'service',
      'connection',
    ]);
    this.certificateNotAfter = gauge(
      'controlplane_certificate_not_after_seconds',
      'When a certificate the service presents or trusts expires (Unix seconds).',
      ['service', 'certificate'],
    );
  }

  /**
   * Adds a source that sets some gauges when Prometheus scrapes; every source runs once per
   * scrape. Returns its removal, for a service that closes while the process goes on.
   */
  onCollect(source: Source): () => void {
    this.#sources.push(source);
    return () => {
      const i = this.#sources.indexOf(source);
      if (i >= 0) this.#sources.splice(i, 1);
    };
  }

  /** A per-service view of the PostgreSQL pool, read on scrape. */
  watchPool(service: string, stats: (() => { total: number; idle: number; waiting: number }) | undefined): () => void {
    if (!stats) return () => {};
    return this.onCollect(() => {
      const s = stats();
      this.pgPool.set({ service, state: 'total' }, s.total);
      this.pgPool.set({ service, state: 'idle' }, s.idle);
      this.pgPool.set({ service, state: 'waiting' }, s.waiting);
    });
  }

  /** When each certificate a service presents or trusts expires (`certificate`: `service`, `ca`). */
  watchCertificates(service: string, pems: Record<string, string | Buffer | undefined>): void {
    for (const [certificate, pem] of Object.entries(pems)) {
      if (!pem) continue;
      try {
        // The first certificate of a PEM bundle: the leaf, or the first CA.
        const notAfter = Date.parse(new X509Certificate(pem).validTo);
        if (Number.isFinite(notAfter)) this.certificateNotAfter.set({ service, certificate }, Math.floor(notAfter / 1000));
      } catch {
        // Not a certificate we can read: nothing to report (TLS set-up reports it).
      }
    }
  }

  /** Whether each named Redis connection of a service is ready, read on scrape. */
  watchRedis(service: string, connections: Record<string, { status: string } | undefined>): () => void {
    return this.onCollect(() => {
      for (const [connection, client] of Object.entries(connections)) {
        if (client) this.redisConnected.set({ service, connection }, client.status === 'ready' ? 1 : 0);
      }
    });
  }
}
