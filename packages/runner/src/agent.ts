import { createPrivateKey, type KeyObject, type X509Certificate } from 'node:crypto';
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CONTRACT_VERSION_STRING,
  PRODUCT_VERSION,
  type HealthCheck,
  type JobEnvelope,
  type LeaseRef,
  type RegisterResponse,
} from '@controlplane/contracts';
import { createKeyPairAndCsr, runWithContext, type Logger, type Span, type TlsMaterial, type Tracing } from '@controlplane/platform';
import {
  DEFAULT_KILL_GRACE_MS,
  HandlerSandboxes,
  handlersFromModule,
  type ConfinementMode,
  type HandlerDefinition,
  type SandboxOutcome,
} from './sandbox/index.js';
import { checkEnvelopeBatch } from './envelope-check.js';
import { loadRunnerIdentity, saveRunnerIdentity, type RunnerIdentityMeta } from './identity.js';
import { JobforgeClient } from './jobforge-client.js';
import { inJobSpan } from './job-span.js';
import { RunnerMetrics, startMetricsServer } from './metrics.js';
import { OutcomeReporter } from './outcome-reporter.js';
import { capabilityOf, checkJobforgeCertificate } from './registration.js';
import { WorkIntake, type IntakeHost, type IntakeMode } from './work-intake.js';

export interface RunnerAgentOptions {
  /** The directory written by `controlplane runner enroll`. */
  dir: string;
  /** Path of the ES module that exports the handlers. */
  handlersModule: string;
  logger: Logger;
  /** Jobs run at once; defaults to the sum of the handlers' concurrency. */
  slots?: number;
  /**
   * How work reaches the runner: 'stream' (default), leases pushed by JobForge down one open
   * stream as slots free; 'poll', claim long-polls, for networks that cannot carry a streaming body.
   */
  intake?: IntakeMode;
  /** How long one claim long-poll may wait for work ('poll'). */
  claimWaitMs?: number;
  /** On stop, how long running jobs may take to finish before they are handed back. */
  drainTimeoutMs?: number;
  /**
   * Tracing (off by default): a span around each job's handler and report, in the trace the job
   * was submitted under (its envelope's traceparent).
   */
  tracing?: Tracing | undefined;
  /** Optional local listener for /health and /metrics. */
  metricsListen?: { host: string; port: number } | undefined;
  /** Renew the certificate when this fraction of its lifetime is left. */
  renewWhenRemaining?: number;
  version?: string;
  /** The environment the sandbox filters from (only allow-listed variables reach a handler). */
  sourceEnv?: Readonly<Record<string, string | undefined>>;
  envAllowlist?: readonly string[];
  defaultMemoryLimitMb?: number;
  /**
   * How every sandbox process is confined (sandbox/confinement.ts). Default 'strict': namespaces
   * (bubblewrap), a separate uid when the runner is root, and Node's permission model; the runner
   * refuses to start where that cannot be had, unless a weaker mode is chosen here explicitly.
   */
  confinement?: ConfinementMode;
  /** Further directories sandboxes may read (a handler's data files). */
  sandboxReadPaths?: readonly string[];
}

interface ActiveJob {
  env: JobEnvelope;
  abort: AbortController;
  startedAt: string;
  /** JobForge said the lease is no longer ours: finish silently. */
  lost: boolean;
  /** Stopped by a drain: hand the job back instead of failing it. */
  releasing: boolean;
  /** Its sandbox is done: the slot is free for the next job while the outcome is reported. */
  slotFreed: boolean;
}

const PROGRESS_MIN_INTERVAL_MS = 500;

/**
 * A runner: registers its handlers' capabilities, claims work while it has free slots, runs each
 * job in its own sandbox, signs and reports outcomes, heartbeats its leases, renews its
 * certificate, and drains cleanly on stop.
 */
