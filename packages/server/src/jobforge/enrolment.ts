import { X509Certificate, randomUUID } from 'node:crypto';
import { AppError } from '@controlplane/contracts';
import { buildSpiffeId, signCsr, type CertificateAuthority, type Logger } from '@controlplane/platform';
import { type Database, asSystem, withTenant } from '../storage/index.js';
import { consumeJoinToken } from './join-tokens.js';
import type { RunnerRegistry } from './runner-registry.js';

export interface EnrolmentResult {
  runnerId: string;
  spiffeId: string;
  tenantId: string;
  pool: string;
  certificatePem: string;
  caCertificatePem: string;
  notAfter: string;
}

export interface EnrolmentOptions {
  db: Database;
  registry: RunnerRegistry;
  ca: CertificateAuthority;
  trustDomain: string;
  /** Runner certificates are short-lived; runners renew well before this runs out. */
  certificateTtlMs: number;
  logger: Logger;
}

/**
 * Turns a single-use join token and a CSR into a runner identity and a short-lived certificate.
 * The runner's private key never leaves the runner: only its CSR comes here, and the identity in
 * the certificate is decided here, not taken from the CSR.
 */
export class EnrolmentService {
  constructor(private readonly o: EnrolmentOptions) {}

  async enroll(p: { joinToken: string; csrPem: string; name: string }): Promise<EnrolmentResult> {
    return asSystem('enrol a runner with a join token', async () => {
      const runnerId = randomUUID();
      return this.o.db.transaction(async (tx) => {
        // Consumed inside the transaction: if signing fails, the token is not used up.
        const grant = await consumeJoinToken(tx, p.joinToken, runnerId);
        await this.o.registry.create(tx, { id: runnerId, tenantId: grant.tenantId, pool: grant.pool, name: p.name });
        const spiffeId = buildSpiffeId(this.o.trustDomain, 'runner', runnerId);
        const signed = await this.#sign(p.csrPem, spiffeId, grant.tenantId, grant.pool);
        await this.o.registry.recordCertificate(tx, runnerId, {
          serialNumber: signed.serialNumber,
          fingerprint256: new X509Certificate(signed.certPem).fingerprint256,
          certificatePem: signed.certPem,
          notAfter: signed.notAfter,
        });
        this.o.logger.info({ runnerId, tenantId: grant.tenantId, pool: grant.pool, joinTokenId: grant.id }, 'runner enrolled');
        return {
          runnerId,
          spiffeId,
          tenantId: grant.tenantId,
          pool: grant.pool,
          certificatePem: signed.certPem,
          caCertificatePem: this.o.ca.certPem,
          notAfter: signed.notAfter.toISOString(),
        };
      });
    });
  }

  /** A new certificate for a runner that still holds a valid, unrevoked one. */
  async renew(runner: { id: string; tenantId: string; pool: string }, csrPem: string): Promise<EnrolmentResult> {
    return withTenant(runner.tenantId, async () => {
      return this.o.db.transaction(async (tx) => {
        const rec = await this.o.registry.get(tx, runner.id);
        if (!rec || rec.status === 'revoked') throw new AppError('CERTIFICATE_REVOKED');
        const spiffeId = buildSpiffeId(this.o.trustDomain, 'runner', runner.id);
        const signed = await this.#sign(csrPem, spiffeId, rec.tenant_id, rec.pool);
        await this.o.registry.recordCertificate(tx, runner.id, {
          serialNumber: signed.serialNumber,
          fingerprint256: new X509Certificate(signed.certPem).fingerprint256,
          certificatePem: signed.certPem,
          notAfter: signed.notAfter,
        });
        return {
          runnerId: runner.id,
          spiffeId,
          tenantId: rec.tenant_id,
          pool: rec.pool,
          certificatePem: signed.certPem,
          caCertificatePem: this.o.ca.certPem,
          notAfter: signed.notAfter.toISOString(),
        };
      });
    });
  }

  async #sign(csrPem: string, spiffeId: string, tenantId: string, pool: string) {
    try {
      return await signCsr(this.o.ca, csrPem, { spiffeId, validityMs: this.o.certificateTtlMs, tenantId, pool });
    } catch (err) {
      throw new AppError('VALIDATION_FAILED', {
        cause: err,
        details: [{ path: ['csr'], message: 'is not a valid certificate signing request' }],
      });
    }
  }
}
