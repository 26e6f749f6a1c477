// Writes packages/server/migrations/schema.snapshot.sql from a freshly migrated embedded database.
// A test fails when the committed snapshot drifts from what real PostgreSQL or PGlite produce.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createPgliteDatabase, migrate, dumpSchema, SCHEMA_SNAPSHOT_FILE } from '../storage/index.js';

const db = await createPgliteDatabase();
try {
  const { version } = await migrate(db);
  writeFileSync(SCHEMA_SNAPSHOT_FILE, await dumpSchema(db));
  console.log(`wrote the schema at migration ${version} to ${fileURLToPath(SCHEMA_SNAPSHOT_FILE)}`);
} finally {
  await db.close();
}
