import { createPgliteDatabase, JobStore, migrate, PostgresQueue } from '@controlplane/server';
import { flowConformance } from './support/flow-conformance.js';
import { orchestrationConformance } from './support/orchestration-conformance.js';
import { queueConformance, resetJobs, seedTenants, type HarnessFactory } from './support/queue-conformance.js';

const factory: HarnessFactory = async () => {
  const db = await createPgliteDatabase();
  await migrate(db);
  await seedTenants(db);
  return {
    db,
    queue: new PostgresQueue(db, new JobStore(db)),
    reset: () => resetJobs(db),
    close: () => db.close(),
  };
};

queueConformance('PostgreSQL queue on embedded PGlite', factory);
orchestrationConformance('PostgreSQL queue on embedded PGlite', factory);
flowConformance('PostgreSQL queue on embedded PGlite', factory);