export class RunnerAgent {
  readonly metrics: RunnerMetrics;
  #meta!: RunnerIdentityMeta;
  #material!: TlsMaterial;
  #signingKey: KeyObject | undefined;
  #client!: JobforgeClient;
  #registration!: RegisterResponse;
  #jobforgeCert!: X509Certificate;
  #handlers = new Map<string, HandlerDefinition>();
  #sandboxes: HandlerSandboxes | undefined;
  #reporter!: OutcomeReporter;
  #handlersPath: string;
  #slots = 1;
  /** Jobs whose sandbox is still running; a slot frees when the sandbox is done, not when the outcome is acknowledged. */
  #running = 0;
  #state: 'new' | 'running' | 'draining' | 'stopped' = 'new';
  readonly #active = new Map<string, ActiveJob>();
  readonly #reporting = new Set<Promise<void>>();
  #intake: WorkIntake | undefined;
  #slotWaiters: Array<() => void> = [];
  #loops: Promise<void>[] = [];
  #heartbeatTimer: NodeJS.Timeout | undefined;
  #renewTimer: NodeJS.Timeout | undefined;
  #metricsServer: { url: string; close(): Promise<void> } | undefined;
  readonly #startedAt = Date.now();
  #lastHeartbeatOk = 0;

  constructor(private readonly o: RunnerAgentOptions) {
    this.#handlersPath = isAbsolute(o.handlersModule) ? o.handlersModule : resolve(o.handlersModule);
    // Node's process metrics only where something scrapes them.
    this.metrics = new RunnerMetrics({ defaultMetrics: Boolean(o.metricsListen) });
  }

  get runnerId(): string {
    return this.#meta.runnerId;
  }

  get metricsUrl(): string | undefined {
    return this.#metricsServer?.url;
  }

  get activeJobs(): number {
    return this.#active.size;
  }

