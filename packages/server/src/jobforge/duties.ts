import type { Logger } from '@controlplane/platform';
import type { JobLifecycle } from './lifecycle/index.js';
import type { Scheduler } from './schedules/index.js';

export interface DutyIntervals {
  reapMs: number;
  expireMs: number;
  integrityMs: number;
  reconcileMs: number;
  statisticsMs: number;
  /** The flow sweep: children a crash left pending after their parents ended. */
  flowsMs: number;
  /** How often this replica looks for schedules with a slot due. */
  schedulesMs: number;
}

export const DEFAULT_DUTY_INTERVALS: DutyIntervals = {
  reapMs: 1_000,
  expireMs: 1_000,
  integrityMs: 1_000,
  reconcileMs: 60_000,
  statisticsMs: 5_000,
  flowsMs: 5_000,
  schedulesMs: 1_000,
};

/**
 * The periodic duties every JobForge replica runs. They are safe to run in every replica at
 * once: the reaper and expirer lock their rows with FOR UPDATE SKIP LOCKED (two replicas never
 * take the same job), and reconciliation only adds missing entries (ZADD NX), which is idempotent.
 * Statistics are refreshed by one replica at a time (an advisory lock), and only where
 * autovacuum does not. Each duty never overlaps itself: the next run is scheduled when the previous one ends.
 */
export function startDuties(
  jobs: JobLifecycle,
  logger: Logger,
  intervals: Partial<DutyIntervals> = {},
  scheduler?: Scheduler,
): () => Promise<void> {
  const iv = { ...DEFAULT_DUTY_INTERVALS, ...intervals };
  let stopped = false;
  const running = new Set<Promise<unknown>>();
  const timers = new Set<NodeJS.Timeout>();

  const loop = (name: string, every: number, fn: () => Promise<unknown>) => {
    const tick = () => {
      timers.delete(timer);
      if (stopped) return;
      const p = fn()
        .catch((err: unknown) => logger.warn({ err, duty: name }, 'periodic duty failed; will retry'))
        .finally(() => {
          running.delete(p);
          if (!stopped) {
            timer = setTimeout(tick, every);
            timer.unref();
            timers.add(timer);
          }
        });
      running.add(p);
    };
    let timer = setTimeout(tick, every);
    timer.unref();
    timers.add(timer);
  };

  loop('reap-leases', iv.reapMs, () => jobs.maintenance.reapExpiredLeases());
  loop('expire-jobs', iv.expireMs, () => jobs.maintenance.expireJobs());
  loop('queue-integrity', iv.integrityMs, () => jobs.queue.checkIntegrity());
  loop('reconcile', iv.reconcileMs, () => jobs.queue.reconcile());
  loop('settle-flows', iv.flowsMs, () => jobs.maintenance.settleFlows());
  if (scheduler) loop('fire-schedules', iv.schedulesMs, () => scheduler.tick());
  loop('table-statistics', iv.statisticsMs, async () => {
    const { analyzed } = await jobs.maintenance.refreshStatistics();
    if (analyzed.length > 0) logger.debug({ tables: analyzed }, 'refreshed planner statistics');
  });

  return async () => {
    stopped = true;
    for (const t of timers) clearTimeout(t);
    await Promise.allSettled([...running]);
  };
}
