import type { HealthCheck } from '@controlplane/contracts';
import {
  Counter,
  Gauge,
  Histogram,
  createMetricsRegistry,
  startMetricsListener,
  type MetricsListener,
  type Registry,
} from '@controlplane/platform';

const CLAIM_BUCKETS_MS = [1, 5, 10, 25, 50, 100, 250, 500, 1000, 5000, 30000];

/**
 * The runner's own metrics (prom-client, with Node's process metrics), under the names they have
 * always had; every series carries the runner's id (a runner process is one runner).
 */
export class RunnerMetrics {
  readonly registry: Registry;
  readonly #running: Gauge;
  readonly #completed: Counter;
  readonly #failed: Counter;
  readonly #claimLatency: Histogram;
  readonly #certificateNotAfter: Gauge<'service' | 'certificate'>;

  constructor(o: { defaultMetrics?: boolean } = {}) {
    this.registry = createMetricsRegistry({ defaultMetrics: o.defaultMetrics ?? true });
    const registers = [this.registry];
    this.#running = new Gauge({ name: 'controlplane_runner_jobs_running', help: 'Jobs running now.', registers });
    this.#completed = new Counter({ name: 'controlplane_runner_jobs_completed_total', help: 'Jobs completed.', registers });
    this.#failed = new Counter({ name: 'controlplane_runner_jobs_failed_total', help: 'Jobs failed (any reason).', registers });
    this.#claimLatency = new Histogram({
      name: 'controlplane_runner_claim_latency_ms',
      help: 'Time from asking for work to receiving it (claims that returned jobs).',
      buckets: CLAIM_BUCKETS_MS,
      registers,
    });
    this.#certificateNotAfter = new Gauge({
      name: 'controlplane_certificate_not_after_seconds',
      help: 'When a certificate the service presents or trusts expires (Unix seconds).',
      labelNames: ['service', 'certificate'],
      registers,
    });
  }

  /** Names the runner on every series, once its identity is loaded. */
  identify(runnerId: string): void {
    this.registry.setDefaultLabels({ runner: runnerId });
  }

  set running(n: number) {
    this.#running.set(n);
  }

  /** Totals so far, for the heartbeat's `metrics` field. */
  completed = 0;
  failed = 0;

  jobCompleted(): void {
    this.completed++;
    this.#completed.inc();
  }

  jobFailed(): void {
    this.failed++;
    this.#failed.inc();
  }

  observeClaim(ms: number): void {
    this.#claimLatency.observe(ms);
  }

  /** The runner certificate's expiry, after enrolment and each renewal. */
  certificateExpires(notAfterMs: number): void {
    this.#certificateNotAfter.set({ service: 'runner', certificate: 'runner' }, Math.floor(notAfterMs / 1000));
  }
}

/**
 * A local listener for liveness probes and scraping. It serves no job data and no credentials, and
 * binds to loopback by default; it is the one plain-HTTP listener, as probes expect.
 */
export async function startMetricsServer(o: {
  host: string;
  port: number;
  metrics: RunnerMetrics;
  health: () => HealthCheck;
}): Promise<MetricsListener> {
  return startMetricsListener({ host: o.host, port: o.port, registry: o.metrics.registry, health: o.health });
}
