// How a runner gets its work. By default JobForge pushes leases down one open dispatch stream as
// slots free (dispatch-stream.ts); 'poll' asks with claim long-polls instead, for a network whose
// proxies will not carry a streaming request body. Both keep the same bound: never more leases
// held than the runner has slots.
import { setTimeout as sleep } from 'node:timers/promises';
import type { ClaimResponse } from '@controlplane/contracts';
import type { Logger } from '@controlplane/platform';
import type { DispatchEnd, DispatchStream } from './dispatch-stream.js';
import type { JobforgeClient } from './jobforge-client.js';

export type IntakeMode = 'stream' | 'poll';
export const INTAKE_MODES: readonly IntakeMode[] = ['stream', 'poll'];

export interface IntakeHost {
  readonly logger: Logger;
  client(): JobforgeClient;
  /** Slots with no job in them now. */
  freeSlots(): number;
  /** False once the runner drains: no more work is asked for. */
  taking(): boolean;
  /** Resolves when a slot frees or the intake stops. */
  slotFreed(): Promise<void>;
  /**
   * A signed lease batch arrived: the host checks it and starts its jobs, or hands them back if it
   * is no longer taking work. Returns how many jobs took a slot.
   */
  accept(batch: ClaimResponse, waitedMs: number): Promise<number>;
}

const MAX_BACKOFF_MS = 5_000;
/** A stream that lived this long ended for a reason of its own, not because JobForge is down. */
const HEALTHY_STREAM_MS = 10_000;

export class WorkIntake {
  #mode: IntakeMode;
  #claimAbort = new AbortController();
  #stream: DispatchStream | undefined;

  constructor(
    private readonly host: IntakeHost,
    mode: IntakeMode,
    private readonly claimWaitMs: number,
  ) {
    this.#mode = mode;
  }

  /** Runs until the host stops taking work. */
  async run(): Promise<void> {
    let backoff = 100;
    while (this.host.taking()) {
      const t0 = Date.now();
      const ok = this.#mode === 'stream' ? await this.#streamOnce() : await this.#claimOnce();
      if (!this.host.taking()) break;
      if (ok || Date.now() - t0 > HEALTHY_STREAM_MS) backoff = 100;
      else {
        await sleep(backoff);
        backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
      }
    }
  }

  /** A slot is free again: one more lease may come down the stream. */
  slotFreed(): void {
    if (this.host.taking()) this.#stream?.grant(1);
  }

  /** Stops asking for work: the open stream or claim ends now. */
  stop(): void {
    this.#claimAbort.abort();
    this.#stream?.close();
  }

  async #claimOnce(): Promise<boolean> {
    const free = this.host.freeSlots();
    if (free <= 0) {
      await this.host.slotFreed();
      return true;
    }
    this.#claimAbort = new AbortController();
    const t0 = performance.now();
    try {
      const res = await this.host.client().claim({ max: free, waitMs: this.claimWaitMs }, this.#claimAbort.signal);
      if (res.jobs.length > 0) await this.host.accept(res, performance.now() - t0);
      return true;
    } catch (err) {
      if (this.host.taking()) this.host.logger.warn({ err: (err as Error).message }, 'claim failed; retrying');
      return false;
    }
  }

  /** Keeps one dispatch stream until it ends; false if it ended in an error. */
  async #streamOnce(): Promise<boolean> {
    const opened = performance.now();
    const ended = await new Promise<DispatchEnd>((resolve) => {
      const stream = this.host.client().openDispatch(this.host.freeSlots(), {
        onLeases: (batch) => {
          this.host.accept(batch, performance.now() - opened).then(
            // Leases that did not take a slot (refused as tampered) give their credit back.
            (started) => this.#stream === stream && stream.grant(batch.jobs.length - started),
            (err: unknown) => this.host.logger.error({ err: (err as Error).message }, 'a dispatched lease batch could not be started'),
          );
        },
        onEnd: resolve,
      });
      this.#stream = stream;
    });
    this.#stream = undefined;
    if (!this.host.taking()) return true;
    if (ended.status === 404 || ended.status === 405) {
      // A JobForge older than push dispatch: ask with long-polls instead.
      this.host.logger.warn('JobForge does not offer a dispatch stream; claiming with long-polls');
      this.#mode = 'poll';
      return true;
    }
    this.host.logger.warn({ reason: ended.reason }, 'dispatch stream ended; opening another');
    return !ended.error;
  }
}
