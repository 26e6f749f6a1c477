import type { ControlPlaneClient, JobResponse, NewJob } from '@controlplane/client';
import { ControlPlaneError } from '@controlplane/client';

/** One job per demo handler, each showing a feature: a round trip, CPU work, progress, retries. */
export const DEMO_JOBS: readonly NewJob[] = [
  { type: 'echo', data: { hello: 'world' } },
  { type: 'primes', data: { limit: 1_000_000 } },
  { type: 'sleep', data: { ms: 1500 } },
  // Fails twice on purpose; a short backoff keeps the demo quick.
  { type: 'flaky', data: { failTimes: 2 }, retryPolicy: { maxRetries: 3, backoffMs: 200, maxBackoffMs: 1000, backoffMultiplier: 2 } },
];

export interface DemoOutcome {
  type: string;
  id: string;
  job?: JobResponse;
  error?: string;
}

/**
 * Submits the demo jobs through the gateway and waits for each, calling `report` as each one
 * finishes (they run concurrently on the runner, so they finish in their own order).
 */
export async function runDemoJobs(
  client: ControlPlaneClient,
  report: (o: DemoOutcome) => void,
  o: { signal: AbortSignal; timeoutMs?: number },
): Promise<DemoOutcome[]> {
  const submitted = await Promise.all(
    DEMO_JOBS.map((job) => client.jobs.submit({ ...job, source: 'controlplane-dev-demo' }, { signal: o.signal })),
  );
  return Promise.all(
    submitted.map(async (s): Promise<DemoOutcome> => {
      const type = s.request.type;
      let outcome: DemoOutcome;
      try {
        outcome = { type, id: s.id, job: await client.jobs.wait(s.id, { signal: o.signal, timeoutMs: o.timeoutMs ?? 60_000 }) };
      } catch (err) {
        if (o.signal.aborted) throw err;
        outcome = { type, id: s.id, error: err instanceof ControlPlaneError ? `${err.code}: ${err.message}` : String(err) };
      }
      report(outcome);
      return outcome;
    }),
  );
}

export function describeOutcome(o: DemoOutcome): string {
  if (!o.job) return `  ${o.type.padEnd(7)} ${'error'.padEnd(10)} ${o.error ?? ''}  (job ${o.id})\n`;
  const attempts = o.job.result?.metadata.attempts ?? 1;
  const result =
    o.job.result?.data !== undefined ? JSON.stringify(o.job.result.data) : o.job.error ? `${o.job.error.code}: ${o.job.error.message}` : '';
  return `  ${o.type.padEnd(7)} ${o.job.status.padEnd(10)} ${`${attempts} attempt${attempts === 1 ? '' : 's'}`.padEnd(11)} ${result}\n`;
}
