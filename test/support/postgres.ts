// Test databases on the local PostgreSQL server: one uniquely named database per suite, dropped
// afterwards. Dropping also checks that the suite closed every connection it opened.
// Only for tests of the pg, redis and e2e tiers: importing this module makes a test file one that
// needs a PostgreSQL server (scripts/check-test-tiers.mjs).
import { randomBytes } from 'node:crypto';
import { userInfo } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';

export interface TestDatabase {
  /**
   * Connection string of the new database, as its owner: a role that is neither superuser nor
   * BYPASSRLS, like a production service role, so row-level security applies to the tests too.
   */
  url: string;
  /** The same database as the server's superuser, for tests that play an attacker with that power. */
  adminUrl: string;
  name: string;
  /** Drops the database; fails when connections to it are still open (a pool was not closed). */
  drop(): Promise<void>;
}

/**
 * The server to create test databases on: TEST_DATABASE_URL, else the local server as the current
 * OS user (node-postgres would otherwise read USER, which is unset in some containers).
 */
export function testDatabaseBaseUrl(): string {
  return (
    process.env.TEST_DATABASE_URL ?? `postgres://${encodeURIComponent(process.env.PGUSER ?? userInfo().username)}@127.0.0.1:5432/postgres`
  );
}

function withDatabase(baseUrl: string, name: string): string {
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

async function withAdmin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: testDatabaseBaseUrl(), application_name: 'controlplane-test-admin' });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

// The server removes a closed connection's backend a moment after the client's socket closes.
const LEAK_GRACE_MS = 2_000;

/** The role test databases belong to and services connect as (cluster-wide, so made once). */
export const TEST_SERVICE_ROLE = 'cp_test_service';

async function ensureServiceRole(admin: pg.Client): Promise<void> {
  // Several test workers may race to create it: either error means another one did.
  await admin.query(`do $$ begin
      create role ${TEST_SERVICE_ROLE} login nosuperuser nobypassrls;
    exception when duplicate_object or unique_violation then null;
    end $$`);
}

function asRole(url: string, role: string): string {
  const u = new URL(url);
  u.username = role;
  return u.toString();
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `cp_test_${process.pid}_${randomBytes(6).toString('hex')}`;
  await withAdmin(async (admin) => {
    await ensureServiceRole(admin);
    await admin.query(`create database "${name}" owner ${TEST_SERVICE_ROLE}`);
  });
  let dropped = false;
  return {
    name,
    url: asRole(withDatabase(testDatabaseBaseUrl(), name), TEST_SERVICE_ROLE),
    adminUrl: withDatabase(testDatabaseBaseUrl(), name),
    async drop() {
      if (dropped) return;
      dropped = true;
      await withAdmin(async (admin) => {
        const openConnections = async () =>
          (
            await admin.query<{ application_name: string }>(
              `select application_name from pg_stat_activity where datname = $1 and backend_type = 'client backend'`,
              [name],
            )
          ).rows;
        let open = await openConnections();
        for (const deadline = Date.now() + LEAK_GRACE_MS; open.length > 0 && Date.now() < deadline; open = await openConnections()) {
          await sleep(50);
        }
        await admin.query(`drop database if exists "${name}" with (force)`);
        if (open.length > 0) {
          throw new Error(
            `${open.length} connection(s) to test database ${name} were still open (application_name: ${open.map((c) => c.application_name || '?').join(', ')}); close every pool the test opened`,
          );
        }
      });
    },
  };
}