  async start(): Promise<void> {
    const { meta, material } = loadRunnerIdentity(this.o.dir);
    this.#meta = meta;
    this.metrics.identify(meta.runnerId);
    this.#material = material;
    this.#client = new JobforgeClient(meta.runnerApiUrl, material, meta.trustDomain);

    const mod = (await import(pathToFileURL(this.#handlersPath).href)) as Record<string, unknown>;
    this.#handlers = new Map(handlersFromModule(mod));
    if (this.#handlers.size === 0) throw new Error(`${this.#handlersPath} exports no handlers`);
    const unique = [...new Set(this.#handlers.values())];
    this.#slots =
      this.o.slots ??
      Math.max(
        1,
        unique.reduce((n, h) => n + (h.concurrency ?? 1), 0),
      );

    // Every handler's sandboxes are warm before the runner asks for its first job.
    this.#sandboxes = await HandlerSandboxes.start({
      handlersModule: this.#handlersPath,
      handlers: unique,
      confinement: this.o.confinement ?? 'strict',
      hiddenPaths: [this.o.dir],
      ...(this.o.sandboxReadPaths ? { readPaths: this.o.sandboxReadPaths } : {}),
      sourceEnv: this.o.sourceEnv ?? {},
      ...(this.o.envAllowlist ? { envAllowlist: this.o.envAllowlist } : {}),
      defaultMemoryLimitMb: this.o.defaultMemoryLimitMb ?? 256,
      logger: this.o.logger,
    });
    this.#reporter = new OutcomeReporter(
      () => this.#client,
      () => (this.#signingKey ??= createPrivateKey(this.#material.key)),
      this.o.logger,
    );
    try {
      await this.#register(meta, unique);
    } catch (err) {
      await this.#sandboxes.close();
      throw err;
    }
    this.#state = 'running';
    this.o.logger.info(
      {
        runnerId: meta.runnerId,
        tenantId: meta.tenantId,
        pool: meta.pool,
        jobTypes: this.#registration.jobTypes,
        slots: this.#slots,
        confinement: this.o.confinement ?? 'strict',
        sandboxLayers: this.#sandboxes.layers,
      },
      'runner registered',
    );

    this.#scheduleHeartbeat();
    this.#scheduleRenewal();
    if (this.o.metricsListen) {
      this.#metricsServer = await startMetricsServer({
        ...this.o.metricsListen,
        metrics: this.metrics,
        health: () => this.health(),
      });
    }
    this.#intake = new WorkIntake(this.#intakeHost(), this.o.intake ?? 'stream', this.o.claimWaitMs ?? 20_000);
    this.#loops.push(this.#intake.run());
  }

  async #register(meta: RunnerIdentityMeta, handlers: readonly HandlerDefinition[]): Promise<void> {
    this.#registration = await this.#client.register({
      name: meta.name,
      version: this.o.version ?? PRODUCT_VERSION,
      contractVersion: CONTRACT_VERSION_STRING,
      capabilities: handlers.map(capabilityOf),
      tags: [],
    });
    this.#jobforgeCert = checkJobforgeCertificate(this.#registration.jobforgeCertificatePem, this.#material.ca[0]!, meta.trustDomain);
  }

  health(): HealthCheck {
    const hbAge = Date.now() - this.#lastHeartbeatOk;
    const hbOk = this.#lastHeartbeatOk > 0 && hbAge < 3 * (this.#registration?.heartbeatIntervalMs ?? 10_000);
    const status =
      this.#state === 'running'
        ? hbOk || this.#lastHeartbeatOk === 0
          ? 'healthy'
          : 'degraded'
        : this.#state === 'draining'
          ? 'degraded'
          : 'unhealthy';
    return {
      status,
      service: 'runner',
      version: this.o.version ?? PRODUCT_VERSION,
      timestamp: new Date().toISOString(),
      uptime: Math.round((Date.now() - this.#startedAt) / 1000),
      checks: [{ name: 'jobforge', status: hbOk || this.#lastHeartbeatOk === 0 ? 'healthy' : 'degraded' }, this.#sandboxCheck()],
    };
  }

  /**
   * How sandboxes are confined, said loudly: a weaker mode than 'strict' was accepted explicitly,
   * and /health shows it as degraded for as long as it runs that way.
   */
  #sandboxCheck(): HealthCheck['checks'][number] {
    const mode = this.o.confinement ?? 'strict';
    const layers = this.#sandboxes?.layers ?? [];
    const message = `confinement ${mode}: ${layers.length > 0 ? layers.join(', ') : 'none'}`;
    return { name: 'sandbox', status: mode === 'strict' ? 'healthy' : 'degraded', message };
  }

  /**
   * Stops claiming, lets running jobs finish until the drain deadline, hands back the rest (they
   * are queued again at once, not after lease expiry), and closes everything.
   */
  async stop(drainTimeoutMs = this.o.drainTimeoutMs ?? 30_000): Promise<void> {
    if (this.#state === 'stopped' || this.#state === 'new') {
      this.#state = 'stopped';
      return;
    }
    this.#state = 'draining';
    this.#intake?.stop();
    this.#wakeSlotWaiters();
    const deadline = Date.now() + drainTimeoutMs;
    // Tell JobForge at once: from now on it gives this runner no work, not even through a
    // long-poll whose connection it has not yet seen close, and it takes back any lease granted
    // to a claim whose answer we will never read.
    await this.#heartbeat().catch((err: unknown) => this.o.logger.warn({ err: (err as Error).message }, 'draining heartbeat failed'));
    while (this.#active.size > 0 && Date.now() < deadline) await sleep(50);
    for (const job of this.#active.values()) {
      job.releasing = true;
      job.abort.abort();
    }
    while (this.#active.size > 0 || this.#reporting.size > 0) {
      await Promise.allSettled([...this.#reporting]);
      if (this.#active.size > 0) await sleep(20);
    }
    await Promise.allSettled(this.#loops);
    await this.#sandboxes?.close();
    // A last heartbeat tells JobForge we are going; then nothing more is sent.
    await this.#heartbeat().catch(() => undefined);
    this.#state = 'stopped';
    clearTimeout(this.#heartbeatTimer);
    clearTimeout(this.#renewTimer);
    await this.#metricsServer?.close();
    this.#client.close();
    this.o.logger.info({ runnerId: this.#meta.runnerId }, 'runner stopped');
  }

  // ------------------------------------------------------------------ claiming

  /** The intake's view of this runner. */
  #intakeHost(): IntakeHost {
    return {
      logger: this.o.logger,
      client: () => this.#client,
      freeSlots: () => this.#slots - this.#running,
      taking: () => this.#state === 'running',
      slotFreed: () => new Promise<void>((r) => this.#slotWaiters.push(r)),
      accept: async (batch, waitedMs) => {
        this.metrics.observeClaim(waitedMs);
        const accepted = this.#verifyBatch(batch.jobs, batch.signature);
        if (this.#state !== 'running') {
          // A drain began while these were on their way: hand them straight back.
          await Promise.allSettled(accepted.map((env) => this.#client.release(this.#ref(env))));
          return 0;
        }
        for (const env of accepted) this.#startJob(env);
        return accepted.length;
      },
    };
  }

  /** Only envelopes that JobForge signed, for our tenant, whose payload matches its digest, are run. */
  #verifyBatch(jobs: JobEnvelope[], signature: string | undefined): JobEnvelope[] {
    const { accepted, refused } = checkEnvelopeBatch(jobs, signature, {
      jobforgeKey: this.#jobforgeCert.publicKey,
      tenantId: this.#meta.tenantId,
    });
    for (const r of refused) this.o.logger.error({ jobId: r.envelope.jobId, reason: r.reason }, 'refusing a tampered job envelope');
    return accepted;
  }

  // ------------------------------------------------------------------ running

  #startJob(env: JobEnvelope): void {
    const job: ActiveJob = {
      env,
      abort: new AbortController(),
      startedAt: new Date().toISOString(),
      lost: false,
      releasing: false,
      slotFreed: false,
    };
    this.#active.set(env.jobId, job);
    this.#running += 1;
    this.metrics.running = this.#running;
    const run = () => inJobSpan(this.o.tracing, env, (span) => this.#runAndReport(job, span));
    const p = runWithContext({ correlationId: env.correlationId ?? env.jobId }, run).finally(() => {
      this.#active.delete(env.jobId);
      this.#freeSlot(job);
      this.#reporting.delete(p);
    });
    this.#reporting.add(p);
  }

  #freeSlot(job: ActiveJob): void {
    if (job.slotFreed) return;
    job.slotFreed = true;
    this.#running -= 1;
    this.metrics.running = this.#running;
    this.#intake?.slotFreed();
    this.#wakeSlotWaiters();
  }

  async #runAndReport(job: ActiveJob, span?: Span): Promise<void> {
    const { env } = job;
    const log = this.o.logger.child({ jobId: env.jobId, attempt: env.attempt, correlationId: env.correlationId ?? env.jobId });
    const handler = this.#handlers.get(env.type);
    let outcome: SandboxOutcome;
    let progressSent: Promise<unknown> = Promise.resolve();
    if (!handler) {
      outcome = { ok: false, code: 'HANDLER_FAILED', message: `No handler for job type ${env.type}.`, retryable: false, durationMs: 0 };
    } else {
      let lastProgress = 0;
      const job_ = { id: env.jobId, attempt: env.attempt, type: env.type, input: env.payload.data, correlationId: env.correlationId };
      outcome = await this.#sandboxes!.run(handler, job_, {
        timeoutMs: Math.min(env.timeoutMs, handler.timeoutMs ?? env.timeoutMs),
        killGraceMs: DEFAULT_KILL_GRACE_MS,
        signal: job.abort.signal,
        onProgress: (pct, message) => {
          const now = Date.now();
          if (now - lastProgress < PROGRESS_MIN_INTERVAL_MS && pct < 100) return;
          lastProgress = now;
          const sent = this.#client
            .progress(this.#ref(env), pct, message)
            .catch((err: unknown) => log.debug({ err: (err as Error).message }, 'progress not delivered'));
          progressSent = Promise.all([progressSent, sent]);
        },
        onLog: (level, message) => log[level]({ handler: env.type }, message),
      });
    }
    this.#freeSlot(job);
    span?.setAttribute('controlplane.job.outcome', outcome.ok ? 'completed' : outcome.code);
    if (!outcome.ok && 'diagnostics' in outcome && outcome.diagnostics) log.warn({ diagnostics: outcome.diagnostics }, 'handler failed');
    if (job.lost) {
      log.warn('lease lost while running; outcome dropped');
      return;
    }
    if (job.releasing) {
      await this.#reporter.release(env);
      log.info('job handed back during drain');
      return;
    }
    // Progress reported before the handler returned is recorded before the outcome ends the lease.
    await progressSent;
    // Signed and sent at once; outcomes that become ready together travel together.
    const receipt = await this.#reporter.settle(env, outcome, job.startedAt);
    if (!receipt.ok) log.warn({ code: receipt.code }, 'outcome not accepted');
    else if (outcome.ok) this.metrics.jobCompleted();
    if (!outcome.ok) this.metrics.jobFailed();
  }

  #ref(env: JobEnvelope): LeaseRef {
    return { jobId: env.jobId, leaseId: env.leaseId, fencingToken: env.fencingToken };
  }

  #wakeSlotWaiters(): void {
    const waiters = this.#slotWaiters;
    this.#slotWaiters = [];
    for (const w of waiters) w();
  }

  // ------------------------------------------------------------------ heartbeats and renewal

  #scheduleHeartbeat(): void {
    const every = this.#registration.heartbeatIntervalMs;
    const tick = () => {
      if (this.#state === 'stopped') return;
      this.#heartbeat()
        .catch((err: unknown) => this.o.logger.warn({ err: (err as Error).message }, 'heartbeat failed'))
        .finally(() => {
          if (this.#state !== 'stopped') {
            this.#heartbeatTimer = setTimeout(tick, every);
            this.#heartbeatTimer.unref();
          }
        });
    };
    this.#heartbeatTimer = setTimeout(tick, every);
    this.#heartbeatTimer.unref();
  }

  async #heartbeat(): Promise<void> {
    const jobs = [...this.#active.values()].filter((j) => !j.lost);
    const res = await this.#client.heartbeat({
      heartbeat: {
        runnerId: this.#meta.runnerId,
        timestamp: new Date().toISOString(),
        status: this.#state === 'draining' ? 'draining' : jobs.length > 0 ? 'busy' : 'idle',
        activeJobs: jobs.length,
        queuedJobs: 0,
        metrics: { completed: this.metrics.completed, failed: this.metrics.failed },
      },
      leases: jobs.map((j) => this.#ref(j.env)),
    });
    this.#lastHeartbeatOk = Date.now();
    for (const id of res.cancel) {
      const job = this.#active.get(id);
      if (job && !job.abort.signal.aborted) {
        this.o.logger.info({ jobId: id }, 'job cancelled by the control plane; stopping it');
        job.abort.abort();
      }
    }
    for (const id of res.lost) {
      const job = this.#active.get(id);
      if (job) {
        job.lost = true;
        job.abort.abort();
      }
    }
  }

  #scheduleRenewal(): void {
    const cert = this.#material.certificate;
    const notBefore = Date.parse(cert.validFrom);
    const notAfter = Date.parse(cert.validTo);
    this.metrics.certificateExpires(notAfter);
    const remaining = this.o.renewWhenRemaining ?? 1 / 3;
    const at = notAfter - (notAfter - notBefore) * remaining;
    const delay = Math.max(1_000, Math.min(at - Date.now(), 2 ** 31 - 1));
    this.#renewTimer = setTimeout(() => {
      this.renewCertificate().catch((err: unknown) => {
        this.o.logger.error({ err: (err as Error).message }, 'certificate renewal failed; retrying in 60 s');
        this.#renewTimer = setTimeout(() => this.#scheduleRenewal(), 60_000);
        this.#renewTimer.unref();
      });
    }, delay);
    this.#renewTimer.unref();
  }

  /** Gets a new certificate (with a new key made here) while the current one is still valid. */
  async renewCertificate(): Promise<void> {
    const { keyPem, csrPem } = await createKeyPairAndCsr({ commonName: this.#meta.name });
    const res = await this.#client.renew(csrPem);
    const meta = { ...this.#meta, notAfter: res.notAfter };
    saveRunnerIdentity(this.o.dir, { keyPem, certPem: res.certificatePem, caPem: res.caCertificatePem, meta });
    const loaded = loadRunnerIdentity(this.o.dir);
    const old = this.#client;
    this.#meta = loaded.meta;
    this.#material = loaded.material;
    this.#signingKey = undefined;
    this.#client = new JobforgeClient(loaded.meta.runnerApiUrl, loaded.material, loaded.meta.trustDomain);
    // Requests already in flight finish on the old connections.
    setTimeout(() => old.close(), 30_000).unref();
    this.o.logger.info({ notAfter: res.notAfter }, 'runner certificate renewed');
    if (this.#state === 'running') this.#scheduleRenewal();
  }
}
