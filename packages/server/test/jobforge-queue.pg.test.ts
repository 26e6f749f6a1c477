import { createPostgresDatabase, JobStore, migrate, PostgresQueue } from '@controlplane/server';
import { createTestDatabase } from '../../../test/support/postgres.js';
import { flowConformance } from './support/flow-conformance.js';
import { orchestrationConformance } from './support/orchestration-conformance.js';
import { queueConformance, resetJobs, seedTenants, type HarnessFactory } from './support/queue-conformance.js';

const factory: HarnessFactory = async () => {
  const tdb = await createTestDatabase();
  const db = createPostgresDatabase({ unscoped: 'system', connectionString: tdb.url, maxConnections: 8 });
  await migrate(db);
  await seedTenants(db);
  return {
    db,
    queue: new PostgresQueue(db, new JobStore(db)),
    reset: () => resetJobs(db),
    close: async () => {
      await db.close();
      await tdb.drop();
    },
  };
};

queueConformance('PostgreSQL queue on PostgreSQL', factory);
orchestrationConformance('PostgreSQL queue on PostgreSQL', factory);
flowConformance('PostgreSQL queue on PostgreSQL', factory);
