import { AppError, parseOrThrow, TruthAssertion, TruthQuery, type TruthQueryResult } from '@controlplane/contracts';
import { z } from 'zod';
import { timeIdCursor, type Database, type Sql, withTenant } from '../storage/index.js';
import {
  assertionContentHash,
  newAssertion,
  objectHash,
  rowContentHash,
  toMillis,
  toTruthAssertion,
  type AssertionRow,
  type NewAssertion,
} from './assertion-row.js';
import type { AssertionFilter, TruthStore } from './truth-store.js';

/**
 * Subjects under this prefix state facts about jobs. Only verified results write them, so a
 * tenant's API client cannot assert that a job completed with a result it never had.
 */
export const RESERVED_SUBJECT_PREFIX = 'job:';

/** Up to this many matches `totalCount` is exact; beyond it, a lower bound (`totalCountExact: false`). */
export const DEFAULT_COUNT_CAP = 10_000;

/** TruthQuery plus an opaque keyset cursor from a previous answer's `nextCursor`. */
export const TruthQueryRequest = TruthQuery.extend({ cursor: z.string().min(1).max(512).optional() });

export interface TruthQueryAnswer extends TruthQueryResult {
  /** False when more than the count cap matched: `totalCount` is then a lower bound. */
  totalCountExact: boolean;
  /** Pass as `cursor` for the next page; null on the last page. */
  nextCursor: string | null;
}

export interface AssertionServiceOptions {
  db: Database;
  store: TruthStore;
  /** Called after a commit that appended assertions for the tenant (wakes subscriptions). */
  onAppend?: (tenantId: string) => void;
  countCap?: number;
}

export interface SubscriptionPattern {
  subject?: string | undefined;
  predicate?: string | undefined;
}

export class AssertionService {
  readonly countCap: number;

  constructor(private readonly o: AssertionServiceOptions) {
    this.countCap = o.countCap ?? DEFAULT_COUNT_CAP;
  }

  /**
   * Records a client's assertion. Idempotent on id: the same content again answers the stored
   * assertion (`created: false`); different content under that id is a conflict.
   */
  async assert(tenantId: string, actor: string, body: unknown): Promise<{ assertion: TruthAssertion; created: boolean }> {
    return withTenant(tenantId, async () => {
      const parsed = parseOrThrow(TruthAssertion, body);
      if (parsed.subject.startsWith(RESERVED_SUBJECT_PREFIX)) {
        throw new AppError('FORBIDDEN', {
          message: `Subjects starting with "${RESERVED_SUBJECT_PREFIX}" are recorded only from verified job results.`,
          details: [{ path: ['subject'], message: 'is reserved' }],
        });
      }
      const a = newAssertion(parsed, actor);
      const inserted = await this.o.db.transaction(async (tx) => this.append(tx, tenantId, [a]));
      const row = inserted[0];
      if (row) {
        this.o.onAppend?.(tenantId);
        return { assertion: toTruthAssertion(row), created: true };
      }
      const existing = await this.o.store.getAssertion(this.o.db, tenantId, a.id);
      if (!existing) throw new Error(`assertion ${a.id} neither inserted nor found`);
      if (rowContentHash(existing) !== assertionContentHash(a)) throw new AppError('IDEMPOTENCY_CONFLICT', { params: { id: a.id } });
      return { assertion: toTruthAssertion(existing), created: false };
    });
  }

  /**
   * Appends inside the caller's transaction, holding the tenant's append lock until it ends (the
   * caller must call `onAppend` after commit for rows this returned).
   */
  async append(tx: Sql, tenantId: string, assertions: readonly NewAssertion[]): Promise<AssertionRow[]> {
    await this.o.store.lockAppends(tx, tenantId);
    return this.o.store.insertAssertions(
      tx,
      tenantId,
      assertions,
      assertions.map((a) => objectHash(a.object)),
    );
  }

  notifyAppended(tenantId: string): void {
    this.o.onAppend?.(tenantId);
  }

