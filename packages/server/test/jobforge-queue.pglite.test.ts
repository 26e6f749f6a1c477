import { createPgliteDatabase, JobStore, migrate, PostgresQueue } from '@controlplane/server';
import { queueConformance, resetJobs, seedTenants } from './support/queue-conformance.js';

queueConformance('PostgreSQL queue on embedded PGlite', async () => {
  const db = await createPgliteDatabase();
  await migrate(db);
  await seedTenants(db);
  return {
    db,
    queue: new PostgresQueue(db, new JobStore(db)),
    reset: () => resetJobs(db),
    close: () => db.close(),
  };
});
