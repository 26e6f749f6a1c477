/**
 * Group commit: items submitted one by one are written in groups, one statement and one commit
 * per group, with at most `maxInFlight` groups being written at a time. While a group is being
 * written, new items wait and form the next group, so the group size follows the load: an item
 * arriving at a quiet moment is written at once, on its own; under load each commit carries
 * everything that arrived while the previous one was on its way. (PostgreSQL's own WAL flush
 * works the same way.) This is what keeps per-item costs — a round trip, a plan, a commit and
 * its fsync — from growing with the request rate.
 */
export interface GroupCommitOptions<I, O> {
  /** Writes one group. Answers one result per item, in order; a throw fails every item of the group. */
  commit: (items: I[]) => Promise<O[]>;
  /** The most items in one group. */
  maxBatch?: number;
  /** The most groups being written at once. */
  maxInFlight?: number;
  /**
   * How long a group may wait for company before it leaves (unless it is full), while items keep
   * coming: a few milliseconds turn a steady trickle into groups, which costs each item that much
   * latency and saves a statement, a commit and a round trip per item it groups — worth it where
   * those, not the wait, are what the latency is made of. An item that arrives at a quiet moment
   * (no group left within a few linger times) never waits: company is not coming. Zero: every
   * group leaves at the end of the event-loop turn.
   */
  lingerMs?: number;
  /**
   * Items with the same key never share a group (a statement cannot see its own rows, so two
   * inserts of one id in one statement would both look new): the later one goes in a later group.
   */
  keyOf?: (item: I) => string;
}

interface Pending<I, O> {
  item: I;
  resolve: (value: O) => void;
  reject: (err: unknown) => void;
}

/** No group for this many linger times: the next item finds it quiet and leaves at once. */
const QUIET_AFTER_LINGERS = 5;

export class GroupCommit<I, O> {
  readonly #commit: (items: I[]) => Promise<O[]>;
  readonly #maxBatch: number;
  readonly #maxInFlight: number;
  readonly #keyOf: ((item: I) => string) | undefined;
  readonly #lingerMs: number;
  #pending: Array<Pending<I, O>> = [];
  #inFlight = 0;
  /** Cancels the scheduled departure of the next group, if one is scheduled. */
  #cancelScheduled: (() => void) | undefined;
  /** When the last group left (performance.now()): how busy it is. */
  #lastDeparture = -Infinity;

  constructor(options: GroupCommitOptions<I, O>) {
    this.#commit = options.commit;
    this.#maxBatch = Math.max(1, options.maxBatch ?? 500);
    this.#maxInFlight = Math.max(1, options.maxInFlight ?? 1);
    this.#keyOf = options.keyOf;
    this.#lingerMs = Math.max(0, options.lingerMs ?? 0);
  }

  /** Nothing waiting and nothing being written. */
  get idle(): boolean {
    return this.#pending.length === 0 && this.#inFlight === 0;
  }

  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.#pending.push({ item, resolve, reject });
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#inFlight >= this.#maxInFlight || this.#pending.length === 0) return;
    // A full group does not linger (without a linger time it leaves at the end of this turn anyway).
    if (this.#lingerMs > 0 && this.#pending.length >= this.#maxBatch) {
      this.#flush();
      return;
    }
    if (this.#cancelScheduled) return;
    // Items submitted in the same event-loop turn (one socket read can carry many requests), or
    // within the linger time while the trickle lasts, join the group before it leaves.
    const busy = performance.now() - this.#lastDeparture < this.#lingerMs * QUIET_AFTER_LINGERS;
    if (this.#lingerMs > 0 && busy) {
      const timer = setTimeout(() => this.#flush(), this.#lingerMs);
      this.#cancelScheduled = () => clearTimeout(timer);
    } else {
      const immediate = setImmediate(() => this.#flush());
      this.#cancelScheduled = () => clearImmediate(immediate);
    }
  }

  #flush(): void {
    this.#cancelScheduled?.();
    this.#cancelScheduled = undefined;
    while (this.#inFlight < this.#maxInFlight && this.#pending.length > 0) {
      const group = this.#take();
      this.#lastDeparture = performance.now();
      this.#inFlight++;
      let results: Promise<O[]>;
      try {
        results = this.#commit(group.map((p) => p.item));
      } catch (err) {
        results = Promise.reject(err);
      }
      results
        .then((out) => {
          if (out.length !== group.length) throw new Error(`group commit answered ${out.length} results for ${group.length} items`);
          group.forEach((p, i) => p.resolve(out[i]!));
        })
        .catch((err: unknown) => {
          for (const p of group) p.reject(err);
        })
        .finally(() => {
          this.#inFlight--;
          // Whatever arrived while this group was being written has waited long enough: it
          // leaves now, as one group.
          if (this.#pending.length > 0) this.#flush();
        });
    }
  }

  #take(): Array<Pending<I, O>> {
    const keyOf = this.#keyOf;
    if (!keyOf) return this.#pending.splice(0, this.#maxBatch);
    const group: Array<Pending<I, O>> = [];
    const rest: Array<Pending<I, O>> = [];
    const seen = new Set<string>();
    for (const p of this.#pending) {
      const key = keyOf(p.item);
      if (group.length >= this.#maxBatch || seen.has(key)) rest.push(p);
      else {
        seen.add(key);
        group.push(p);
      }
    }
    this.#pending = rest;
    return group;
  }
}
