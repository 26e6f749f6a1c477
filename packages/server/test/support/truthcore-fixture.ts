// Helpers for TruthCore tests: runner identities, signed result deliveries as JobForge would send
// them, an mTLS agent for a runner certificate, and a Server-Sent Events reader.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request, type Agent } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canonicalHash, evidenceHash, type EvidencePacket } from '@controlplane/contracts';
import {
  buildSpiffeId,
  createMtlsAgent,
  issueCertificate,
  loadTlsMaterial,
  resultDigest,
  signJobResult,
  type CertificateAuthority,
} from '@controlplane/platform';

export interface RunnerIdentity {
  id: string;
  tenantId: string;
  certPem: string;
  keyPem: string;
}

/** A runner certificate as enrolment would issue it (SPIFFE runner id, subject O = tenant). */
export async function issueRunner(
  ca: CertificateAuthority,
  trustDomain: string,
  tenantId: string,
  options: { id?: string; notBefore?: Date; notAfter?: Date } = {},
): Promise<RunnerIdentity> {
  const id = options.id ?? randomUUID();
  const issued = await issueCertificate(ca, {
    spiffeId: buildSpiffeId(trustDomain, 'runner', id),
    tenantId,
    pool: 'default',
    ...(options.notBefore ? { notBefore: options.notBefore } : {}),
    ...(options.notAfter ? { notAfter: options.notAfter } : {}),
  });
  return { id, tenantId, certPem: issued.certPem, keyPem: issued.keyPem as string };
}

export interface DeliveryOptions {
  tenantId: string;
  jobId?: string;
  attempt?: number;
  fencingToken?: string;
  outcome?: 'completed' | 'failed';
  data?: unknown;
  error?: Record<string, unknown>;
  /** A failure report as the runner signed it (then the signature covers it, not the envelope). */
  failure?: Record<string, unknown>;
  evidence?: EvidencePacket;
  completedAt?: string;
}

export function errorEnvelope(message = 'handler failed'): Record<string, unknown> {
  return {
    id: randomUUID(),
    timestamp: new Date().toISOString(),
    category: 'RUNTIME_ERROR',
    severity: 'error',
    code: 'HANDLER_FAILED',
    message,
    service: 'runner',
    retryable: true,
    contractVersion: { major: 1, minor: 0, patch: 0 },
  };
}

/**
 * The body JobForge sends to POST /v1/results, signed by `signer` (normally the runner itself)
 * and naming `runner` as the runner.
 */
export function delivery(runner: RunnerIdentity, o: DeliveryOptions, signer: RunnerIdentity = runner) {
  const jobId = o.jobId ?? randomUUID();
  const attempt = o.attempt ?? 1;
  const fencingToken = o.fencingToken ?? String(1000 + attempt);
  const outcome = o.outcome ?? 'completed';
  const completedAt = o.completedAt ?? new Date().toISOString();
  // One loose shape for both outcomes: tests tamper with either field of either kind.
  const result: { success: boolean; data?: unknown; error?: Record<string, unknown>; metadata: Record<string, unknown> } =
    outcome === 'completed'
      ? {
          success: true,
          ...(o.data !== undefined ? { data: o.data } : {}),
          metadata: { completedAt, durationMs: 12, attempts: attempt, runnerId: runner.id },
        }
      : {
          success: false,
          error: o.error ?? errorEnvelope(),
          metadata: { completedAt, durationMs: 12, attempts: attempt, runnerId: runner.id },
        };
  const signed = outcome === 'completed' ? result.data : (o.failure ?? result.error);
  const signature = signJobResult(
    { jobId, tenantId: o.tenantId, attempt, fencingToken, outcome, resultDigest: resultDigest(signed) },
    signer.keyPem,
  );
  return {
    tenantId: o.tenantId,
    jobId,
    attempt,
    fencingToken,
    outcome,
    result,
    requestDigest: canonicalHash({ job: jobId }),
    submittedBy: 'apikey:submitter-1',
    runner: { id: runner.id, certificatePem: runner.certPem },
    signature,
    ...(o.failure ? { failure: o.failure } : {}),
    ...(o.evidence ? { evidence: o.evidence } : {}),
  };
}

export function evidencePacket(
  runnerId: string,
  items: EvidencePacket['items'] = [{ key: 'exit', value: 0, source: 'sandbox', redacted: false }],
): EvidencePacket {
  return { id: randomUUID(), runner: runnerId, timestamp: new Date().toISOString(), hash: evidenceHash(items), items };
}

/** An mTLS agent presenting a runner certificate to TruthCore. */
export function runnerAgentFor(caCertPem: string, runner: RunnerIdentity, trustDomain: string): { agent: Agent; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'cp-tc-runner-'));
  writeFileSync(join(dir, 'ca.crt'), caCertPem);
  writeFileSync(join(dir, 'runner.crt'), runner.certPem);
  writeFileSync(join(dir, 'runner.key'), runner.keyPem, { mode: 0o600 });
  const material = loadTlsMaterial({ caFile: join(dir, 'ca.crt'), certFile: join(dir, 'runner.crt'), keyFile: join(dir, 'runner.key') });
  const agent = createMtlsAgent(material, {
    trustDomain,
    expectedServerId: buildSpiffeId(trustDomain, 'service', 'truthcore'),
    keepAlive: true,
  });
  return {
    agent,
    cleanup() {
      agent.destroy();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface SseEvent {
  id?: string;
  event?: string;
  data: string;
}

export interface SseReader {
  status: number;
  events: SseEvent[];
  /** Resolves once `count` events in total have arrived; rejects after `timeoutMs`. */
  waitFor(count: number, timeoutMs?: number): Promise<SseEvent[]>;
  close(): void;
}

/** Opens an SSE stream and resolves once the server has sent its opening comment. */
export function openSse(url: string, agent: Agent, headers: Record<string, string>): Promise<SseReader> {
  return new Promise((resolve, reject) => {
    const events: SseEvent[] = [];
    let waiters: Array<() => void> = [];
    let buffer = '';
    let opened = false;
    const req = request(url, { agent, headers: { accept: 'text/event-stream', ...headers } }, (res) => {
      const reader: SseReader = {
        status: res.statusCode ?? 0,
        events,
        waitFor(count, timeoutMs = 5_000) {
          return new Promise((ok, fail) => {
            const check = () => {
              if (events.length >= count) {
                clearTimeout(timer);
                waiters = waiters.filter((w) => w !== check);
                ok(events.slice(0, count));
              }
            };
            const timer = setTimeout(() => {
              waiters = waiters.filter((w) => w !== check);
              fail(new Error(`expected ${count} events within ${timeoutMs} ms, got ${events.length}`));
            }, timeoutMs);
            waiters.push(check);
            check();
          });
        },
        close() {
          req.destroy();
        },
      };
      if (reader.status !== 200) {
        res.resume();
        resolve(reader);
        return;
      }
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          if (block.startsWith(':')) {
            if (!opened && block.includes('stream open')) {
              opened = true;
              resolve(reader);
            }
            continue;
          }
          const ev: SseEvent = { data: '' };
          for (const line of block.split('\n')) {
            const i = line.indexOf(':');
            const field = line.slice(0, i);
            const value = line.slice(i + 1).replace(/^ /, '');
            if (field === 'id') ev.id = value;
            else if (field === 'event') ev.event = value;
            else if (field === 'data') ev.data += value;
          }
          events.push(ev);
          for (const w of [...waiters]) w();
        }
      });
      res.on('error', () => undefined);
    });
    req.on('error', (err) => {
      if (!opened) reject(err);
    });
    req.end();
  });
}
