import { readFileSync } from 'node:fs';
import { Agent } from 'node:https';
import { EnrollResponse, parseOrThrow } from '@controlplane/contracts';
import { createKeyPairAndCsr, expectOk, parseSpiffeId, requestJson, type KeyAlgorithm } from '@controlplane/platform';
import { saveRunnerIdentity, type RunnerIdentityMeta } from './identity.js';

export interface EnrollOptions {
  joinToken: string;
  /** JobForge's enrolment endpoint, e.g. https://jobforge.internal:8446 */
  enrollUrl: string;
  /** The control plane's CA certificate (PEM file): the only trust anchor for the enrolment call. */
  caFile: string;
  dir: string;
  name: string;
  algorithm?: KeyAlgorithm;
}

/**
 * Enrols this machine as a runner: makes a key pair here, sends only the CSR with the single-use
 * join token, and stores the certificate JobForge issues. The private key never leaves `dir`.
 */
export async function enrollRunner(o: EnrollOptions): Promise<RunnerIdentityMeta> {
  const caPem = readFileSync(o.caFile, 'utf8');
  const { keyPem, csrPem } = await createKeyPairAndCsr({ commonName: o.name, ...(o.algorithm ? { algorithm: o.algorithm } : {}) });
  const agent = new Agent({ ca: caPem, minVersion: 'TLSv1.3', keepAlive: false });
  try {
    const res = await requestJson({
      url: new URL('/enroll', o.enrollUrl).toString(),
      method: 'POST',
      agent,
      body: { joinToken: o.joinToken, csr: csrPem, name: o.name },
      timeoutMs: 30_000,
    });
    const body = parseOrThrow(EnrollResponse, expectOk(res));
    const id = parseSpiffeId(body.spiffeId);
    const meta: RunnerIdentityMeta = {
      runnerId: body.runnerId,
      tenantId: body.tenantId,
      pool: body.pool,
      spiffeId: body.spiffeId,
      trustDomain: id.trustDomain,
      runnerApiUrl: body.runnerApiUrl ?? o.enrollUrl,
      enrollUrl: o.enrollUrl,
      notAfter: body.notAfter,
      name: o.name,
    };
    saveRunnerIdentity(o.dir, { keyPem, certPem: body.certificatePem, caPem: body.caCertificatePem, meta });
    return meta;
  } finally {
    agent.destroy();
  }
}
