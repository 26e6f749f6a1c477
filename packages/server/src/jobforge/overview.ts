import type { Sql } from '../storage/index.js';
import { jobforgeSql as sql } from './sql.js';

export interface TenantOverview {
  /** Waiting jobs by type, with the age of the oldest in seconds. */
  queues: Array<{ type: string; depth: number; oldestAgeSeconds: number }>;
  jobsByStatus: Record<string, number>;
  runnersByState: Record<string, number>;
  deadLetters: number;
}

/** The figures the dashboard's overview shows, read in three grouped queries. */
export async function tenantOverview(q: Sql, tenantId: string): Promise<TenantOverview> {
  const [queues, statuses, runners] = await Promise.all([
    sql('overview_queues').run<{ type: string; depth: number; oldest_age_seconds: number }>(q, { tenant_id: tenantId }),
    sql('overview_statuses').run<{ status: string; n: number; dead_lettered: number }>(q, { tenant_id: tenantId }),
    sql('overview_runners').run<{ status: string; n: number }>(q, { tenant_id: tenantId }),
  ]);
  return {
    queues: queues.rows.map((r) => ({ type: r.type, depth: r.depth, oldestAgeSeconds: Math.max(0, Math.round(r.oldest_age_seconds)) })),
    jobsByStatus: Object.fromEntries(statuses.rows.map((r) => [r.status, r.n])),
    runnersByState: Object.fromEntries(runners.rows.map((r) => [r.status, r.n])),
    deadLetters: statuses.rows.reduce((n, r) => n + r.dead_lettered, 0),
  };
}
