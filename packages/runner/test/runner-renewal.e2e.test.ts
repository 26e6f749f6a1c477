// A runner renews its short-lived certificate on its own before it expires, with a key made on
// the runner, and keeps working on the new one.
import { X509Certificate, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { Agent } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, requestJson } from '@controlplane/platform';
import { DEMO_HANDLERS_MODULE, enrollRunner, RUNNER_FILES, RunnerAgent } from '@controlplane/runner';
import type { Database, JobforgeServer } from '@controlplane/server';
import { startJobforgeHarness, type JobforgeHarness } from '../../server/test/support/jobforge-harness.js';
import { TRUST_DOMAIN, type PkiFixture } from '../../server/test/support/pki-fixture.js';

const logger = createLogger({ service: 'test', level: 'silent' });

describe('runner certificate renewal', () => {
  let h: JobforgeHarness;
  let pki: PkiFixture;
  let db: Database;
  let jf: JobforgeServer;
  let gw: Agent;
  let work: string;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'cp-renew-'));
    h = await startJobforgeHarness({ dispatch: 'postgres', runnerCertificateTtlMs: 6_000 });
    ({ pki, db, jf, gw } = h);
  });

  afterAll(async () => {
    await h?.close();
    rmSync(work, { recursive: true, force: true });
  });

  it('renews before expiry with a new key and keeps claiming jobs', async () => {
    const headers = { 'x-cp-tenant': 't1', 'x-cp-actor': 'apikey:renew' };
    const tok = await requestJson<any>({ url: `${jf.url}/v1/join-tokens`, method: 'POST', body: {}, agent: gw, headers });
    const dir = join(work, 'runner');
    const meta = await enrollRunner({
      joinToken: tok.body.token,
      enrollUrl: jf.enrollUrl,
      caFile: join(pki.dir, 'ca.crt'),
      dir,
      name: 'renewer',
    });
    const first = new X509Certificate(readFileSync(join(dir, RUNNER_FILES.cert)));
    const firstKey = readFileSync(join(dir, RUNNER_FILES.key), 'utf8');
    // Claims with long-polls: the intake for networks that cannot carry a dispatch stream keeps working too.
    const agent = new RunnerAgent({ dir, handlersModule: DEMO_HANDLERS_MODULE, logger, intake: 'poll', claimWaitMs: 500, sourceEnv: {} });
    await agent.start();
    try {
      let renewed: X509Certificate | undefined;
      for (let i = 0; i < 100 && !renewed; i++) {
        await sleep(100);
        const now = new X509Certificate(readFileSync(join(dir, RUNNER_FILES.cert)));
        if (now.serialNumber !== first.serialNumber) renewed = now;
      }
      expect(renewed, 'the certificate was not renewed').toBeDefined();
      expect(Date.parse(renewed!.validTo)).toBeGreaterThan(Date.parse(first.validTo));
      expect(renewed!.subjectAltName).toContain(`spiffe://${TRUST_DOMAIN}/runner/${meta.runnerId}`);
      expect(readFileSync(join(dir, RUNNER_FILES.key), 'utf8')).not.toBe(firstKey);
      // The old certificate's lifetime ends; work continues on the new one.
      await sleep(Math.max(0, Date.parse(first.validTo) - Date.now()) + 500);
      const id = randomUUID();
      await requestJson({
        url: `${jf.url}/v1/jobs`,
        method: 'POST',
        agent: gw,
        headers,
        body: {
          id,
          type: 'echo',
          payload: { type: 'echo', data: { after: 'renewal' } },
          metadata: { source: 'renew', createdAt: new Date().toISOString() },
        },
      });
      let status = '';
      for (let i = 0; i < 100 && status !== 'completed'; i++) {
        await sleep(100);
        status = (await requestJson<any>({ url: `${jf.url}/v1/jobs/${id}`, agent: gw, headers })).body.status;
      }
      expect(status).toBe('completed');
      const certs = await db.query<{ n: number }>(`select count(*)::int as n from runner_certificates where runner_id = $1`, [
        meta.runnerId,
      ]);
      expect(certs.rows[0]!.n).toBeGreaterThanOrEqual(2);
    } finally {
      await agent.stop(1_000);
    }
  });
});
