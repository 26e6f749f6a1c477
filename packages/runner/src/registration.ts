import { X509Certificate } from 'node:crypto';
import type { RunnerCapability } from '@controlplane/contracts';
import { principalFromCertificate } from '@controlplane/platform';
import { handlerTypes, type HandlerDefinition } from './handler.js';

/** What the runner tells JobForge a handler can do. */
export function capabilityOf(h: HandlerDefinition): RunnerCapability {
  const types = handlerTypes(h);
  return {
    id: types[0]!,
    name: types[0]!,
    version: '1.0.0',
    description: h.description ?? '',
    inputSchema: (h.inputSchema ?? {}) as RunnerCapability['inputSchema'],
    outputSchema: (h.outputSchema ?? {}) as RunnerCapability['outputSchema'],
    supportedJobTypes: [...types],
    maxConcurrency: h.concurrency ?? 1,
    timeoutMs: h.timeoutMs ?? 30_000,
  };
}

/** JobForge's signing certificate must be from our CA and name the jobforge service. */
export function checkJobforgeCertificate(pem: string, caPem: string, trustDomain: string): X509Certificate {
  const cert = new X509Certificate(pem);
  const ca = new X509Certificate(caPem);
  const p = principalFromCertificate(cert, { trustDomain });
  if (!cert.verify(ca.publicKey) || p.kind !== 'service' || p.id !== 'jobforge') {
    throw new Error('JobForge presented a signing certificate that is not the jobforge service of our CA');
  }
  return cert;
}
