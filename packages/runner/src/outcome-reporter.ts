import type { KeyObject } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  AppError,
  ERROR_CODES,
  isErrorCode,
  type CompleteRequest,
  type FailRequest,
  type JobEnvelope,
  type OutcomeAckBody,
} from '@controlplane/contracts';
import { resultDigest, signJobResult, type Logger } from '@controlplane/platform';
import type { JobforgeClient } from './jobforge-client.js';
import type { SandboxOutcome } from './sandbox/index.js';

export type Outcome = { kind: 'completed'; jobId: string; body: CompleteRequest } | { kind: 'failed'; jobId: string; body: FailRequest };

/** JobForge's answer for one outcome: recorded (or a duplicate of what it holds), or refused with a code. */
export type OutcomeReceipt = { ok: true; status: string; duplicate: boolean } | { ok: false; code: string };

const MAX_BATCH = 200;
const MAX_ATTEMPTS = 8;

/**
 * Sends signed outcomes to JobForge the moment they are ready: one job's outcome goes out at once,
 * on its own; outcomes that become ready while a send is under way go together in the next one
 * (`/runner/v1/outcomes`), so a busy runner makes fewer calls without an idle runner ever waiting.
 * A transport failure is retried with backoff; a refusal of one outcome (its lease is gone, its
 * signature is refused) is final for that outcome only.
 */
export class OutcomeReporter {
  #pending: Array<{ outcome: Outcome; resolve: (r: OutcomeReceipt) => void }> = [];
  #sending = false;
  readonly #idle = new Set<() => void>();

  constructor(
    private readonly client: () => JobforgeClient,
    /** The runner's current private key (it changes when the certificate is renewed). */
    private readonly signingKey: () => KeyObject,
    private readonly logger: Logger,
  ) {}

  /** Signs a job's outcome with the runner's key (over its lease and the result's digest) and reports it. */
  settle(env: JobEnvelope, outcome: SandboxOutcome, startedAt: string): Promise<OutcomeReceipt> {
    const lease = { leaseId: env.leaseId, fencingToken: env.fencingToken };
    if (outcome.ok) {
      const data = outcome.output === undefined ? null : outcome.output;
      const signature = this.#sign(env, 'completed', data);
      const body = { ...lease, attempt: env.attempt, type: env.type, data: data as never, startedAt, signature };
      return this.report({ kind: 'completed', jobId: env.jobId, body });
    }
    const category = isErrorCode(outcome.code) ? ERROR_CODES[outcome.code].category : 'RUNTIME_ERROR';
    const error = { category, code: outcome.code, message: outcome.message, retryable: outcome.retryable };
    return this.report({ kind: 'failed', jobId: env.jobId, body: { ...lease, error, signature: this.#sign(env, 'failed', error) } });
  }

  /** Hands a job back (a drain); retried while JobForge cannot be reached. */
  async release(env: JobEnvelope): Promise<boolean> {
    const ref = { jobId: env.jobId, leaseId: env.leaseId, fencingToken: env.fencingToken };
    for (let attempt = 1; ; attempt++) {
      try {
        await this.client().release(ref);
        return true;
      } catch (err) {
        if (!(err instanceof AppError ? err.retryable : true) || attempt >= MAX_ATTEMPTS) {
          this.logger.warn({ jobId: env.jobId, err: (err as Error).message }, 'job not handed back');
          return false;
        }
        await sleep(Math.min(200 * 2 ** attempt, 5_000));
      }
    }
  }

  #sign(env: JobEnvelope, outcome: 'completed' | 'failed', value: unknown): string {
    const fields = { jobId: env.jobId, tenantId: env.tenantId, attempt: env.attempt, fencingToken: env.fencingToken, outcome };
    return signJobResult({ ...fields, resultDigest: resultDigest(value) }, this.signingKey());
  }

  report(outcome: Outcome): Promise<OutcomeReceipt> {
    return new Promise((resolve) => {
      this.#pending.push({ outcome, resolve });
      void this.#flush();
    });
  }

  /** Resolves once nothing is pending or being sent. */
  drained(): Promise<void> {
    if (!this.#sending && this.#pending.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.add(resolve));
  }

  async #flush(): Promise<void> {
    if (this.#sending) return;
    this.#sending = true;
    try {
      while (this.#pending.length > 0) {
        const batch = this.#pending.splice(0, MAX_BATCH);
        const receipts = await this.#send(batch.map((b) => b.outcome));
        batch.forEach((b, i) => b.resolve(receipts[i]!));
      }
    } finally {
      this.#sending = false;
      for (const done of this.#idle) done();
      this.#idle.clear();
    }
  }

  async #send(outcomes: readonly Outcome[]): Promise<OutcomeReceipt[]> {
    const completions = outcomes.flatMap((o) => (o.kind === 'completed' ? [{ jobId: o.jobId, ...o.body }] : []));
    const failures = outcomes.flatMap((o) => (o.kind === 'failed' ? [{ jobId: o.jobId, ...o.body }] : []));
    for (let attempt = 1; ; attempt++) {
      try {
        const { results } = await this.client().outcomes({ completions, failures });
        const byJob = new Map<string, OutcomeAckBody>(results.map((r) => [r.jobId, r]));
        return outcomes.map((o) => {
          const ack = byJob.get(o.jobId);
          if (!ack) return { ok: false, code: 'LEASE_NOT_HELD' };
          return ack.ok
            ? { ok: true, status: ack.status ?? 'unknown', duplicate: ack.duplicate ?? false }
            : { ok: false, code: ack.code ?? 'REFUSED' };
        });
      } catch (err) {
        const e = err as { code?: string; message?: string };
        // An answer JobForge gave decides (a refusal is final); a failure to reach it is retried.
        const retryable = err instanceof AppError ? err.retryable : true;
        if (!retryable || attempt >= MAX_ATTEMPTS) {
          this.logger.warn({ code: e.code, err: e.message, outcomes: outcomes.length }, 'outcomes not accepted');
          return outcomes.map(() => ({ ok: false, code: e.code ?? 'NOT_DELIVERED' }));
        }
        await sleep(Math.min(200 * 2 ** attempt, 5_000));
      }
    }
  }
}
