import { randomUUID } from 'node:crypto';
import { Agent } from 'node:https';
import {
  PRODUCT_VERSION,
  type HealthCheck,
  type JobResponse,
  type TruthAssertionInput,
  type TruthAssertion,
  type TruthQueryInput,
  type TruthQueryResult,
} from '@controlplane/contracts';
import { ControlPlaneError, localEnvelope } from './errors.js';
import type { SigningKey } from './request-signing.js';
import { streamJobEvents, type EventsOptions } from './job-events.js';
import { Transport, type Call, type RetryNotice, type RetryOptions } from './transport.js';
import type { Schedule, ScheduleInput } from '@controlplane/contracts';
import type {
  ApiKey,
  AuditPage,
  AuditQuery,
  CreateApiKeyInput,
  CreatedApiKey,
  JobAttempt,
  JobPage,
  JobTypeContract,
  JoinToken,
  ListJobsQuery,
  PutJobTypeInput,
  Runner,
  StreamedJobEvent,
  SubmitJobInput,
  Tenant,
  TenantQuotas,
  TenantQuotasInput,
} from './types.js';

/** The version this client reports in its User-Agent: the product's. */
export const CLIENT_VERSION = PRODUCT_VERSION;

export interface ControlPlaneClientOptions {
  /** The gateway, `https://host:port`. Plain `http://` is refused. */
  url: string;
  /** `cpk_…` bearer key. */
  apiKey: string;
  /** PEM of the CA(s) that issued the gateway's certificate; the system roots are used when absent. */
  ca?: string | Buffer | Array<string | Buffer>;
  /** The key's Ed25519 signing key; required for critical operations (cancel, key and token management, …). */
  signingKey?: SigningKey;
  retry?: RetryOptions;
  /** Told before each retry. */
  onRetry?: (notice: RetryNotice) => void;
  /** Bound on one attempt, until the whole answer (until the headers for event streams). Default 30 s. */
  timeoutMs?: number;
  /** An HTTPS agent of your own (proxies, client certificates); `ca` is then ignored. */
  agent?: Agent;
  /** `metadata.source` of jobs submitted in short form. Default `controlplane-client`. */
  source?: string;
}

export interface WaitOptions {
  signal?: AbortSignal;
  /** Give up after this long (a `WAIT_TIMEOUT` error). Default: no limit. */
  timeoutMs?: number;
  /** Called with every event while waiting (progress output). */
  onEvent?: (event: StreamedJobEvent) => void;
}

const TERMINAL_STATUSES = new Set(['completed', 'failed', 'cancelled']);

const seg = (value: string) => encodeURIComponent(value);

