// BullMQ with the same workload as ControlPlane's benchmark, on the same Redis: drain a
// pre-added backlog, latency at a steady rate (after the same warm-up), and a manual worker's
// getNextJob at a small and a big backlog.
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { pct, round } from './stats.mjs';

export async function benchBullmq({
  redisUrl: REDIS_URL,
  drainJobs: DRAIN_JOBS,
  rate: STEADY_RATE,
  warmupSeconds: WARMUP_SECONDS,
  steadySeconds: STEADY_SECONDS,
  bigBacklog: BIG_BACKLOG,
  log,
}) {
  const results = {};
  const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  // A Worker does not close a connection it was handed: each is kept here and quit at the end.
  const workerConnections = [];
  const workerConnection = () => {
    const c = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    workerConnections.push(c);
    return c;
  };
  const bullPrefix = `bench-bull-${process.pid}`;
  const name = 'noop';
  const queue = new Queue(name, { connection, prefix: bullPrefix });
  const addBacklog = async (n) => {
    for (let i = 0; i < n; i += 1000)
      await queue.addBulk(
        Array.from({ length: Math.min(1000, n - i) }, () => ({ name, data: { n: 1 }, opts: { removeOnComplete: true } })),
      );
  };

  // drain
  await addBacklog(DRAIN_JOBS);
  let done = 0;
  const drainStart = performance.now();
  const drainWorker = new Worker(name, async () => null, { connection: workerConnection(), prefix: bullPrefix, concurrency: 200 });
  drainWorker.on('completed', () => done++);
  while (done < DRAIN_JOBS) await sleep(10);
  results.bullmq_drain_jobs_per_s = round(DRAIN_JOBS / ((performance.now() - drainStart) / 1000), 0);
  await drainWorker.close();
  log(`bullmq drained at ${results.bullmq_drain_jobs_per_s} jobs/s`);

  // latency at a steady rate
  // The same warm-up as ControlPlane's: jobs added in its first WARMUP_SECONDS are not counted.
  const lat = [];
  let finished = 0;
  const begin = performance.now();
  const measuredFrom = performance.timeOrigin + begin + WARMUP_SECONDS * 1000;
  const worker = new Worker(name, async (job) => job.data.t, { connection: workerConnection(), prefix: bullPrefix, concurrency: 100 });
  worker.on('completed', (job) => {
    finished++;
    if (job.data.at >= measuredFrom) lat.push(performance.timeOrigin + performance.now() - job.data.at);
  });
  const total = STEADY_RATE * (WARMUP_SECONDS + STEADY_SECONDS);
  let sent = 0;
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - begin) / 1000) * STEADY_RATE) + STEADY_RATE / 100);
    const adds = [];
    while (sent < due) {
      adds.push(queue.add(name, { at: performance.timeOrigin + performance.now() }, { removeOnComplete: true }));
      sent++;
    }
    await Promise.all(adds);
    await sleep(10);
  }
  const deadline = performance.now() + 30_000;
  while (finished < total && performance.now() < deadline) await sleep(20);
  await worker.close();
  results.bullmq_latency_p50_ms = round(pct(lat, 50));
  results.bullmq_latency_p99_ms = round(pct(lat, 99));
  log(`bullmq steady: p50 ${results.bullmq_latency_p50_ms} ms, p99 ${results.bullmq_latency_p99_ms} ms`);

  // claim latency vs backlog: a manual worker's getNextJob
  const manual = new Worker(name, null, { connection: workerConnection(), prefix: bullPrefix });
  const bullClaim = async () => {
    const xs = [];
    for (let i = 0; i < 300; i++) {
      const token = randomUUID();
      const t = performance.now();
      const job = await manual.getNextJob(token, { block: false });
      xs.push(performance.now() - t);
      if (job) await job.moveToCompleted(null, token, false);
    }
    return round(pct(xs, 50), 3);
  };
  await addBacklog(1_000);
  results.bullmq_claim_p50_ms_backlog_1k = await bullClaim();
  await addBacklog(BIG_BACKLOG - 700);
  results.bullmq_claim_p50_ms_backlog_100k = await bullClaim();
  log(`bullmq claim p50: ${results.bullmq_claim_p50_ms_backlog_1k} ms at 1k, ${results.bullmq_claim_p50_ms_backlog_100k} ms at 100k`);
  await manual.close();
  await queue.obliterate({ force: true });
  await queue.close();
  await connection.quit();
  for (const c of workerConnections) await c.quit();
  return results;
}
