// The TruthCore routes through the gateway to the real TruthCore service over mTLS: assertions
// are written and read in the caller's tenant only.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTruthcore, type GatewayServer, type TruthcoreServer } from '@controlplane/server';
import { createGatewayHarness, logger, type GatewayHarness } from './support/gateway-harness.js';
import { TRUST_DOMAIN } from './support/pki-fixture.js';

describe('gateway → TruthCore', () => {
  let h: GatewayHarness;
  let tc: TruthcoreServer;
  let gw: GatewayServer;

  beforeAll(async () => {
    h = await createGatewayHarness();
    tc = await startTruthcore({
      db: h.db,
      logger,
      tls: h.pki.material('truthcore'),
      trustDomain: TRUST_DOMAIN,
      caCertPem: h.pki.ca.certPem,
      listen: { host: '127.0.0.1', port: 0 },
    });
    gw = await h.startGateway({}, { truthcoreUrl: tc.url, redisScope: 'truthcore' });
  });
  afterAll(async () => {
    await tc?.close();
    await h?.cleanup();
  });

  it("asserts, reads and queries inside the caller's tenant only", async () => {
    const assertion = {
      id: randomUUID(),
      subject: 'host:web-1',
      predicate: 'status',
      object: { up: true },
      timestamp: new Date().toISOString(),
      source: 'gateway-test',
    };
    const made = await h.client.call(gw.url, 'POST', '/assert', { key: h.keys.submitter, body: assertion });
    expect(made.status).toBe(201);
    expect(made.body).toMatchObject({ id: assertion.id, subject: 'host:web-1' });
    expect((await h.client.call(gw.url, 'POST', '/assert', { key: h.keys.viewer, body: assertion })).status).toBe(403);

    const read = await h.client.call(gw.url, 'GET', `/assertions/${assertion.id}`, { key: h.keys.viewer });
    expect(read.status).toBe(200);
    expect(read.body.object).toEqual({ up: true });
    const cross = await h.client.call(gw.url, 'GET', `/assertions/${assertion.id}`, { key: h.keys.otherTenantAdmin });
    expect(cross.status).toBe(404);
    expect(cross.body.error.service).toBe('gateway');

    const mine = await h.client.call(gw.url, 'POST', '/query', { key: h.keys.viewer, body: { pattern: { subject: 'host:web-1' } } });
    expect(mine.status).toBe(200);
    expect(mine.body.assertions.map((a: { id: string }) => a.id)).toEqual([assertion.id]);
    const theirs = await h.client.call(gw.url, 'POST', '/query', {
      key: h.keys.otherTenantAdmin,
      body: { pattern: { subject: 'host:web-1' } },
    });
    expect(theirs.body.assertions).toEqual([]);

    const provenance = await h.client.call(gw.url, 'GET', `/jobs/${randomUUID()}/provenance`, { key: h.keys.viewer });
    expect(provenance.status).toBe(404);
    const invalid = await h.client.call(gw.url, 'POST', '/assert', { key: h.keys.submitter, body: { subject: '' } });
    expect(invalid.status).toBe(400);
    expect(invalid.body.error.code).toBe('VALIDATION_FAILED');
  });
});
