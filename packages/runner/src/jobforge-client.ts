import type { Agent } from 'node:https';
import {
  ClaimResponse,
  HeartbeatResponse,
  OutcomeBatchResponse,
  RegisterResponse,
  EnrollResponse,
  parseOrThrow,
  type ClaimRequest,
  type CompleteRequest,
  type FailRequest,
  type HeartbeatRequest,
  type LeaseRef,
  type OutcomeAckBody,
  type OutcomeBatchRequest,
  type RunnerRegistrationRequestInput,
} from '@controlplane/contracts';
import { buildSpiffeId, createMtlsAgent, expectOk, requestJson, type TlsMaterial } from '@controlplane/platform';
import { openDispatchStream, type DispatchHandlers, type DispatchStream } from './dispatch-stream.js';

/** The runner side of the JobForge runner protocol, over mTLS with the runner's certificate. */
export class JobforgeClient {
  readonly #agent: Agent;

  constructor(
    private readonly url: string,
    material: TlsMaterial,
    trustDomain: string,
  ) {
    this.#agent = createMtlsAgent(material, {
      trustDomain,
      expectedServerId: buildSpiffeId(trustDomain, 'service', 'jobforge'),
      keepAlive: true,
      maxSockets: 16,
    });
  }

  async #post<T>(path: string, body: unknown, timeoutMs = 15_000, signal?: AbortSignal): Promise<T> {
    const res = await requestJson({
      url: `${this.url}${path}`,
      method: 'POST',
      body,
      agent: this.#agent,
      timeoutMs,
      ...(signal ? { signal } : {}),
    });
    return expectOk<T>(res);
  }

  async register(req: RunnerRegistrationRequestInput): Promise<RegisterResponse> {
    return parseOrThrow(RegisterResponse, await this.#post('/runner/v1/register', req));
  }

  async claim(req: Partial<ClaimRequest>, signal?: AbortSignal): Promise<ClaimResponse> {
    // The server holds a long-poll up to waitMs; allow it that long plus the network.
    return parseOrThrow(ClaimResponse, await this.#post('/runner/v1/claim', req, (req.waitMs ?? 0) + 15_000, signal));
  }

  async heartbeat(req: HeartbeatRequest): Promise<HeartbeatResponse> {
    return parseOrThrow(HeartbeatResponse, await this.#post('/runner/v1/heartbeat', req));
  }

  async progress(ref: LeaseRef, pct: number | undefined, message?: string): Promise<{ cancel: boolean }> {
    return this.#post(`/runner/v1/jobs/${ref.jobId}/progress`, {
      leaseId: ref.leaseId,
      fencingToken: ref.fencingToken,
      ...(pct !== undefined ? { pct } : {}),
      ...(message ? { message } : {}),
    });
  }

  /** The results of the parents of a flow job this runner holds the lease of. */
  async parentResults(
    ref: LeaseRef,
  ): Promise<{ parents: Array<{ id: string; type: string; status: string; result: unknown; error: unknown }> }> {
    return this.#post(`/runner/v1/jobs/${ref.jobId}/parents`, { leaseId: ref.leaseId, fencingToken: ref.fencingToken });
  }

  async complete(jobId: string, req: CompleteRequest): Promise<{ status: string; duplicate: boolean }> {
    return this.#post(`/runner/v1/jobs/${jobId}/complete`, req);
  }

  async fail(jobId: string, req: FailRequest): Promise<{ status: string; duplicate: boolean }> {
    return this.#post(`/runner/v1/jobs/${jobId}/fail`, req);
  }

  /** Many outcomes in one call; each is accepted or refused on its own. */
  async outcomes(req: {
    completions: OutcomeBatchRequest['completions'];
    failures: OutcomeBatchRequest['failures'];
  }): Promise<{ results: OutcomeAckBody[] }> {
    return parseOrThrow(OutcomeBatchResponse, await this.#post('/runner/v1/outcomes', req));
  }

  async release(ref: LeaseRef): Promise<{ status: string }> {
    return this.#post(`/runner/v1/jobs/${ref.jobId}/release`, { leaseId: ref.leaseId, fencingToken: ref.fencingToken });
  }

  async renew(csrPem: string): Promise<EnrollResponse> {
    return parseOrThrow(EnrollResponse, await this.#post('/runner/v1/renew', { csr: csrPem }));
  }

  /** Opens a push-dispatch stream with `credits` free slots (dispatch-stream.ts). */
  openDispatch(credits: number, handlers: DispatchHandlers): DispatchStream {
    return openDispatchStream({ url: this.url, agent: this.#agent, credits }, handlers);
  }

  close(): void {
    this.#agent.destroy();
  }
}