function queryString(params: Record<string, string | number | boolean | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined) q.append(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

/**
 * A client of the ControlPlane gateway. HTTPS only; critical operations are signed with the key's
 * Ed25519 signing key; refusals that are safe to retry (429, 503 with `Retry-After`, connection
 * refused) are retried with backoff, a bounded number of times. Every failure is a
 * `ControlPlaneError` (or a subclass) carrying the server's ErrorEnvelope.
 */
export class ControlPlaneClient {
  readonly url: string;
  readonly #transport: Transport;
  /** How long one long-poll for a job's end may take: under the request timeout, at most 5 s. */
  readonly #pollMs: number;
  readonly #agent: Agent;
  readonly #ownAgent: boolean;
  readonly #source: string;

  readonly jobs: {
    /**
     * Submits a job (202, status `queued`). Idempotent by id, so it is retried like a read. The
     * correlation id (given, else made here) is sent as `x-correlation-id` and, for the short form,
     * stored as `metadata.correlationId`, so the gateway, JobForge and the runner log it alike.
     */
    submit(job: SubmitJobInput, options?: { signal?: AbortSignal; correlationId?: string }): Promise<JobResponse>;
    submitBatch(jobs: SubmitJobInput[], options?: { signal?: AbortSignal }): Promise<JobResponse[]>;
    get(id: string, options?: { signal?: AbortSignal }): Promise<JobResponse>;
    list(query?: ListJobsQuery, options?: { signal?: AbortSignal }): Promise<JobPage>;
    /** Every job matching the query, page by page. */
    listAll(query?: Omit<ListJobsQuery, 'cursor'>): AsyncGenerator<JobResponse>;
    /** Signed. Queued jobs are cancelled at once; a running job when its runner stops it. */
    cancel(id: string, options?: { signal?: AbortSignal }): Promise<JobResponse>;
    retry(id: string, options?: { signal?: AbortSignal }): Promise<JobResponse>;
    attempts(id: string, options?: { signal?: AbortSignal }): Promise<JobAttempt[]>;
    provenance(id: string, options?: { signal?: AbortSignal }): Promise<unknown>;
    /** The job's events as they happen (replayed from the start, or after `lastEventId`); ends when the job does. */
    events(id: string, options?: EventsOptions): AsyncGenerator<StreamedJobEvent>;
    /** Waits for the job to finish (completed, failed, cancelled or expired) and returns it. */
    wait(id: string, options?: WaitOptions): Promise<JobResponse>;
  };

  readonly truth: {
    assert(assertion: TruthAssertionInput): Promise<TruthAssertion>;
    query(query: TruthQueryInput): Promise<TruthQueryResult>;
    get(id: string): Promise<TruthAssertion>;
  };

  readonly apiKeys: {
    /** Signed. The answer holds the key (and, unless you gave a public key, its signing key) once. */
    create(input: CreateApiKeyInput): Promise<CreatedApiKey>;
    list(query?: { tenant?: string; limit?: number }): Promise<ApiKey[]>;
    /** Signed. */
    revoke(id: string): Promise<ApiKey>;
  };

  readonly joinTokens: {
    /** Signed. A single-use token for `controlplane runner enroll`. */
    create(input?: { pool?: string; ttlSeconds?: number }): Promise<JoinToken>;
  };

  readonly runners: {
    list(): Promise<Runner[]>;
    /** Signed. The runner's certificate stops working at its next connection or request. */
    revoke(id: string): Promise<Runner>;
  };

  readonly jobTypes: {
    list(): Promise<JobTypeContract[]>;
    get(type: string): Promise<JobTypeContract>;
    /** Signed. Creates or replaces the contract of a job type. */
    put(type: string, contract: PutJobTypeInput): Promise<JobTypeContract>;
  };

  /** Recurring jobs of the tenant (docs/jobforge.md, Schedules). Every change is signed. */
  readonly schedules: {
    create(input: ScheduleInput): Promise<Schedule>;
    list(): Promise<Schedule[]>;
    get(id: string): Promise<Schedule>;
    pause(id: string): Promise<Schedule>;
    resume(id: string): Promise<Schedule>;
    delete(id: string): Promise<{ id: string; deleted: boolean }>;
    /** Fires the schedule's job now, outside its slots. */
    trigger(id: string): Promise<{ jobId: string }>;
  };

  readonly tenants: {
    /** Signed; platform administrators only. */
    create(input: { id: string; name: string }): Promise<Tenant>;
    list(query?: { after?: string; limit?: number }): Promise<{ tenants: Tenant[]; nextCursor: string | null }>;
    getQuotas(id: string): Promise<TenantQuotas>;
    /** Signed; platform administrators only. */
    putQuotas(id: string, quotas: TenantQuotasInput): Promise<TenantQuotas>;
  };

  readonly audit: {
    query(query?: AuditQuery): Promise<AuditPage>;
  };

  constructor(options: ControlPlaneClientOptions) {
    let base: URL;
    try {
      base = new URL(options.url);
    } catch {
      throw new TypeError(`not a URL: ${options.url}`);
    }
    if (base.protocol !== 'https:')
      throw new TypeError(`the gateway URL must be https:// (got ${base.protocol}//); plaintext HTTP is refused`);
    if (base.pathname !== '/' || base.search || base.hash) throw new TypeError('the gateway URL must be just https://host:port');
    if (!/^cpk_\S+$/.test(options.apiKey)) throw new TypeError('apiKey must be a ControlPlane API key (cpk_…)');
    this.url = base.origin;
    this.#ownAgent = options.agent === undefined;
    this.#agent =
      options.agent ?? new Agent({ keepAlive: true, minVersion: 'TLSv1.2', ...(options.ca !== undefined ? { ca: options.ca } : {}) });
    this.#source = options.source ?? 'controlplane-client';
    this.#pollMs = Math.max(0, Math.min(5_000, (options.timeoutMs ?? 30_000) - 2_000));
    this.#transport = new Transport({
      baseUrl: base,
      apiKey: options.apiKey,
      signingKey: options.signingKey,
      agent: this.#agent,
      timeoutMs: options.timeoutMs ?? 30_000,
      retry: { maxAttempts: 4, baseDelayMs: 250, maxDelayMs: 30_000, ...options.retry },
      onRetry: options.onRetry,
      userAgent: `controlplane-client/${CLIENT_VERSION} node/${process.versions.node}`,
    });

    const t = this.#transport;
    const call = <T>(c: Call) => t.json<T>(c);
    const get = <T>(operation: string, target: string, signal?: AbortSignal) =>
      call<T>({ operation, method: 'GET', target, idempotent: true, signal });

    this.jobs = {
      submit: (job, o = {}) => {
        const body = this.#jobRequest(job, o.correlationId);
        const correlationId = o.correlationId ?? (body.metadata as { correlationId?: string } | undefined)?.correlationId;
        return call<JobResponse>({
          operation: 'jobs.submit',
          method: 'POST',
          target: '/jobs',
          body,
          idempotent: true,
          signal: o.signal,
          correlationId,
        });
      },
      submitBatch: async (jobs, o = {}) =>
        (
          await call<{ jobs: JobResponse[] }>({
            operation: 'jobs.submitBatch',
            method: 'POST',
            target: '/jobs/batch',
            body: { jobs: jobs.map((j) => this.#jobRequest(j)) },
            idempotent: true,
            signal: o.signal,
          })
        ).jobs,
      get: (id, o = {}) => get<JobResponse>('jobs.get', `/jobs/${seg(id)}`, o.signal),
      list: (q = {}, o = {}) =>
        get<JobPage>(
          'jobs.list',
          `/jobs${queryString({
            status: q.status,
            type: q.type,
            deadLettered: q.deadLettered,
            flow: q.flow,
            limit: q.limit,
            cursor: q.cursor,
          })}`,
          o.signal,
        ),
      listAll: (q = {}) => this.#listAll(q),
      cancel: (id, o = {}) =>
        call<JobResponse>({
          operation: 'jobs.cancel',
          method: 'POST',
          target: `/jobs/${seg(id)}/cancel`,
          signed: true,
          idempotent: true,
          signal: o.signal,
        }),
      retry: (id, o = {}) =>
        call<JobResponse>({
          operation: 'jobs.retry',
          method: 'POST',
          target: `/jobs/${seg(id)}/retry`,
          idempotent: false,
          signal: o.signal,
        }),
      attempts: async (id, o = {}) =>
        (await get<{ attempts: JobAttempt[] }>('jobs.attempts', `/jobs/${seg(id)}/attempts`, o.signal)).attempts,
      provenance: (id, o = {}) => get<unknown>('jobs.provenance', `/jobs/${seg(id)}/provenance`, o.signal),
      events: (id, o = {}) => streamJobEvents(this.#transport, id, o),
      wait: (id, o = {}) => this.#wait(id, o),
    };

    this.truth = {
      // An assertion carries its id: asserting it again records nothing twice.
      assert: (a) => call<TruthAssertion>({ operation: 'truth.assert', method: 'POST', target: '/assert', body: a, idempotent: true }),
      query: (q) => call<TruthQueryResult>({ operation: 'truth.query', method: 'POST', target: '/query', body: q, idempotent: true }),
      get: (id) => get<TruthAssertion>('truth.assertion', `/assertions/${seg(id)}`),
    };

    this.apiKeys = {
      create: (input) =>
        call<CreatedApiKey>({
          operation: 'apiKeys.create',
          method: 'POST',
          target: '/admin/api-keys',
          body: input,
          signed: true,
          idempotent: false,
        }),
      list: async (q = {}) =>
        (await get<{ apiKeys: ApiKey[] }>('apiKeys.list', `/admin/api-keys${queryString({ tenant: q.tenant, limit: q.limit })}`)).apiKeys,
      revoke: (id) =>
        call<ApiKey>({
          operation: 'apiKeys.revoke',
          method: 'POST',
          target: `/admin/api-keys/${seg(id)}/revoke`,
          signed: true,
          idempotent: true,
        }),
    };

    this.joinTokens = {
      create: (input = {}) =>
        call<JoinToken>({
          operation: 'joinTokens.create',
          method: 'POST',
          target: '/admin/join-tokens',
          body: input,
          signed: true,
          idempotent: false,
        }),
    };

    this.runners = {
      list: async () => (await get<{ runners: Runner[] }>('runners.list', '/admin/runners')).runners,
      revoke: (id) =>
        call<Runner>({
          operation: 'runners.revoke',
          method: 'POST',
          target: `/admin/runners/${seg(id)}/revoke`,
          signed: true,
          idempotent: true,
        }),
    };

    this.jobTypes = {
      list: async () => (await get<{ jobTypes: JobTypeContract[] }>('jobTypes.list', '/admin/job-types')).jobTypes,
      get: (type) => get<JobTypeContract>('jobTypes.get', `/admin/job-types/${seg(type)}`),
      put: (type, contract) =>
        call<JobTypeContract>({
          operation: 'jobTypes.put',
          method: 'PUT',
          target: `/admin/job-types/${seg(type)}`,
          body: contract,
          signed: true,
          idempotent: true,
        }),
    };

    const scheduleCall = <T>(operation: string, target: string, body?: unknown, idempotent = true) =>
      call<T>({ operation, method: 'POST', target, ...(body !== undefined ? { body } : {}), signed: true, idempotent });
    this.schedules = {
      // An id makes a create safe to retry: the same id answers the schedule it made.
      create: (input) => scheduleCall<Schedule>('schedules.create', '/schedules', { id: randomUUID(), ...input }),
      list: async () => (await get<{ schedules: Schedule[] }>('schedules.list', '/schedules')).schedules,
      get: (id) => get<Schedule>('schedules.get', `/schedules/${seg(id)}`),
      pause: (id) => scheduleCall<Schedule>('schedules.pause', `/schedules/${seg(id)}/pause`),
      resume: (id) => scheduleCall<Schedule>('schedules.resume', `/schedules/${seg(id)}/resume`),
      delete: (id) => scheduleCall<{ id: string; deleted: boolean }>('schedules.delete', `/schedules/${seg(id)}/delete`),
      trigger: (id) => scheduleCall<{ jobId: string }>('schedules.trigger', `/schedules/${seg(id)}/trigger`, undefined, false),
    };

    this.tenants = {
      create: (input) =>
        call<Tenant>({
          operation: 'tenants.create',
          method: 'POST',
          target: '/admin/tenants',
          body: input,
          signed: true,
          idempotent: false,
        }),
      list: (q = {}) => get('tenants.list', `/admin/tenants${queryString({ after: q.after, limit: q.limit })}`),
      getQuotas: (id) => get<TenantQuotas>('quotas.get', `/admin/tenants/${seg(id)}/quotas`),
      putQuotas: (id, quotas) =>
        call<TenantQuotas>({
          operation: 'quotas.put',
          method: 'PUT',
          target: `/admin/tenants/${seg(id)}/quotas`,
          body: quotas,
          signed: true,
          idempotent: true,
        }),
    };

    this.audit = {
      query: (q = {}) => get<AuditPage>('audit.query', `/admin/audit${queryString({ ...q })}`),
    };
  }

  /** `GET /health`: answered without authentication; an unhealthy gateway's 503 is returned, not thrown. */
  health(options: { signal?: AbortSignal } = {}): Promise<HealthCheck> {
    return this.#transport.json<HealthCheck>({
      operation: 'health',
      method: 'GET',
      target: '/health',
      idempotent: true,
      signal: options.signal,
      okStatuses: [503],
    });
  }

  /** Closes idle keep-alive connections (the client's own agent only). */
  close(): void {
    if (this.#ownAgent) this.#agent.destroy();
  }

  #jobRequest(job: SubmitJobInput, correlationId?: string): Record<string, unknown> {
    if ('payload' in job) return job as unknown as Record<string, unknown>;
    return {
      id: job.id ?? randomUUID(),
      type: job.type,
      ...(job.priority !== undefined ? { priority: job.priority } : {}),
      payload: { type: job.type, data: job.data ?? {} },
      metadata: {
        source: job.source ?? this.#source,
        createdAt: new Date().toISOString(),
        correlationId: correlationId ?? randomUUID(),
        ...(job.tags ? { tags: job.tags } : {}),
        ...(job.scheduledAt ? { scheduledAt: job.scheduledAt } : {}),
        ...(job.concurrencyKey ? { concurrencyKey: job.concurrencyKey } : {}),
      },
      ...(job.retryPolicy ? { retryPolicy: job.retryPolicy } : {}),
      ...(job.timeoutMs !== undefined ? { timeoutMs: job.timeoutMs } : {}),
      ...(job.dependsOn ? { dependsOn: job.dependsOn } : {}),
      ...(job.parentPolicy ? { parentPolicy: job.parentPolicy } : {}),
    };
  }

  async *#listAll(q: Omit<ListJobsQuery, 'cursor'>): AsyncGenerator<JobResponse> {
    let cursor: string | undefined;
    do {
      const page = await this.jobs.list({ ...q, ...(cursor ? { cursor } : {}) });
      yield* page.jobs;
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
  }

  async #wait(id: string, o: WaitOptions): Promise<JobResponse> {
    const signals = [o.signal, o.timeoutMs !== undefined ? AbortSignal.timeout(o.timeoutMs) : undefined].filter(
      (s): s is AbortSignal => s !== undefined,
    );
    const signal = signals.length === 0 ? undefined : signals.length === 1 ? signals[0] : AbortSignal.any(signals);
    try {
      if (o.onEvent || this.#pollMs === 0) {
        for await (const event of streamJobEvents(this.#transport, id, signal ? { signal } : {})) o.onEvent?.(event);
        return await this.jobs.get(id, signal ? { signal } : {});
      }
      // Without a use for the events on the way, one long-poll answers as soon as the job ends.
      for (;;) {
        const job = await this.#transport.json<JobResponse>({
          operation: 'jobs.get',
          method: 'GET',
          target: `/jobs/${seg(id)}?waitMs=${this.#pollMs}`,
          idempotent: true,
          ...(signal ? { signal } : {}),
        });
        if (TERMINAL_STATUSES.has(job.status)) return job;
      }
    } catch (err) {
      if (signal?.aborted && !o.signal?.aborted) {
        throw new ControlPlaneError(
          localEnvelope({
            code: 'WAIT_TIMEOUT',
            category: 'TIMEOUT',
            message: `Job ${id} did not finish within ${o.timeoutMs} ms.`,
            retryable: true,
            operation: 'jobs.wait',
          }),
          0,
          { cause: err },
        );
      }
      throw err;
    }
  }
}
