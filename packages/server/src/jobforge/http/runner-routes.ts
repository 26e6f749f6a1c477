import {
  AppError,
  ClaimRequest,
  CompleteRequest,
  FailRequest,
  HeartbeatRequest,
  OutcomeBatchRequest,
  ProgressRequest,
  ReleaseRequest,
  RenewRequest,
  RunnerRegistrationRequest,
  isTenantId,
  parseOrThrow,
  toAppError,
  type OutcomeAckBody,
  type RegisterResponse,
} from '@controlplane/contracts';
import { createPrivateKey, type KeyObject } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import type { FastifyRequest } from 'fastify';
import { signJobEnvelopes, verifyJobResult, type EnvelopeSignatureFields } from '@controlplane/platform';
import { peerPrincipal, type HttpApp } from '../../http/index.js';
import type { Database } from '../../storage/index.js';
import type { EnrolmentService } from '../enrolment.js';
import type { JobEnvelope } from '../job-envelope.js';
import type { JobLifecycle, ResultProof, RunnerIdentity } from '../lifecycle/index.js';
import type { RunnerRecord, RunnerRegistry } from '../runner-registry.js';
import { registerDispatchStream, type DispatchStreams } from './dispatch-stream.js';
import { enterTenant } from '../../storage/internal.js';

export interface RunnerRouteDeps {
  db: Database;
  jobs: JobLifecycle;
  registry: RunnerRegistry;
  enrolment: EnrolmentService;
  dispatchStreams: DispatchStreams;
  heartbeatIntervalMs: number;
  /** JobForge's service certificate and key: envelopes are signed with it. */
  signingCertificatePem: string;
  signingKeyPem: string;
}

export function envelopeSignatureFields(e: JobEnvelope): EnvelopeSignatureFields {
  return {
    jobId: e.jobId,
    tenantId: e.tenantId,
    type: e.type,
    attempt: e.attempt,
    leaseId: e.leaseId,
    fencingToken: e.fencingToken,
    payloadDigest: e.payloadDigest ?? '',
    deadline: e.deadline,
  };
}

/**
 * A check of a runner's outcome signature against the certificate it presented on this very
 * connection (already verified to chain to our CA and to be this runner's).
 */
const peerKeys = new WeakMap<TLSSocket, { fingerprint: string; key: KeyObject }>();

function proofFrom(req: FastifyRequest, signature: string | undefined): ResultProof | undefined {
  if (!signature) return undefined;
  const socket = req.raw.socket as TLSSocket;
  // Parsed once per connection, and the same key object every time: batch signatures are
  // verified once per batch and remembered per key object.
  let peer = peerKeys.get(socket);
  if (!peer) {
    const cert = socket.getPeerX509Certificate?.();
    if (!cert) return undefined;
    peer = { fingerprint: cert.fingerprint256, key: cert.publicKey };
    peerKeys.set(socket, peer);
  }
  const { fingerprint, key } = peer;
  return { signature, certFingerprint: fingerprint, verify: (fields) => verifyJobResult(fields, key, signature) };
}

const JobIdParam = (req: FastifyRequest) => {
  const id = (req.params as { id?: string }).id ?? '';
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)) {
    throw new AppError('VALIDATION_FAILED', { details: [{ path: ['params', 'id'], message: 'must be a UUID' }] });
  }
  return id;
};

