// The database enforces the job state table: each of the store's `moveTo…` statements updates a job
// only from its event's `from` states, so a transition the table does not have changes nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError, JOB_STATUSES, JobRequest, canonicalHash, buildErrorEnvelope, type JobStatus } from '@controlplane/contracts';
import { createPgliteDatabase, fromStates, JobStore, migrate, type Database, type JobTransitionEvent } from '@controlplane/server';
import { job, seedTenants } from './support/queue-conformance.js';

const envelope = () => buildErrorEnvelope(new AppError('HANDLER_FAILED'), { service: 'test' });

describe('job transitions in the database (PGlite)', () => {
  let db: Database;
  let store: JobStore;

  beforeAll(async () => {
    db = await createPgliteDatabase();
    await migrate(db);
    await seedTenants(db);
    store = new JobStore(db);
  });
  afterAll(() => db.close());

  /** A job forced into `status` (a running one with a lease, as the table's CHECK requires). */
  async function jobIn(status: JobStatus): Promise<string> {
    const request = JobRequest.parse(job());
    await store.insertJobs(db, [
      { tenantId: 't1', request, requestDigest: canonicalHash(request), pool: 'default', runAt: new Date(), submittedBy: null },
    ]);
    await db.query(
      `update jobs set status = $2, lease_id = case when $2 = 'running' then gen_random_uuid() end,
              lease_runner_id = case when $2 = 'running' then 'r1' end, fencing_token = case when $2 = 'running' then 1 end
        where id = $1`,
      [request.id, status],
    );
    return request.id;
  }

  const moves: Record<string, { events: JobTransitionEvent[]; move: (id: string) => Promise<unknown> }> = {
    moveToRetrying: { events: ['retry'], move: (id) => store.moveToRetrying(db, 't1', id, envelope(), 10) },
    moveToFailed: { events: ['fail', 'expire'], move: (id) => store.moveToFailed(db, 't1', id, envelope(), null) },
    moveToCancelled: { events: ['cancel'], move: (id) => store.moveToCancelled(db, 't1', id, envelope()) },
    moveToQueuedOnRelease: { events: ['release'], move: (id) => store.moveToQueuedOnRelease(db, 't1', id) },
    moveToQueuedOnRedrive: { events: ['redrive'], move: (id) => store.moveToQueuedOnRedrive(db, 't1', id) },
  };

  for (const [name, { events, move }] of Object.entries(moves)) {
    it(`${name} moves a job only from ${events.map((e) => `${e}'s`).join(' and ')} from-states`, async () => {
      const allowed = new Set(events.flatMap((e) => fromStates(e)));
      for (const status of JOB_STATUSES) {
        const id = await jobIn(status);
        const outcome = await move(id).then(
          () => 'moved',
          (err: Error) => err.message,
        );
        const after = (await db.query<{ status: string }>('select status from jobs where id = $1', [id])).rows[0]!.status;
        if (allowed.has(status)) {
          expect(outcome, `${name} from ${status}`).toBe('moved');
          expect(after).not.toBe(status);
        } else {
          expect(outcome, `${name} from ${status}`).toMatch(/its state allows no/);
          expect(after, `${name} from ${status} must change nothing`).toBe(status);
        }
      }
    });
  }

  it('leases only claimable jobs', async () => {
    for (const status of JOB_STATUSES) {
      const id = await jobIn(status);
      const { rows } = await store.leaseByIds(db, 't1', 'default', ['echo'], [id], { runnerId: 'r2', leaseMs: 1000 });
      expect(rows.length, status).toBe(fromStates('lease').includes(status) ? 1 : 0);
    }
  });
});
