import { AppError, type RunnerRegistrationRequest } from '@controlplane/contracts';
import type { Sql } from '../storage/index.js';
import { jobforgeSql as sql } from './sql.js';
import type { RunnerIdentity } from './lifecycle/index.js';

export interface RunnerRecord {
  id: string;
  tenant_id: string;
  pool: string;
  name: string;
  version: string | null;
  job_types: string[];
  tags: string[];
  status: 'enrolled' | 'active' | 'draining' | 'revoked';
  last_heartbeat_at: Date | null;
  revoked_at: Date | null;
  created_at: Date;
}

export interface IssuedCertificate {
  serialNumber: string;
  fingerprint256: string;
  certificatePem: string;
  notAfter: Date;
}

/** Runners, their certificates and revocation: the registry JobForge consults on every call. */
export class RunnerRegistry {
  async create(q: Sql, r: { id: string; tenantId: string; pool: string; name: string }): Promise<void> {
    await sql('runner_create').run(q, { id: r.id, tenant_id: r.tenantId, pool: r.pool, name: r.name });
  }

  async recordCertificate(q: Sql, runnerId: string, cert: IssuedCertificate): Promise<void> {
    await sql('runner_certificate_record').run(q, {
      serial_number: cert.serialNumber.toLowerCase(),
      runner_id: runnerId,
      fingerprint256: cert.fingerprint256,
      certificate_pem: cert.certificatePem,
      not_after: cert.notAfter,
    });
  }

  async get(q: Sql, runnerId: string): Promise<RunnerRecord | undefined> {
    const res = await sql('runner_get').run<RunnerRecord>(q, { id: runnerId });
    return res.rows[0];
  }

  /**
   * The identity behind a verified runner certificate, or AUTHENTICATION errors when the runner or
   * this very certificate has been revoked. Called on every connection and every request, so a
   * revocation takes effect at once on every replica.
   */
  async authenticate(
    q: Sql,
    p: { runnerId: string; tenantId: string | undefined; pool: string | undefined; serialNumber: string },
  ): Promise<RunnerIdentity & { status: RunnerRecord['status'] }> {
    const res = await sql('runner_authenticate').run<RunnerRecord & { cert_revoked: boolean | null }>(q, {
      id: p.runnerId,
      serial_number: p.serialNumber.toLowerCase(),
    });
    const row = res.rows[0];
    // A certificate we have no record of (cert_revoked null) was not issued to this runner by us.
    if (!row || row.cert_revoked === null) throw new AppError('AUTHENTICATION_FAILED');
    if (row.status === 'revoked' || row.cert_revoked) throw new AppError('CERTIFICATE_REVOKED');
    if (row.tenant_id !== p.tenantId || row.pool !== p.pool) throw new AppError('AUTHENTICATION_FAILED');
    return {
      id: row.id,
      tenantId: row.tenant_id,
      pool: row.pool,
      jobTypes: row.job_types,
      version: row.version ?? undefined,
      status: row.status,
    };
  }

  async isCertificateUsable(q: Sql, runnerId: string, serialNumber: string): Promise<boolean> {
    const res = await sql('runner_certificate_usable').run<{ ok: boolean }>(q, { id: runnerId, serial_number: serialNumber.toLowerCase() });
    return res.rows[0]?.ok === true;
  }

  async register(q: Sql, runner: { id: string; tenantId: string }, req: RunnerRegistrationRequest): Promise<RunnerRecord> {
    const types = [...new Set(req.capabilities.flatMap((c) => c.supportedJobTypes))].sort();
    const res = await sql('runner_register').run<RunnerRecord>(q, {
      id: runner.id,
      tenant_id: runner.tenantId,
      name: req.name,
      version: req.version,
      capabilities: JSON.stringify(req.capabilities),
      job_types: types,
      tags: req.tags,
    });
    if (!res.rows[0]) throw new AppError('CERTIFICATE_REVOKED');
    return res.rows[0];
  }

  /** Records a heartbeat; a draining one also moves an active runner to 'draining' (no new work). */
  async touchHeartbeat(q: Sql, runnerId: string, draining = false): Promise<void> {
    await sql('runner_heartbeat').run(q, { id: runnerId, draining });
  }

  async list(q: Sql, tenantId: string): Promise<RunnerRecord[]> {
    const res = await sql('runner_list').run<RunnerRecord>(q, { tenant_id: tenantId });
    return res.rows;
  }

  /** Revokes the runner and every certificate it holds. */
  async revoke(q: Sql, tenantId: string, runnerId: string): Promise<RunnerRecord> {
    const res = await sql('runner_revoke').run<RunnerRecord>(q, { id: runnerId, tenant_id: tenantId });
    if (!res.rows[0]) throw new AppError('RESOURCE_NOT_FOUND', { params: { resource: 'runner' } });
    await sql('runner_revoke_certificates').run(q, { runner_id: runnerId });
    return res.rows[0];
  }
}
