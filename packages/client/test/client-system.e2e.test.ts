// The client against a running system: gateway, JobForge and TruthCore assembled by the compose
// module exactly as `controlplane dev` does (embedded PGlite, mTLS between services), with a real
// runner enrolled through a join token the client created. Signed operations, typed refusals, the
// event stream and a real 429 from the gateway that the client waits out.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AuthenticationError,
  ControlPlaneClient,
  NotFoundError,
  PermissionDeniedError,
  RateLimitedError,
  type RetryNotice,
} from '@controlplane/client';
import { createLogger, generateSigningKeyPair, loadConfig } from '@controlplane/platform';
import { DEMO_HANDLERS_MODULE, enrollRunner, RunnerAgent } from '@controlplane/runner';
import {
  asSystem,
  createApiKey,
  createBootstrapAdminKey,
  ensureDevPki,
  ensureTenant,
  startSystem,
  type DevPki,
  type RunningSystem,
} from '@controlplane/server';

const silent = (service: string) => createLogger({ service, level: 'silent' });

describe('client against a running system', () => {
  let dir: string;
  let pki: DevPki;
  let system: RunningSystem;
  let runner: RunnerAgent;
  let admin: ControlPlaneClient;
  let platform: ControlPlaneClient;
  const clients: ControlPlaneClient[] = [];

  const clientFor = (
    key: { key: string; id: string; signingPrivateKeyPem?: string | undefined },
    extra: Partial<ConstructorParameters<typeof ControlPlaneClient>[0]> = {},
  ) => {
    const c = new ControlPlaneClient({
      url: system.gateway.url,
      ca: pki.ca.certPem,
      apiKey: key.key,
      ...(key.signingPrivateKeyPem ? { signingKey: { keyId: key.id, privateKey: key.signingPrivateKeyPem } } : {}),
      ...extra,
    });
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cp-client-system-'));
    const config = loadConfig({
      env: {},
      flags: {
        dataDir: dir,
        'gateway.listen.port': 0,
        'jobforge.listen.port': 0,
        'truthcore.listen.port': 0,
        'jobforge.enrollListen.port': 0,
      },
    });
    pki = await ensureDevPki(config);
    system = await startSystem({ config, pki, loggerFor: silent });
    await ensureTenant(system.db, { id: 'dev', name: 'Development' });
    admin = clientFor(await createBootstrapAdminKey(system.db, 'dev', 'test admin'));
    // An operator's act, outside any request: it names the system scope, as the CLI's bootstrap does.
    platform = clientFor(
      await asSystem('test: platform admin key', () =>
        createApiKey(system.db, { tenantId: 'system', role: 'admin', name: 'platform admin' }),
      ),
    );
    const token = await admin.joinTokens.create({ ttlSeconds: 120 });
    expect(token.token).toMatch(/^cpjt_/);
    await enrollRunner({
      joinToken: token.token,
      enrollUrl: system.jobforge.enrollUrl,
      caFile: join(pki.dir, 'ca.crt'),
      dir: join(dir, 'runner'),
      name: 'client-test',
    });
    runner = new RunnerAgent({
      dir: join(dir, 'runner'),
      handlersModule: DEMO_HANDLERS_MODULE,
      logger: silent('runner'),
      drainTimeoutMs: 1_000,
    });
    await runner.start();
  });

  afterAll(async () => {
    for (const c of clients) c.close();
    await runner?.stop();
    await system?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reports the gateway healthy without a key', async () => {
    const health = await admin.health();
    expect(health).toMatchObject({ status: 'healthy', service: 'gateway' });
    expect(health.checks.map((c) => c.name).sort()).toEqual(['audit-checkpoints', 'database', 'jobforge', 'truthcore']);
  });

  it('submits a job, waits for it through the event stream, and reads it back', async () => {
    const seen: string[] = [];
    const submitted = await admin.jobs.submit({ type: 'echo', data: { hello: 'client' } });
    expect(submitted.status).toBe('queued');
    const done = await admin.jobs.wait(submitted.id, { timeoutMs: 20_000, onEvent: (e) => seen.push(e.type) });
    expect(done.status).toBe('completed');
    expect(done.result?.data).toEqual({ hello: 'client' });
    expect(seen[seen.length - 1]).toBe('job.completed');
    expect(seen).toContain('job.started');

    // A finished job's stream replays from the start and ends on its own.
    const replay = [];
    for await (const e of admin.jobs.events(submitted.id)) replay.push(e);
    expect(replay.map((e) => e.type)).toEqual(seen);
    expect(replay[0]!.type).toBe('job.created');
    const seqs = replay.map((e) => Number(e.seq));
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));

    // The same request again is idempotent (a retried submission cannot create a second job)...
    const again = await admin.jobs.submit(submitted.request);
    expect(again.id).toBe(submitted.id);
    // ...while another request under the same id is a conflict.
    await expect(admin.jobs.submit({ id: submitted.id, type: 'echo', data: { other: true } })).rejects.toMatchObject({
      status: 409,
      code: 'IDEMPOTENCY_CONFLICT',
    });
    const page = await admin.jobs.list({ type: 'echo', limit: 10 });
    expect(page.jobs.filter((j) => j.id === submitted.id)).toHaveLength(1);
    expect(await admin.jobs.attempts(submitted.id)).toHaveLength(1);
    await expect(admin.jobs.get(randomUUID())).rejects.toBeInstanceOf(NotFoundError);
  });

  it('signs critical operations: cancel, job-type contracts, keys; a wrong signing key is refused', async () => {
    const parked = await admin.jobs.submit({ type: 'nobody.serves.this', data: {} });
    const cancelled = await admin.jobs.cancel(parked.id);
    expect(cancelled.status).toBe('cancelled');
    const events = [];
    for await (const e of admin.jobs.events(parked.id)) events.push(e.type);
    expect(events[events.length - 1]).toBe('job.cancelled');

    const contract = await admin.jobTypes.put('primes', { inputSchema: { type: 'object', required: ['limit'] } });
    expect(contract).toMatchObject({ type: 'primes', pool: 'default' });
    expect((await admin.jobTypes.get('primes')).inputSchema).toEqual({ type: 'object', required: ['limit'] });

    // Schedules: every change signed by the client; a repeated create (same id) answers the same schedule.
    const sched = await admin.schedules.create({
      name: 'nightly',
      job: { type: 'primes', data: { limit: 5 } },
      cron: '0 3 * * *',
      timezone: 'Europe/Berlin',
    });
    expect(sched).toMatchObject({ name: 'nightly', paused: false, runs: 0, overlap: 'allow', catchUp: 'latest' });
    expect((await admin.schedules.list()).map((x) => x.id)).toContain(sched.id);
    expect((await admin.schedules.pause(sched.id)).paused).toBe(true);
    expect((await admin.schedules.resume(sched.id)).paused).toBe(false);
    const { jobId } = await admin.schedules.trigger(sched.id);
    expect((await admin.jobs.get(jobId)).request.payload.data).toEqual({ limit: 5 });
    expect(await admin.schedules.delete(sched.id)).toEqual({ id: sched.id, deleted: true });
    expect(await admin.schedules.get(sched.id).catch((e: unknown) => e)).toMatchObject({ status: 404 });
    const invalid = await admin.jobs.submit({ type: 'primes', data: {} }).catch((e: unknown) => e);
    expect(invalid).toMatchObject({ status: 400 });

    // A key whose private half never left the client: the answer carries no private key.
    const own = generateSigningKeyPair();
    const viewerKey = await admin.apiKeys.create({ name: 'viewer', role: 'viewer', signingPublicKey: own.publicKeyPem });
    expect(viewerKey.signingPrivateKey).toBeUndefined();
    const viewer = clientFor({ key: viewerKey.key, id: viewerKey.id, signingPrivateKeyPem: own.privateKeyPem });
    expect((await viewer.jobs.get(parked.id)).status).toBe('cancelled');
    const denied = await viewer.jobs.cancel(parked.id).catch((e: unknown) => e);
    expect(denied).toBeInstanceOf(PermissionDeniedError);
    expect(denied).toMatchObject({ status: 403, code: 'FORBIDDEN' });

    const submitterKey = await admin.apiKeys.create({ name: 'wrong signer', role: 'submitter' });
    const forger = clientFor({ key: submitterKey.key, id: submitterKey.id, signingPrivateKeyPem: own.privateKeyPem });
    const forged = await forger.jobs.cancel(parked.id).catch((e: unknown) => e);
    expect(forged).toBeInstanceOf(AuthenticationError);
    expect(forged).toMatchObject({ status: 401, code: 'SIGNATURE_INVALID' });

    const revoked = await admin.apiKeys.revoke(viewerKey.id);
    expect(revoked.revokedAt).not.toBeNull();
    expect((await admin.apiKeys.list()).find((k) => k.id === viewerKey.id)?.revokedAt).not.toBeNull();
    const after = await viewer.jobs.get(parked.id).catch((e: unknown) => e);
    expect(after).toBeInstanceOf(AuthenticationError);
    expect(after).toMatchObject({ status: 401, code: 'AUTHENTICATION_FAILED' });
  });

  it('lists the enrolled runner', async () => {
    const runners = await admin.runners.list();
    expect(runners.find((r) => r.id === runner.runnerId)).toMatchObject({ name: 'client-test', pool: 'default', revokedAt: null });
  });

  it('waits out real 429s from the gateway (a tenant limited to 1 request/s) and succeeds', async () => {
    const tenant = `slow-${randomUUID().slice(0, 8)}`;
    await platform.tenants.create({ id: tenant, name: 'Slow tenant' });
    await platform.tenants.putQuotas(tenant, { requestsPerSecond: 1, burst: 2 });
    const made = await platform.apiKeys.create({ name: 'slow viewer', role: 'viewer', tenantId: tenant });
    expect(made.tenantId).toBe(tenant);

    const notices: RetryNotice[] = [];
    const slow = clientFor(
      { key: made.key, id: made.id, signingPrivateKeyPem: made.signingPrivateKey },
      { onRetry: (n) => notices.push(n), retry: { maxAttempts: 6 } },
    );
    const t0 = Date.now();
    const pages = await Promise.all([1, 2, 3, 4].map(() => slow.jobs.list({ limit: 1 })));
    expect(pages.every((p) => Array.isArray(p.jobs))).toBe(true);
    expect(notices.length).toBeGreaterThanOrEqual(2);
    expect(notices.every((n) => n.error.code === 'RATE_LIMITED' && n.error.status === 429 && n.delayMs >= 1_000)).toBe(true);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1_000);

    const impatient = clientFor({ key: made.key, id: made.id }, { retry: { maxAttempts: 1 } });
    const results = await Promise.allSettled([1, 2, 3, 4].map(() => impatient.jobs.list({ limit: 1 })));
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as RateLimitedError);
    expect(refused.length).toBeGreaterThanOrEqual(2);
    expect(refused[0]).toBeInstanceOf(RateLimitedError);
    expect(refused[0]!.retryAfter).toBeGreaterThanOrEqual(1);
    expect(refused[0]!.envelope.category).toBe('RATE_LIMITED');
  });
});