  async get(tenantId: string, id: string): Promise<TruthAssertion> {
    return withTenant(tenantId, async () => {
      const row = await this.o.store.getLiveAssertion(this.o.db, tenantId, id);
      if (!row) throw new AppError('RESOURCE_NOT_FOUND', { params: { resource: 'assertion' } });
      return toTruthAssertion(row);
    });
  }

  async query(tenantId: string, body: unknown): Promise<TruthQueryAnswer> {
    return withTenant(tenantId, async () => {
      const t0 = performance.now();
      const q = parseOrThrow(TruthQueryRequest, body ?? {});
      if (q.cursor !== undefined && q.offset > 0) {
        throw new AppError('VALIDATION_FAILED', {
          details: [{ path: ['offset'], message: 'must be 0 (or absent) when a cursor is given' }],
        });
      }
      const key = q.cursor !== undefined ? timeIdCursor.decode(q.cursor) : undefined;
      const cursor = key ? { assertedAt: key.at, id: key.id } : undefined;
      const filter: AssertionFilter = {
        subject: q.pattern.subject,
        predicate: q.pattern.predicate,
        // `object: null` asks for assertions whose object is JSON null; an absent key asks nothing.
        objectHashes: q.pattern.object !== undefined ? await this.o.store.objectKeys(tenantId, q.pattern.object) : undefined,
        minConfidence: q.filters.minConfidence,
        sources: q.filters.sources,
        before: q.filters.before !== undefined ? toMillis(q.filters.before) : undefined,
        after: q.filters.after !== undefined ? toMillis(q.filters.after) : undefined,
      };
      const rows = await this.o.store.queryAssertions(this.o.db, tenantId, filter, { cursor, limit: q.limit + 1, offset: q.offset });
      const hasMore = rows.length > q.limit;
      const page = rows.slice(0, q.limit);

      let totalCount: number;
      let totalCountExact = true;
      if (!cursor && !hasMore && (page.length > 0 || q.offset === 0)) {
        // The page reached the end of the matches, so it already tells how many there are.
        totalCount = q.offset + page.length;
      } else {
        // Never report fewer matches than the caller can already see on this and earlier pages.
        const cap = cursor ? this.countCap : Math.max(this.countCap, q.offset + q.limit + 1);
        const n = await this.o.store.countAssertions(this.o.db, tenantId, filter, cap);
        totalCountExact = n <= cap;
        totalCount = Math.min(n, cap);
      }
      const last = page[page.length - 1];
      return {
        assertions: page.map(toTruthAssertion),
        totalCount,
        totalCountExact,
        hasMore,
        nextCursor: hasMore && last ? timeIdCursor.encode({ at: last.asserted_at, id: last.id }) : null,
        queryTimeMs: Math.round((performance.now() - t0) * 100) / 100,
      };
    });
  }

  /** Where a subscription without Last-Event-ID starts: after everything stored so far. */
  async head(tenantId: string): Promise<string> {
    return withTenant(tenantId, async () => {
      return this.o.store.headSeq(this.o.db, tenantId);
    });
  }

  /**
   * The next matching assertions after `after`, and the position to continue from. The position
   * advances past non-matching rows too, so a quiet pattern on a busy tenant does not rescan the
   * same rows on every poll.
   */
  async changesAfter(
    tenantId: string,
    after: string,
    pattern: SubscriptionPattern,
    limit: number,
  ): Promise<{ rows: AssertionRow[]; next: string }> {
    return withTenant(tenantId, async () => {
      const head = await this.o.store.headSeq(this.o.db, tenantId);
      if (BigInt(head) <= BigInt(after)) return { rows: [], next: after };
      const rows = await this.o.store.assertionsAfter(this.o.db, tenantId, after, head, pattern, limit);
      const last = rows[rows.length - 1];
      return { rows, next: rows.length >= limit && last ? last.seq : head };
    });
  }
}
