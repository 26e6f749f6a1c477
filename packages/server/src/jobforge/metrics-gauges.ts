import type { ServerMetrics } from '../observability/index.js';
import { asSystem, type Database } from '../storage/index.js';
import { jobforgeSql as sql } from './sql.js';

/** An active runner without a heartbeat for this long is counted as stale. */
const STALE_RUNNER_SECONDS = 60;

type Labels<K extends string> = Record<K, string>;

/**
 * Sets a gauge's series from rows, and to 0 the series it had before that the rows no longer
 * name: a backlog that drains shows 0, not a last value frozen in place.
 */
function setAll<K extends string>(
  known: Map<string, Labels<K>>,
  rows: ReadonlyArray<{ labels: Labels<K>; values: Array<[{ set(l: Labels<K>, v: number): void }, number]> }>,
  gauges: ReadonlyArray<{ set(l: Labels<K>, v: number): void }>,
): void {
  const seen = new Set<string>();
  for (const row of rows) {
    const key = JSON.stringify(row.labels);
    seen.add(key);
    known.set(key, row.labels);
    for (const [g, v] of row.values) g.set(row.labels, v);
  }
  for (const [key, labels] of known) {
    if (seen.has(key)) continue;
    for (const g of gauges) g.set(labels, 0);
  }
}

/**
 * The gauges JobForge reads from PostgreSQL when Prometheus scrapes: queue depth and oldest age per
 * tenant, pool, type and state; runners per state; the result outbox. Three grouped queries per
 * scrape over partial indexes, across tenants (a named system scope), never on a request's path.
 * Every JobForge replica reports the same values; alert rules take their max.
 */
export function watchJobforgeGauges(metrics: ServerMetrics, db: Database): () => void {
  const queueSeries = new Map<string, Labels<'tenant' | 'pool' | 'type' | 'state'>>();
  const runnerSeries = new Map<string, Labels<'tenant' | 'pool' | 'state'>>();
  return metrics.onCollect(() =>
    asSystem('metrics: queue, runner and outbox gauges', async () => {
      const queue = await sql('metrics_queue').run<{
        tenant_id: string;
        pool: string;
        type: string;
        status: string;
        n: number;
        oldest_seconds: number;
      }>(db);
      setAll(
        queueSeries,
        queue.rows.map((r) => ({
          labels: { tenant: r.tenant_id, pool: r.pool, type: r.type, state: r.status },
          values: [
            [metrics.queueDepth, r.n],
            [metrics.queueOldestAge, Number(r.oldest_seconds)],
          ],
        })),
        [metrics.queueDepth, metrics.queueOldestAge],
      );
      const runners = await sql('metrics_runners').run<{ tenant_id: string; pool: string; state: string; n: number }>(db, {
        stale_seconds: STALE_RUNNER_SECONDS,
      });
      setAll(
        runnerSeries,
        runners.rows.map((r) => ({ labels: { tenant: r.tenant_id, pool: r.pool, state: r.state }, values: [[metrics.runners, r.n]] })),
        [metrics.runners],
      );
      const outbox = await sql('metrics_outbox').run<{ n: number; oldest_seconds: number }>(db);
      metrics.outboxPending.set(outbox.rows[0]?.n ?? 0);
      metrics.outboxOldestAge.set(Number(outbox.rows[0]?.oldest_seconds ?? 0));
    }),
  );
}
