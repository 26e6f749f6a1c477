// Schedules on PostgreSQL with two JobForge replicas and a clock the test drives.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Cron } from 'croner';
import { createLogger } from '@controlplane/platform';
import {
  createPostgresDatabase,
  JobLifecycle,
  JobStore,
  JobTypeRegistry,
  migrate,
  PostgresQueue,
  Scheduler,
  slotJobId,
  type Database,
} from '@controlplane/server';
import { createTestDatabase, type TestDatabase } from '../../../test/support/postgres.js';
import { expectCode, resetJobs, seedTenants } from './support/queue-conformance.js';

const logger = createLogger({ service: 'test', level: 'silent' });

describe('schedules (two replicas, a driven clock)', () => {
  let tdb: TestDatabase;
  let db: Database;
  let clock = new Date('2026-06-01T12:00:30Z');
  const at = (iso: string) => (clock = new Date(iso));
  let a: Scheduler;
  let b: Scheduler;
  let jobsA: JobLifecycle;

  const replica = () => {
    const store = new JobStore(db);
    const jobs = new JobLifecycle({ db, store, queue: new PostgresQueue(db, store), jobTypes: new JobTypeRegistry(), logger });
    return { jobs, scheduler: new Scheduler({ db, jobs, logger, now: () => clock }) };
  };
  /** Both replicas fire at once, a few times over. */
  const tickBoth = async () => {
    for (let i = 0; i < 3; i++) await Promise.all([a.tick(), b.tick(), a.tick(), b.tick()]);
  };
  const fired = async (scheduleId: string) =>
    (
      await db.query<{ id: string; slot: string; status: string }>(
        `select id, request->'metadata'->>'createdAt' as slot, status from jobs
          where tenant_id = 't1' and request->'metadata'->>'causationId' = $1 order by 2`,
        [scheduleId],
      )
    ).rows;
  const base = { job: { type: 'echo', data: { n: 1 } } };

  beforeAll(async () => {
    tdb = await createTestDatabase();
    db = createPostgresDatabase({ unscoped: 'system', connectionString: tdb.url, maxConnections: 10 });
    await migrate(db);
    await seedTenants(db);
    const ra = replica();
    a = ra.scheduler;
    jobsA = ra.jobs;
    b = replica().scheduler;
  });
  afterAll(async () => {
    await db?.close();
    await tdb?.drop();
  });
  beforeEach(async () => {
    await db.query('delete from schedules');
    await resetJobs(db);
    at('2026-06-01T12:00:30Z');
  });

  it('a */1 * * * * schedule fires exactly once per slot with two replicas firing at once', async () => {
    const s = await a.create('t1', 'key:1', { ...base, name: 'every-minute', cron: '*/1 * * * *' });
    expect(s.nextFireAt).toBe('2026-06-01T12:01:00.000Z');
    for (let m = 1; m <= 5; m++) {
      at(`2026-06-01T12:0${m}:02Z`);
      await tickBoth();
    }
    const jobs = await fired(s.id);
    const slots = [1, 2, 3, 4, 5].map((m) => `2026-06-01T12:0${m}:00.000Z`);
    expect(jobs.map((j) => j.slot)).toEqual(slots);
    expect(jobs.map((j) => j.id)).toEqual(slots.map((t) => slotJobId('t1', s.id, new Date(t))));
    expect((await a.get('t1', s.id)).runs).toBe(5);
  });

  it('after a restart that missed three slots, each catch-up policy does what it says', async () => {
    const make = (name: string, catchUp: 'skip' | 'latest' | 'all') =>
      a.create('t1', null, { ...base, name, intervalMs: 300_000, startAt: '2026-06-01T12:00:00Z', catchUp, catchUpLimit: 2 });
    const skip = await make('skip', 'skip');
    const latest = await make('latest', 'latest');
    const all = await make('all', 'all');
    at('2026-06-01T12:05:01Z');
    await tickBoth();
    // Down from 12:05 to 12:22: the slots of 12:10, 12:15 and 12:20 were missed.
    at('2026-06-01T12:22:00Z');
    await tickBoth();
    expect((await fired(skip.id)).map((j) => j.slot.slice(11, 16))).toEqual(['12:05']);
    expect((await fired(latest.id)).map((j) => j.slot.slice(11, 16))).toEqual(['12:05', '12:20']);
    expect((await fired(all.id)).map((j) => j.slot.slice(11, 16))).toEqual(['12:05', '12:15', '12:20']);
    for (const s of [skip, latest, all]) expect((await a.get('t1', s.id)).nextFireAt).toBe('2026-06-01T12:25:00.000Z');
  });

  it('daylight-saving changes in Europe/Berlin fire each day once, where croner puts the slot', async () => {
    at('2026-03-28T12:00:00Z');
    const s = await a.create('t1', null, { ...base, name: 'dst', cron: '30 2 * * *', timezone: 'Europe/Berlin' });
    const cron = new Cron('30 2 * * *', { timezone: 'Europe/Berlin', paused: true });
    // 29 March: 02:30 does not exist in Berlin (clocks go from 02:00 to 03:00).
    const spring = cron.nextRun(new Date('2026-03-28T12:00:00Z'))!;
    expect(s.nextFireAt).toBe(spring.toISOString());
    at('2026-03-29T06:00:00Z');
    await tickBoth();
    expect((await fired(s.id)).map((j) => j.slot)).toEqual([spring.toISOString()]);
    expect((await a.get('t1', s.id)).nextFireAt).toBe('2026-03-30T00:30:00.000Z');
    const bad = await expectCode(
      a.create('t1', null, { ...base, name: 'bad', cron: '30 2 * *', timezone: 'Europe/Berlin' }),
      'VALIDATION_FAILED',
    );
    expect(bad.details[0]?.path).toEqual(['cron']);
    const zone = await expectCode(
      a.create('t1', null, { ...base, name: 'bad2', cron: '* * * * *', timezone: 'Mars/Olympus' }),
      'VALIDATION_FAILED',
    );
    expect(zone.details[0]?.path).toEqual(['timezone']);
  });

  it('each overlap policy with a job that outlasts its interval', async () => {
    const make = (overlap: 'skip' | 'buffer-one' | 'allow' | 'cancel-previous') =>
      a.create('t1', null, { ...base, name: `o-${overlap}`, intervalMs: 60_000, startAt: '2026-06-01T12:01:00Z', overlap });
    const [skip, buffer, allow, cancel] = await Promise.all([make('skip'), make('buffer-one'), make('allow'), make('cancel-previous')]);
    // No runner takes the jobs: each stays queued, outlasting its interval.
    for (const m of [1, 2, 3]) {
      at(`2026-06-01T12:0${m}:01Z`);
      await tickBoth();
    }
    expect((await fired(skip.id)).map((j) => j.slot.slice(11, 16))).toEqual(['12:01']);
    expect((await fired(allow.id)).map((j) => [j.slot.slice(11, 16), j.status])).toEqual([
      ['12:01', 'queued'],
      ['12:02', 'queued'],
      ['12:03', 'queued'],
    ]);
    expect((await fired(cancel.id)).map((j) => [j.slot.slice(11, 16), j.status])).toEqual([
      ['12:01', 'cancelled'],
      ['12:02', 'cancelled'],
      ['12:03', 'queued'],
    ]);
    // buffer-one: one fire waits (the latest slot) until the running one ends.
    expect((await fired(buffer.id)).map((j) => j.slot.slice(11, 16))).toEqual(['12:01']);
    await jobsA.operator.cancel('t1', (await fired(buffer.id))[0]!.id);
    await tickBoth();
    expect((await fired(buffer.id)).map((j) => j.slot.slice(11, 16))).toEqual(['12:01', '12:03']);
    await jobsA.operator.cancel('t1', (await fired(skip.id))[0]!.id);
    at('2026-06-01T12:04:01Z');
    await tickBoth();
    expect((await fired(skip.id)).map((j) => j.slot.slice(11, 16))).toEqual(['12:01', '12:04']);
  });

  it('pause and resume; an end date and a run limit stop it', async () => {
    const p = await a.create('t1', null, { ...base, name: 'paused', cron: '* * * * *' });
    await a.setPaused('t1', p.id, true);
    at('2026-06-01T12:03:05Z');
    await tickBoth();
    expect(await fired(p.id)).toEqual([]);
    const resumed = await a.setPaused('t1', p.id, false);
    expect(resumed.nextFireAt).toBe('2026-06-01T12:04:00.000Z');
    at('2026-06-01T12:04:01Z');
    await tickBoth();
    expect((await fired(p.id)).map((j) => j.slot.slice(11, 16))).toEqual(['12:04']);

    at('2026-06-01T12:00:30Z');
    const limited = await a.create('t1', null, { ...base, name: 'limited', cron: '* * * * *', maxRuns: 2 });
    const ended = await a.create('t1', null, { ...base, name: 'ended', cron: '* * * * *', endAt: '2026-06-01T12:02:30Z' });
    for (const m of [1, 2, 3, 4]) {
      at(`2026-06-01T12:0${m}:01Z`);
      await tickBoth();
    }
    expect((await fired(limited.id)).map((j) => j.slot.slice(11, 16))).toEqual(['12:01', '12:02']);
    expect((await a.get('t1', limited.id)).nextFireAt).toBeUndefined();
    expect((await fired(ended.id)).map((j) => j.slot.slice(11, 16))).toEqual(['12:01', '12:02']);
    expect((await a.get('t1', ended.id)).nextFireAt).toBeUndefined();
  });

  it('attack: another tenant cannot read, trigger, pause or delete a schedule', async () => {
    const s = await a.create('t1', null, { ...base, name: 'mine', cron: '* * * * *' });
    // The same id again answers the same schedule; another schedule of the same name is a conflict.
    expect((await a.create('t1', null, { ...base, id: s.id, name: 'mine', cron: '* * * * *' })).id).toBe(s.id);
    await expectCode(a.create('t1', null, { ...base, name: 'mine', cron: '* * * * *' }), 'RESOURCE_CONFLICT');
    await expectCode(a.get('t2', s.id), 'RESOURCE_NOT_FOUND');
    await expectCode(a.trigger('t2', s.id, null), 'RESOURCE_NOT_FOUND');
    await expectCode(a.setPaused('t2', s.id, true), 'RESOURCE_NOT_FOUND');
    await expectCode(a.delete('t2', s.id), 'RESOURCE_NOT_FOUND');
    expect(await a.list('t2')).toEqual([]);
    expect((await a.get('t1', s.id)).paused).toBe(false);
    const { jobId } = await a.trigger('t1', s.id, 'key:1');
    expect((await jobsA.queries.get('t1', jobId)).status).toBe('queued');
    await a.delete('t1', s.id);
    await expectCode(a.get('t1', s.id), 'RESOURCE_NOT_FOUND');
  });
});
