// Push dispatch: a runner keeps one stream open and JobForge sends it leases as jobs become ready
// and as the runner has room for them, instead of the runner asking again for every job.
//
//   POST /runner/v1/dispatch   content-type: application/x-ndjson   (the body stays open)
//   runner → JobForge, one JSON object a line: { "credits": n, "types"?: [...] } first, then
//                       { "credits": n } each time n more slots are free (credit-based flow control:
//                       JobForge never has more leases in flight to the runner than it was given)
//   JobForge → runner, one JSON object a line: { "jobs": [...], "signature": "…" } — a signed lease
//                       batch exactly as a claim answers it — or {} to keep an idle stream alive
//
// Leases, fencing tokens, signed envelopes and outcomes are unchanged (outcomes are reported with
// the ordinary outcome routes). A stream that drops loses nothing: the leases it carried are held by
// the runner, which completes them, lists them in its heartbeats, or lets them expire. Like a watch
// stream of the Kubernetes API, the messages are JSON lines on one HTTP exchange.
import { AppError, JobType, parseOrThrow } from '@controlplane/contracts';
import { signJobEnvelopes } from '@controlplane/platform';
import type { KeyObject } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyRequest, FastifyReply } from 'fastify';
import { z } from 'zod';
import type { HttpApp } from '../../http/index.js';
import type { JobEnvelope } from '../job-envelope.js';
import type { JobLifecycle, RunnerIdentity } from '../lifecycle/index.js';
import type { RunnerRecord } from '../runner-registry.js';

export const DISPATCH_CONTENT_TYPE = 'application/x-ndjson';
/** A line from the runner is small; anything longer is not a credit message. */
const MAX_LINE_BYTES = 16 * 1024;
/** More credits than this at once is not a runner's slot count but a mistake (or an attack). */
const MAX_CREDITS = 500;
/** How long one lease attempt waits for work before the stream says it is alive and checks the runner again. */
const IDLE_MS = 15_000;

/** An empty answer sooner than this means nothing can be leased now, rather than that nothing came. */
const EARLY_EMPTY_MS = 1_000;

const CreditLine = z.object({
  credits: z.number().int().min(0).max(MAX_CREDITS),
  types: z.array(JobType).max(256).optional(),
});

export interface DispatchDeps {
  jobs: JobLifecycle;
  signingKey: KeyObject;
  envelopeFields: (e: JobEnvelope) => Parameters<typeof signJobEnvelopes>[0][number];
  /** The calling runner, authenticated (and re-checked: revoked or draining ends the stream). */
  runner: (req: FastifyRequest) => Promise<RunnerIdentity & { status: RunnerRecord['status'] }>;
}

/** The open dispatch streams of this replica, so that revoking a runner ends its stream at once. */
export class DispatchStreams {
  readonly #byRunner = new Map<string, Set<() => void>>();

  add(runnerId: string, end: () => void): () => void {
    let set = this.#byRunner.get(runnerId);
    if (!set) this.#byRunner.set(runnerId, (set = new Set()));
    set.add(end);
    return () => {
      set.delete(end);
      if (set.size === 0) this.#byRunner.delete(runnerId);
    };
  }

  /** Ends every stream of the runner (it was revoked). */
  end(runnerId: string): void {
    for (const end of [...(this.#byRunner.get(runnerId) ?? [])]) end();
  }

  /** Ends them all (shutdown). */
  endAll(): void {
    for (const set of [...this.#byRunner.values()]) for (const end of [...set]) end();
  }
}

export function registerDispatchStream(app: HttpApp, deps: DispatchDeps, streams: DispatchStreams): void {
  // The body is read as a stream by the route, line by line, for as long as the runner keeps it open.
  app.addContentTypeParser(DISPATCH_CONTENT_TYPE, (_req, _payload, done) => done(null, undefined));
  app.post('/runner/v1/dispatch', async (req, reply) => {
    const r = await deps.runner(req);
    if (r.status === 'draining')
      throw new AppError('INVALID_STATE', { params: { resource: 'runner', state: 'draining', expected: 'active' } });
    await serve(req, reply, r, deps, streams);
  });
}

async function serve(
  req: FastifyRequest,
  reply: FastifyReply,
  runner: RunnerIdentity,
  deps: DispatchDeps,
  streams: DispatchStreams,
): Promise<void> {
  const gone = new AbortController();
  let credits = 0;
  let types: readonly string[] | undefined;
  let wake: (() => void) | undefined;
  const woken = () => new Promise<void>((resolve) => (wake = resolve));
  const stop = (): void => {
    if (!gone.signal.aborted) gone.abort();
    wake?.();
  };

  // Credits from the runner, as lines of the request body.
  let pending = '';
  let first = true;
  req.raw.setEncoding('utf8');
  req.raw.on('data', (chunk: string) => {
    pending += chunk;
    if (pending.length > MAX_LINE_BYTES && !pending.includes('\n')) return stop();
    for (let nl = pending.indexOf('\n'); nl !== -1; nl = pending.indexOf('\n')) {
      const line = pending.slice(0, nl).trim();
      pending = pending.slice(nl + 1);
      if (!line) continue;
      let msg: z.infer<typeof CreditLine>;
      try {
        msg = parseOrThrow(CreditLine, JSON.parse(line));
      } catch {
        return stop();
      }
      if (first) types = msg.types;
      first = false;
      credits = Math.min(MAX_CREDITS, credits + msg.credits);
      wake?.();
    }
  });
  req.raw.once('end', stop);
  req.raw.once('error', stop);

  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, { 'content-type': DISPATCH_CONTENT_TYPE, 'cache-control': 'no-store', 'x-correlation-id': req.id });
  res.once('close', stop);
  const forget = streams.add(runner.id, () => {
    stop();
    res.destroy();
  });
  const write = async (line: string): Promise<boolean> => {
    if (gone.signal.aborted) return false;
    if (!res.write(`${line}\n`)) await new Promise<void>((resolve) => res.once('drain', resolve).once('close', resolve));
    return !gone.signal.aborted;
  };

  try {
    while (!gone.signal.aborted) {
      if (credits <= 0) {
        await woken();
        continue;
      }
      const asked = Date.now();
      const jobs = await deps.jobs.runners.claim(runner, { max: credits, waitMs: IDLE_MS, types, signal: gone.signal });
      if (jobs.length > 0) {
        credits -= jobs.length;
        const line = JSON.stringify({ jobs, signature: signJobEnvelopes(jobs.map(deps.envelopeFields), deps.signingKey) });
        if (!(await write(line))) {
          // Nobody will receive these: hand them back rather than leaving them to wait out their leases.
          await Promise.allSettled(
            jobs.map((j) => deps.jobs.runners.release(runner, { jobId: j.jobId, leaseId: j.leaseId, fencingToken: j.fencingToken })),
          );
        }
        continue;
      }
      if (gone.signal.aborted) break;
      // Nothing for a while, or the runner may no longer be given work: look at it again. A runner
      // that was revoked or began to drain (on this replica or another) has its stream ended.
      const current = await deps.runner(req).catch(() => undefined);
      if (!current || current.status === 'draining') break;
      // An attempt that came back empty at once (none of the asked-for types is registered, or the
      // tenant is at its quota) is not retried in a tight loop.
      if (Date.now() - asked < EARLY_EMPTY_MS) await sleep(EARLY_EMPTY_MS, undefined, { signal: gone.signal }).catch(() => undefined);
      await write('{}');
    }
  } finally {
    forget();
    stop();
    if (!res.writableEnded) res.end();
  }
}
