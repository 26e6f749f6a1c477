import { createPostgresDatabase, JobStore, migrate, PostgresQueue } from '@controlplane/server';
import { createTestDatabase } from '../../../test/support/postgres.js';
import { queueConformance, resetJobs, seedTenants } from './support/queue-conformance.js';

queueConformance('PostgreSQL queue on PostgreSQL', async () => {
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
});
