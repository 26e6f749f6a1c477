import { AppError, type RunnerRegistrationRequest } from '@controlplane/contracts';
import type { Sql } from '../storage/index.js';
import type { RunnerIdentity } from './lifecycle.js';

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

const RUNNER_COLUMNS = 'id, tenant_id, pool, name, version, job_types, tags, status, last_heartbeat_at, revoked_at, created_at';

export interface IssuedCertificate {
  serialNumber: string;
  fingerprint256: string;
  certificatePem: string;
  notAfter: Date;
}

/** Runners, their certificates and revocation: the registry JobForge consults on every call. */
export class RunnerRegistry {
  async create(q: Sql, r: { id: string; tenantId: string; pool: string; name: string }): Promise<void> {
    await q.query(`insert into runners (id, tenant_id, pool, name) values ($1, $2, $3, $4)`, [r.id, r.tenantId, r.pool, r.name]);
  }

  async recordCertificate(q: Sql, runnerId: string, cert: IssuedCertificate): Promise<void> {
    await q.query(
      `insert into runner_certificates (serial_number, runner_id, fingerprint256, certificate_pem, not_after) values ($1, $2, $3, $4, $5)`,
      [cert.serialNumber.toLowerCase(), runnerId, cert.fingerprint256, cert.certificatePem, cert.notAfter],
    );
  }

  async get(q: Sql, runnerId: string): Promise<RunnerRecord | undefined> {
    const res = await q.query<RunnerRecord>(`select ${RUNNER_COLUMNS} from runners where id = $1`, [runnerId]);
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
    const res = await q.query<RunnerRecord & { cert_revoked: boolean | null }>(
      `select r.${RUNNER_COLUMNS.split(', ').join(', r.')}, (c.revoked_at is not null) as cert_revoked
         from runners r left join runner_certificates c on c.runner_id = r.id and c.serial_number = $2
        where r.id = $1`,
      [p.runnerId, p.serialNumber.toLowerCase()],
    );
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
    const res = await q.query<{ ok: boolean }>(
      `select (r.status <> 'revoked' and c.revoked_at is null) as ok
         from runners r join runner_certificates c on c.runner_id = r.id
        where r.id = $1 and c.serial_number = $2`,
      [runnerId, serialNumber.toLowerCase()],
    );
    return res.rows[0]?.ok === true;
  }

  async register(q: Sql, runner: { id: string; tenantId: string }, req: RunnerRegistrationRequest): Promise<RunnerRecord> {
    const types = [...new Set(req.capabilities.flatMap((c) => c.supportedJobTypes))].sort();
    const res = await q.query<RunnerRecord>(
      `update runners set name = $3, version = $4, capabilities = $5, job_types = $6, tags = $7, status = 'active', updated_at = now()
        where id = $1 and tenant_id = $2 and status <> 'revoked' returning ${RUNNER_COLUMNS}`,
      [runner.id, runner.tenantId, req.name, req.version, JSON.stringify(req.capabilities), types, req.tags],
    );
    if (!res.rows[0]) throw new AppError('CERTIFICATE_REVOKED');
    return res.rows[0];
  }

  /** Records a heartbeat; a draining one also moves an active runner to 'draining' (no new work). */
  async touchHeartbeat(q: Sql, runnerId: string, draining = false): Promise<void> {
    await q.query(
      `update runners set last_heartbeat_at = now(),
              status = case when $2 and status = 'active' then 'draining' else status end
        where id = $1`,
      [runnerId, draining],
    );
  }

  async list(q: Sql, tenantId: string): Promise<RunnerRecord[]> {
    const res = await q.query<RunnerRecord>(`select ${RUNNER_COLUMNS} from runners where tenant_id = $1 order by created_at, id`, [
      tenantId,
    ]);
    return res.rows;
  }

  /** Revokes the runner and every certificate it holds. */
  async revoke(q: Sql, tenantId: string, runnerId: string): Promise<RunnerRecord> {
    const res = await q.query<RunnerRecord>(
      `update runners set status = 'revoked', revoked_at = coalesce(revoked_at, now()), updated_at = now()
        where id = $1 and tenant_id = $2 returning ${RUNNER_COLUMNS}`,
      [runnerId, tenantId],
    );
    if (!res.rows[0]) throw new AppError('RESOURCE_NOT_FOUND', { params: { resource: 'runner' } });
    await q.query(`update runner_certificates set revoked_at = coalesce(revoked_at, now()) where runner_id = $1`, [runnerId]);
    return res.rows[0];
  }
}