export function registerRunnerRoutes(app: HttpApp, deps: RunnerRouteDeps): void {
  // Parsed once: a PEM string would be re-parsed on every signature.
  const signingKey = createPrivateKey(deps.signingKeyPem);
  async function runner(req: FastifyRequest): Promise<RunnerIdentity & { status: RunnerRecord['status'] }> {
    const p = peerPrincipal(req);
    if (p.kind !== 'runner') throw new AppError('FORBIDDEN');
    // The certificate names the runner's tenant; the registry then checks it against the record.
    if (!isTenantId(p.tenantId)) throw new AppError('FORBIDDEN');
    enterTenant(p.tenantId);
    const identity = await deps.registry.authenticate(deps.db, {
      runnerId: p.id,
      tenantId: p.tenantId,
      pool: p.pool,
      serialNumber: p.serialNumber,
    });
    req.ctx.principal = { kind: 'runner', id: identity.id, tenantId: identity.tenantId };
    return { ...identity, certificateSerial: p.serialNumber };
  }

  app.post('/runner/v1/register', { config: { audit: 'runner.registered' } }, async (req): Promise<RegisterResponse> => {
    const r = await runner(req);
    const body = parseOrThrow(RunnerRegistrationRequest, req.body);
    const rec = await deps.registry.register(deps.db, r, body);
    return {
      runnerId: rec.id,
      tenantId: rec.tenant_id,
      pool: rec.pool,
      jobTypes: rec.job_types,
      leaseMs: deps.jobs.runners.leaseMs,
      heartbeatIntervalMs: deps.heartbeatIntervalMs,
      jobforgeCertificatePem: deps.signingCertificatePem,
    };
  });

  registerDispatchStream(app, { jobs: deps.jobs, signingKey, envelopeFields: envelopeSignatureFields, runner }, deps.dispatchStreams);

  app.post('/runner/v1/claim', async (req, reply) => {
    const r = await runner(req);
    const body = parseOrThrow(ClaimRequest, req.body ?? {});
    // A client that goes away ends its long-poll. The response's 'close' before it has ended is
    // the signal (the request's own 'close' only means its body was read).
    const abort = new AbortController();
    const res = reply.raw;
    const onClose = () => {
      if (!res.writableEnded) abort.abort();
    };
    res.once('close', onClose);
    try {
      // A draining runner gets nothing; and since every lease re-checks the runner's state in its
      // own statement, neither does a long-poll opened before the drain began.
      if (r.status === 'draining') return { jobs: [] };
      const jobs = await deps.jobs.runners.claim(r, {
        max: body.max,
        waitMs: body.waitMs,
        types: body.types,
        signal: abort.signal,
      });
      if (abort.signal.aborted && jobs.length > 0) {
        // The runner hung up while we were leasing: nobody will receive these, so hand them back
        // now rather than leaving them to wait out their leases.
        await Promise.allSettled(
          jobs.map((j) => deps.jobs.runners.release(r, { jobId: j.jobId, leaseId: j.leaseId, fencingToken: j.fencingToken })),
        );
        return { jobs: [] };
      }
      if (jobs.length === 0) return { jobs };
      return { jobs, signature: signJobEnvelopes(jobs.map(envelopeSignatureFields), signingKey) };
    } finally {
      res.off('close', onClose);
    }
  });

  app.post('/runner/v1/heartbeat', async (req) => {
    const r = await runner(req);
    const body = parseOrThrow(HeartbeatRequest, req.body);
    if (body.heartbeat.runnerId !== r.id)
      throw new AppError('FORBIDDEN', { details: [{ path: ['heartbeat', 'runnerId'], message: 'is not the runner of this certificate' }] });
    const draining = body.heartbeat.status === 'draining';
    await deps.registry.touchHeartbeat(deps.db, r.id, draining);
    const res = await deps.jobs.runners.heartbeat(r, body.leases, { draining });
    return { cancel: res.cancel, lost: res.lost, leaseExpiresAt: res.leaseExpiresAt };
  });

  app.post('/runner/v1/jobs/:id/progress', async (req) => {
    const r = await runner(req);
    const body = parseOrThrow(ProgressRequest, req.body);
    return deps.jobs.runners.progress(
      r,
      { jobId: JobIdParam(req), leaseId: body.leaseId, fencingToken: body.fencingToken },
      { pct: body.pct, message: body.message },
    );
  });

  app.post('/runner/v1/jobs/:id/complete', async (req) => {
    const r = await runner(req);
    const body = parseOrThrow(CompleteRequest, req.body);
    return deps.jobs.runners.complete(
      r,
      { jobId: JobIdParam(req), leaseId: body.leaseId, fencingToken: body.fencingToken },
      { data: body.data, startedAt: body.startedAt, proof: proofFrom(req, body.signature), attempt: body.attempt, type: body.type },
    );
  });

  app.post('/runner/v1/jobs/:id/fail', async (req) => {
    const r = await runner(req);
    const body = parseOrThrow(FailRequest, req.body);
    return deps.jobs.runners.fail(
      r,
      { jobId: JobIdParam(req), leaseId: body.leaseId, fencingToken: body.fencingToken },
      body.error,
      proofFrom(req, body.signature),
    );
  });

  app.post('/runner/v1/jobs/:id/release', async (req) => {
    const r = await runner(req);
    const body = parseOrThrow(ReleaseRequest, req.body);
    return deps.jobs.runners.release(r, { jobId: JobIdParam(req), leaseId: body.leaseId, fencingToken: body.fencingToken });
  });

  // A flow child's handler reads its parents' results while it holds the child's lease (the lease,
  // runner and token are checked by the read itself; anyone else gets LEASE_NOT_HELD).
  app.post('/runner/v1/jobs/:id/parents', async (req) => {
    const r = await runner(req);
    const body = parseOrThrow(ReleaseRequest, req.body);
    const parents = await deps.jobs.flows.parentResults(r, {
      jobId: JobIdParam(req),
      leaseId: body.leaseId,
      fencingToken: body.fencingToken,
    });
    return {
      parents: parents.map((p) => ({ id: p.id, type: p.type, status: p.status, result: p.result ?? null, error: p.error ?? null })),
    };
  });

  app.post('/runner/v1/outcomes', async (req) => {
    const r = await runner(req);
    const body = parseOrThrow(OutcomeBatchRequest, req.body);
    const results: OutcomeAckBody[] = [];
    const settle = async (jobId: string, fn: () => Promise<{ status: string; duplicate: boolean }>) => {
      try {
        const ack = await fn();
        results.push({ jobId, ok: true, status: ack.status, duplicate: ack.duplicate });
      } catch (err) {
        const e = toAppError(err);
        if (e.code === 'INTERNAL') throw err;
        results.push({ jobId, ok: false, code: e.code });
      }
    };
    const acks = await deps.jobs.runners.completeMany(
      r,
      body.completions.map((c) => ({
        ref: { jobId: c.jobId, leaseId: c.leaseId, fencingToken: c.fencingToken },
        data: c.data,
        startedAt: c.startedAt,
        proof: proofFrom(req, c.signature),
        attempt: c.attempt,
        type: c.type,
      })),
    );
    for (const a of acks) {
      if ('error' in a) {
        const e = toAppError(a.error);
        if (e.code === 'INTERNAL') throw a.error;
        results.push({ jobId: a.jobId, ok: false, code: e.code });
      } else results.push({ jobId: a.jobId, ok: true, status: a.status, duplicate: a.duplicate });
    }
    for (const f of body.failures) await settle(f.jobId, () => deps.jobs.runners.fail(r, f, f.error, proofFrom(req, f.signature)));
    return { results };
  });

  app.post('/runner/v1/renew', { config: { audit: 'runner.certificate_renewed' } }, async (req) => {
    const r = await runner(req);
    const body = parseOrThrow(RenewRequest, req.body);
    return deps.enrolment.renew(r, body.csr);
  });
}
