// The benchmark's runner: enrolled and registered for real (Ed25519 key: the cheapest signatures),
// running no-op jobs. It takes work by claims (the drain) or from a dispatch stream (the steady
// phases, as the runner agent does), signs the outcomes of a batch together and reports them in one call.
import { createPrivateKey } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:https';
import { join } from 'node:path';
import {
  buildSpiffeId,
  createKeyPairAndCsr,
  createMtlsAgent,
  expectOk,
  loadTlsMaterial,
  requestJson,
  resultDigest,
  signJobResults,
} from '@controlplane/platform';
import { JobforgeClient } from '@controlplane/runner';

/** Enrols (with a join token from `serviceCall`) and registers a no-op runner of `tenant`. */
export async function enrollNoopRunner({ url, enrollUrl, work, trustDomain, serviceCall }, tenant) {
  const tok = await serviceCall('/v1/join-tokens', {}, tenant);
  const { keyPem, csrPem } = await createKeyPairAndCsr({ commonName: `${tenant}-runner`, algorithm: 'Ed25519' });
  const enrolled = expectOk(
    await requestJson({
      url: `${enrollUrl}/enroll`,
      method: 'POST',
      body: { joinToken: tok.token, csr: csrPem, name: tenant },
      agent: new Agent({ ca: readFileSync(join(work, 'ca.crt'), 'utf8') }),
    }),
  );
  writeFileSync(join(work, `${tenant}.key`), keyPem, { mode: 0o600 });
  writeFileSync(join(work, `${tenant}.crt`), enrolled.certificatePem);
  const material = loadTlsMaterial({
    caFile: join(work, 'ca.crt'),
    certFile: join(work, `${tenant}.crt`),
    keyFile: join(work, `${tenant}.key`),
  });
  const agent = createMtlsAgent(material, {
    trustDomain,
    expectedServerId: buildSpiffeId(trustDomain, 'service', 'jobforge'),
    keepAlive: true,
    maxSockets: 32,
  });
  const post = async (path, body, timeoutMs = 60_000) =>
    expectOk(await requestJson({ url: `${url}${path}`, method: 'POST', body, agent, timeoutMs }));
  await post('/runner/v1/register', {
    name: tenant,
    version: '1.0.0',
    contractVersion: '1.0.0',
    capabilities: [{ id: 'noop', name: 'noop', version: '1.0.0', supportedJobTypes: ['noop'], maxConcurrency: 1000 }],
  });
  return { agent, key: createPrivateKey(keyPem), post, client: new JobforgeClient(url, material, trustDomain) };
}

/** Outcomes for a leased batch, signed together (one signature over their Merkle root). */
export function signedCompletions(envs, key) {
  const sigs = signJobResults(
    envs.map((env) => ({
      jobId: env.jobId,
      tenantId: env.tenantId,
      attempt: env.attempt,
      fencingToken: env.fencingToken,
      outcome: 'completed',
      resultDigest: resultDigest(null),
    })),
    key,
  );
  return envs.map((env, i) => ({
    jobId: env.jobId,
    leaseId: env.leaseId,
    fencingToken: env.fencingToken,
    attempt: env.attempt,
    type: env.type,
    data: null,
    signature: sigs[i],
  }));
}

export const claimStats = { claims: 0, jobs: 0 };

/** A claiming loop: claim up to `max`, sign, report as one batch, until `stop()`. */
export async function claimLoop(runner, { max, waitMs, stop, onDone, onClaimed }) {
  while (!stop()) {
    const res = await runner.post('/runner/v1/claim', { max, waitMs });
    claimStats.claims++;
    claimStats.jobs += res.jobs.length;
    if (res.jobs.length === 0) continue;
    if (onClaimed) {
      const t = performance.now();
      for (const j of res.jobs) onClaimed(j.jobId, t);
    }
    const out = await runner.post('/runner/v1/outcomes', { completions: signedCompletions(res.jobs, runner.key) });
    const t = performance.now();
    for (const r of out.results) if (r.ok) onDone(r.jobId, t);
  }
}

/**
 * A dispatch stream with `credits` slots: each lease batch pushed down it is completed at once and
 * its credits given back. Returns a function that ends the stream.
 */
export function dispatchLoop(runner, { credits, onDone, onClaimed }) {
  let closed = false;
  let stream;
  const open = () => {
    stream = runner.client.openDispatch(credits, {
      onLeases: (batch) => {
        claimStats.claims++;
        claimStats.jobs += batch.jobs.length;
        const t0 = performance.now();
        if (onClaimed) for (const j of batch.jobs) onClaimed(j.jobId, t0);
        const s = stream;
        runner.client.outcomes({ completions: signedCompletions(batch.jobs, runner.key), failures: [] }).then(
          (out) => {
            const t = performance.now();
            for (const r of out.results) if (r.ok) onDone(r.jobId, t);
            s.grant(batch.jobs.length);
          },
          (err) => process.stderr.write(`[bench] outcomes failed: ${err.message}\n`),
        );
      },
      onEnd: (end) => {
        if (closed) return;
        process.stderr.write(`[bench] dispatch stream ended (${end.reason}); reopening\n`);
        setTimeout(open, 100);
      },
    });
  };
  open();
  return () => {
    closed = true;
    stream.close();
  };
}
