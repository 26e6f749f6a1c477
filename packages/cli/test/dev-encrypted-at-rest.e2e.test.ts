// Secure by default: `controlplane dev` started the way a new user starts it (no keyring, no
// encryption setting), embedded and on real PostgreSQL and Redis. A job, a sensitive assertion and
// a failing job each carry a marker (in data, progress, result, failure message and object); the
// marker is then looked for in everything at rest — every file of the data directory (the embedded
// database, the logs), pg_dump, every Redis key and value — and found nowhere, while the API
// still answers it in clear.
import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ControlPlaneClient, NotFoundError, readKeyFile } from '@controlplane/client';
import { createRedis } from '@controlplane/server';
import { createTestDatabase, type TestDatabase } from '../../../test/support/postgres.js';
import { testRedisUrl } from '../../../test/support/redis.js';
import { FREE_PORTS, killAll, startDev, type DevProcess } from './support/dev-process.js';
import { Agent, request as httpsRequest } from 'node:https';
import { PassThrough } from 'node:stream';
import { main } from '../src/main.js';

const execFileP = promisify(execFile);

async function cli(argv: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c: Buffer) => (out += c.toString()));
  stderr.on('data', (c: Buffer) => (err += c.toString()));
  const code = await main(argv, { stdout, stderr, env });
  return { code, stdout: out, stderr: err };
}

function health(url: string, ca: string): Promise<{ checks: Array<{ name: string; status: string; message?: string }> }> {
  const agent = new Agent({ ca, keepAlive: false });
  return new Promise((resolve, reject) => {
    httpsRequest(`${url}/health`, { agent }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => {
        agent.destroy();
        resolve(JSON.parse(text));
      });
    })
      .on('error', reject)
      .end();
  });
}

// Plain objects, no imports: the runner loads the module inside its sandbox.
const HANDLERS = `
export default [
  {
    type: 'marked',
    description: 'Reports progress with a message from its input, then returns its input.',
    concurrency: 2,
    timeoutMs: 10000,
    run: (input, ctx) => {
      ctx.progress(50, 'progress ' + input.marker);
      return { echoed: input.marker };
    },
  },
  {
    type: 'marked-fail',
    description: 'Fails with a message from its input.',
    concurrency: 2,
    timeoutMs: 10000,
    run: (input) => {
      throw new Error('failure ' + input.marker);
    },
  },
];
`;

/** Every regular file under `dir`, recursively. */
function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...filesUnder(path));
    else if (entry.isFile()) out.push(path);
  }
  return out;
}

/** Files holding `marker` as UTF-8 bytes. */
function filesHolding(dir: string, marker: string): string[] {
  const needle = Buffer.from(marker, 'utf8');
  return filesUnder(dir).filter((f) => readFileSync(f).includes(needle));
}

async function eventually<T>(fn: () => Promise<T | undefined>, what: string): Promise<T> {
  for (let i = 0; i < 150; i++) {
    const value = await fn().catch((err: unknown) => {
      if (err instanceof NotFoundError) return undefined;
      throw err;
    });
    if (value !== undefined) return value;
    await sleep(200);
  }
  throw new Error(`${what} did not happen`);
}

/** Runs the marked work through the gateway and checks the API answers every marked value in clear. */
async function runMarkedWork(dev: DevProcess, dir: string, marker: string): Promise<{ subject: string }> {
  const [, url] = await dev.waitFor(/ControlPlane is running\. gateway: (https:\/\/127\.0\.0\.1:\d+)\n/, 90_000);
  expect(dev.output()).toMatch(/created the keyring .*pki\/keyring\.json \(mode 0600\)/);
  expect(statSync(join(dir, 'pki', 'keyring.json')).mode & 0o777).toBe(0o600);
  const saved = readKeyFile(join(dir, 'admin-key.json'));
  const client = new ControlPlaneClient({
    url: url!,
    ca: readFileSync(join(dir, 'pki', 'ca.crt'), 'utf8'),
    apiKey: saved.apiKey,
    signingKey: saved.signingKey!,
  });
  try {
    const ok = await client.jobs.submit({ type: 'marked', data: { marker } });
    const failing = await client.jobs.submit({ type: 'marked-fail', data: { marker }, retryPolicy: { maxRetries: 0 } });
    const subject = `customer:${randomBytes(8).toString('hex')}`;
    const assertion = await client.truth.assert({
      id: randomUUID(),
      subject,
      predicate: 'note',
      object: { text: `note ${marker}` },
      timestamp: new Date().toISOString(),
      source: 'dev-encrypted-at-rest-test',
      metadata: { sensitive: true },
    });

    const done = await client.jobs.wait(ok.id, { timeoutMs: 30_000 });
    expect(done.status, JSON.stringify(done.error)).toBe('completed');
    expect(JSON.stringify(done.request)).toContain(marker);
    expect(JSON.stringify(done.result)).toContain(marker);
    const failed = await client.jobs.wait(failing.id, { timeoutMs: 30_000 });
    expect(failed.status).toBe('failed');
    expect(JSON.stringify(failed)).toContain(`failure ${marker}`);
    const attempts = await client.jobs.attempts(failing.id);
    expect(JSON.stringify(attempts)).toContain(`failure ${marker}`);
    const events: unknown[] = [];
    for await (const e of client.jobs.events(ok.id)) events.push(e);
    expect(JSON.stringify(events)).toContain(`progress ${marker}`);
    expect(JSON.stringify(await client.truth.get(assertion.id))).toContain(marker);
    // Both results reach TruthCore through the outbox: the provenance answers them in clear.
    const provenance = await eventually(() => client.jobs.provenance(ok.id), 'the result reaching TruthCore');
    expect(JSON.stringify(provenance)).toContain(marker);
    const failedProvenance = await eventually(async () => {
      const p = await client.jobs.provenance(failing.id);
      return JSON.stringify(p).includes(marker) ? p : undefined;
    }, 'the failure reaching TruthCore');
    expect(JSON.stringify(failedProvenance)).toContain(`failure ${marker}`);
    return { subject };
  } finally {
    client.close();
  }
}

