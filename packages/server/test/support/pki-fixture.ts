// A throwaway PKI for tests: CA + service certificates on disk, and helpers to enrol runners.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  buildSpiffeId,
  createKeyPairAndCsr,
  createMtlsAgent,
  initPki,
  loadCertificateAuthority,
  loadTlsMaterial,
  servicePkiFiles,
  type LoadedCertificateAuthority,
  type TlsMaterial,
} from '@controlplane/platform';

export const TRUST_DOMAIN = 'test.controlplane.local';

export interface PkiFixture {
  dir: string;
  ca: LoadedCertificateAuthority;
  material(service: string): TlsMaterial;
  /** An mTLS agent presenting `service`'s certificate and expecting `server`'s identity. */
  serviceAgent(service: string, server: string): Agent;
  /** A TLS agent with no client certificate that trusts our CA (for enrolment). */
  anonymousAgent(): Agent;
  /** Writes a runner's key and certificate and returns an mTLS agent for it. */
  runnerAgent(name: string, keyPem: string, certPem: string): { agent: Agent; material: TlsMaterial };
  cleanup(): void;
}

export async function createPkiFixture(): Promise<PkiFixture> {
  const dir = mkdtempSync(join(tmpdir(), 'cp-pki-'));
  await initPki({ dir, trustDomain: TRUST_DOMAIN });
  const ca = await loadCertificateAuthority(dir);
  const agents: Agent[] = [];
  const track = (a: Agent) => {
    agents.push(a);
    return a;
  };
  return {
    dir,
    ca,
    material: (service) => loadTlsMaterial(servicePkiFiles(dir, service)),
    serviceAgent: (service, server) =>
      track(
        createMtlsAgent(loadTlsMaterial(servicePkiFiles(dir, service)), {
          trustDomain: TRUST_DOMAIN,
          expectedServerId: buildSpiffeId(TRUST_DOMAIN, 'service', server),
          keepAlive: true,
        }),
      ),
    anonymousAgent: () => track(new Agent({ ca: ca.certPem, minVersion: 'TLSv1.3', keepAlive: false })),
    runnerAgent: (name, keyPem, certPem) => {
      const keyFile = join(dir, `${name}.key`);
      const certFile = join(dir, `${name}.crt`);
      writeFileSync(keyFile, keyPem, { mode: 0o600 });
      writeFileSync(certFile, certPem);
      const material = loadTlsMaterial({ caFile: join(dir, 'ca.crt'), certFile, keyFile });
      return {
        agent: track(
          createMtlsAgent(material, {
            trustDomain: TRUST_DOMAIN,
            expectedServerId: buildSpiffeId(TRUST_DOMAIN, 'service', 'jobforge'),
            keepAlive: true,
          }),
        ),
        material,
      };
    },
    cleanup: () => {
      for (const a of agents) a.destroy();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export { createKeyPairAndCsr };