describe('controlplane dev encrypts at rest from the first start', () => {
  const dirs: string[] = [];
  const tmp = () => {
    const d = mkdtempSync(join(tmpdir(), 'cp-dev-enc-'));
    dirs.push(d);
    return d;
  };
  afterEach(killAll);
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  function start(dir: string, env: Record<string, string> = {}): DevProcess {
    const handlers = join(tmp(), 'handlers.mjs');
    writeFileSync(handlers, HANDLERS);
    // Confinement is not what is tested here: the handlers module lives in a test directory.
    return startDev(['--data-dir', dir, '--skip-demo', '--runner-handlers', handlers, '--runner-confinement', 'none', ...FREE_PORTS], env);
  }

  it('embedded: the marker is in no file of the data directory (database, logs, keys) and in clear through the API', async () => {
    const marker = `MARKER-${randomBytes(12).toString('hex')}`;
    const dir = join(tmp(), 'data');
    const dev = start(dir);
    const { subject } = await runMarkedWork(dev, dir, marker);
    expect(await dev.stop('SIGINT')).toBe(0);
    // The scan sees what is stored in clear: the assertion's subject (a clear column) is found.
    expect(filesHolding(join(dir, 'db'), subject).length).toBeGreaterThan(0);
    // The runner's directory and its log lines (in the data directory's log) included.
    expect(filesUnder(dir).some((f) => f.includes(join('data', 'db')))).toBe(true);
    expect(filesHolding(dir, marker)).toEqual([]);
    expect(filesHolding(`${dir}-runner`, marker)).toEqual([]);
    // The services anchored the audit head as they ran and stopped: the untouched chain verifies against it.
    const verified = await cli(['audit', 'verify', '--data-dir', dir]);
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);
    expect(verified.stdout).toMatch(/anchored by \d+ signed checkpoints? in .*audit-checkpoints/);
  }, 180_000);

  it('PostgreSQL and Redis: the marker is in no pg_dump, no Redis key or value, no log file; in clear through the API', async () => {
    const marker = `MARKER-${randomBytes(12).toString('hex')}`;
    const dir = join(tmp(), 'data');
    const tdb: TestDatabase = await createTestDatabase();
    const prefix = `cpenc${randomBytes(5).toString('hex')}`;
    const redis = await createRedis({ url: testRedisUrl(), keyPrefix: prefix });
    try {
      const dev = start(dir, { DATABASE_URL: tdb.url, REDIS_URL: testRedisUrl(), CONTROLPLANE_REDIS_KEY_PREFIX: prefix });
      const { subject } = await runMarkedWork(dev, dir, marker);
      const c = redis.client;
      const valueOf = async (key: string): Promise<string> => {
        const type = await c.type(key);
        if (type === 'string') return (await c.get(key)) ?? '';
        if (type === 'hash') return JSON.stringify(await c.hgetall(key));
        if (type === 'zset') return JSON.stringify(await c.zrange(key, 0, -1, 'WITHSCORES'));
        if (type === 'list') return JSON.stringify(await c.lrange(key, 0, -1));
        if (type === 'set') return JSON.stringify(await c.smembers(key));
        if (type === 'stream') return JSON.stringify(await c.xrange(key, '-', '+'));
        return type === 'none' ? '' : `unreadable type ${type}`;
      };
      // Scanned while it runs too, so what Redis holds for live work is seen.
      const scan = async () => {
        const keys = await redis.client.keys(`${prefix}:*`);
        const found: string[] = [];
        for (const key of keys) {
          if (key.includes(marker)) found.push(key);
          if ((await valueOf(key)).includes(marker)) found.push(`${key} (value)`);
        }
        return { keys: keys.length, found };
      };
      const live = await scan();
      expect(live.keys).toBeGreaterThan(0);
      expect(live.found).toEqual([]);
      expect(await dev.stop('SIGTERM')).toBe(0);
      expect((await scan()).found).toEqual([]);

      const { stdout: dump } = await execFileP('pg_dump', ['--no-owner', `--dbname=${tdb.adminUrl}`], { maxBuffer: 256 * 1024 * 1024 });
      expect(dump).toContain('cpenc:v1:');
      expect(dump).toContain(subject);
      expect(dump.includes(marker)).toBe(false);
      expect(filesHolding(dir, marker)).toEqual([]);
      expect(filesHolding(`${dir}-runner`, marker)).toEqual([]);
      await tdb.drop();
    } finally {
      await killAll();
      await tdb.drop().catch(() => undefined);
      const keys = await redis.client.keys(`${prefix}:*`);
      if (keys.length > 0) await redis.client.unlink(...keys);
      await redis.close();
    }
  }, 180_000);

  it('encryption.enabled: false is said by the start, /health and doctor; the rotation sweep then encrypts what was stored in clear', async () => {
    const marker = `MARKER-${randomBytes(12).toString('hex')}`;
    const dir = join(tmp(), 'data');
    const clearDev = start(dir, { CONTROLPLANE_ENCRYPTION_ENABLED: 'false' });
    const [, url] = await clearDev.waitFor(/ControlPlane is running\. gateway: (https:\/\/127\.0\.0\.1:\d+)\n/, 90_000);
    expect(clearDev.output()).toMatch(/WARNING: encryption at rest is off .* stored in clear/);
    const ca = readFileSync(join(dir, 'pki', 'ca.crt'), 'utf8');
    expect((await health(url!, ca)).checks).toContainEqual(
      expect.objectContaining({ name: 'encryption', status: 'degraded', message: expect.stringMatching(/stored in clear/) }),
    );
    const doctor = await cli(['doctor', '--data-dir', dir, '--json'], { CONTROLPLANE_ENCRYPTION_ENABLED: 'false' });
    const checks = (JSON.parse(doctor.stdout) as { checks: Array<{ name: string; status: string; detail: string }> }).checks;
    expect(checks).toContainEqual(
      expect.objectContaining({ name: 'encryption at rest', status: 'warn', detail: expect.stringMatching(/stored in clear/) }),
    );
    const saved = readKeyFile(join(dir, 'admin-key.json'));
    const client = new ControlPlaneClient({ url: url!, ca, apiKey: saved.apiKey, signingKey: saved.signingKey! });
    let jobId: string;
    try {
      const job = await client.jobs.submit({ type: 'marked', data: { marker } });
      jobId = job.id;
      expect((await client.jobs.wait(job.id, { timeoutMs: 30_000 })).status).toBe('completed');
      await eventually(() => client.jobs.provenance(job.id), 'the result reaching TruthCore');
    } finally {
      client.close();
    }
    expect(await clearDev.stop('SIGINT')).toBe(0);
    // Stored in clear, and the scan sees it.
    expect(filesHolding(join(dir, 'db'), marker).length).toBeGreaterThan(0);

    // Encryption switched on: a keyring, then the sweep of a data-key rotation.
    expect((await cli(['keys', 'init', '--data-dir', dir])).code).toBe(0);
    const before = JSON.parse((await cli(['keys', 'status', '--verify', '--data-dir', dir, '--json'])).stdout) as {
      storedValues: { clear: number };
    };
    expect(before.storedValues.clear).toBeGreaterThan(0);
    const rotated = await cli(['keys', 'rotate', '--data-keys', '--grace-ms', '0', '--data-dir', dir]);
    expect(rotated.code, rotated.stderr).toBe(0);
    const after = JSON.parse((await cli(['keys', 'status', '--verify', '--data-dir', dir, '--json'])).stdout) as {
      storedValues: { clear: number; unreadable: unknown[] };
    };
    expect(after.storedValues).toMatchObject({ clear: 0, unreadable: [] });

    // The next start encrypts with that keyring and still answers the old job in clear.
    const again = start(dir);
    const [, url2] = await again.waitFor(/ControlPlane is running\. gateway: (https:\/\/127\.0\.0\.1:\d+)\n/, 90_000);
    expect(again.output()).toMatch(/encrypting at rest with the keyring .*pki\/keyring\.json/);
    const client2 = new ControlPlaneClient({ url: url2!, ca, apiKey: saved.apiKey, signingKey: saved.signingKey! });
    try {
      expect(JSON.stringify(await client2.jobs.get(jobId))).toContain(marker);
      expect(JSON.stringify(await client2.jobs.provenance(jobId))).toContain(marker);
    } finally {
      client2.close();
    }
    expect(await again.stop('SIGINT')).toBe(0);
  }, 240_000);
});
