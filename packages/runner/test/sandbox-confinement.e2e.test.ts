// A job's own code attacks its sandbox (SPEC §4 runner isolation): reads its ancestors' environment
// through /proc, reads the runner's key and the CA key of the dev layout, writes outside its private
// temporary directory, reads what an earlier job left there, and connects to Redis and PostgreSQL on
// the host. Every attack fails, in a pooled and in a per-job sandbox alike; run unconfined, the same
// attacks succeed, which is what shows the confinement (not the fixture) stopping them.
import { randomBytes } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SandboxPool, sandboxProcessOptions, type ConfinementMode, type SandboxOutcome } from '@controlplane/runner';

const SECRET = `secret-${randomBytes(8).toString('hex')}`;
type Attempt = { ok: boolean; value?: string; code?: string };

let root: string;
let project: string;
let runnerDir: string;
const paths = { runnerKey: '', caKey: '', hostTmpFile: '' };
const pools: SandboxPool[] = [];

beforeAll(() => {
  // The dev layout: the data directory with the CA key, the runner's identity beside it, and a
  // handlers project. A copy of the runner's identity also sits inside the project (the worst case:
  // a directory the sandbox may read), where it must be hidden.
  root = mkdtempSync(join(tmpdir(), 'cp-confinement-'));
  chmodSync(root, 0o755);
  project = join(root, 'project');
  mkdirSync(join(root, '.controlplane', 'pki'), { recursive: true });
  mkdirSync(project, { recursive: true });
  runnerDir = join(project, 'runner');
  mkdirSync(runnerDir, { mode: 0o700 });
  paths.caKey = join(root, '.controlplane', 'pki', 'ca.key');
  paths.runnerKey = join(runnerDir, 'runner.key');
  writeFileSync(paths.caKey, SECRET, { mode: 0o600 });
  writeFileSync(paths.runnerKey, SECRET, { mode: 0o600 });
  writeFileSync(join(project, 'package.json'), '{"name":"attack-project","type":"module"}');
  copyFileSync(fileURLToPath(new URL('./fixtures/attack-handlers.mjs', import.meta.url)), join(project, 'handlers.mjs'));
  paths.hostTmpFile = join(tmpdir(), `cp-attack-${randomBytes(6).toString('hex')}.txt`);
  // The runner's own environment holds a secret that its ancestors' /proc/<pid>/environ would show.
  process.env.CP_CONFINEMENT_TEST_SECRET = SECRET;
});

afterAll(async () => {
  await Promise.all(pools.map((p) => p.close()));
  delete process.env.CP_CONFINEMENT_TEST_SECRET;
  rmSync(root, { recursive: true, force: true });
  rmSync(paths.hostTmpFile, { force: true });
});

async function pool(mode: ConfinementMode, perJob: boolean): Promise<SandboxPool> {
  const p = new SandboxPool({
    name: 'attack',
    size: 1,
    perJob,
    maxJobsPerProcess: 1000,
    recycleOnError: false,
    recycleHeapMb: 1000,
    process: sandboxProcessOptions({
      handlersModule: join(project, 'handlers.mjs'),
      memoryLimitMb: 96,
      maxOutputBytes: 1024 * 1024,
      env: { PATH: '/usr/bin:/bin' },
      confinement: mode,
      hiddenPaths: [runnerDir],
      startTimeoutMs: 30_000,
    }),
  });
  pools.push(p);
  await p.start();
  return p;
}

let seq = 0;
async function run(p: SandboxPool, type: string, input: unknown = {}): Promise<unknown> {
  const outcome: SandboxOutcome = await p.run({ id: `attack-${++seq}`, attempt: 1, type, input }, { timeoutMs: 20_000, killGraceMs: 300 });
  if (!outcome.ok) throw new Error(`${type} failed: ${outcome.code} ${outcome.message}`);
  return outcome.output;
}

const escapeInput = () => ({
  runnerPid: process.pid,
  runnerKey: paths.runnerKey,
  caKey: paths.caKey,
  runnerDir,
  handlerDir: project,
  hostTmpFile: paths.hostTmpFile,
});

for (const perJob of [false, true]) {
  describe(`a ${perJob ? 'per-job' : 'pooled'} sandbox, confined strictly`, () => {
    it('stops every escape: /proc of other processes, the keys, writes outside its temp dir, the host network', async () => {
      const p = await pool('strict', perJob);
      const report = (await run(p, 'escape', escapeInput())) as Record<string, Attempt>;
      // Only its own processes exist for it (its PID namespace), and even their /proc is not readable.
      expect(report.procList!.ok ? report.procList!.value!.split(',').length : 0).toBeLessThanOrEqual(3);
      for (const [name, a] of Object.entries(report)) {
        if (name === 'procList' || name === 'writeHostTmp' || name === 'runnerDir') continue;
        expect(a.ok, `${name}: ${JSON.stringify(a)}`).toBe(false);
      }
      // The runner's directory, inside what the sandbox may read, shows as an empty directory.
      expect(report.runnerDir!.ok ? report.runnerDir!.value : '').toBe('');
      // The host's /tmp is not there for it to write to.
      expect(existsSync(paths.hostTmpFile)).toBe(false);
      expect(existsSync(join(project, 'planted.txt'))).toBe(false);
      expect(existsSync(join(runnerDir, 'planted.txt'))).toBe(false);
      expect(JSON.stringify(report)).not.toContain(SECRET);
    });

    it('finds nothing an earlier job left in its temporary directory', async () => {
      const p = await pool('strict', perJob);
      await run(p, 'leave-file');
      const found = (await run(p, 'find-file')) as Attempt;
      expect(found).toMatchObject({ ok: false, code: 'ENOENT' });
    });
  });
}

describe('the same attacks without confinement', () => {
  it('succeed, so the tests above show the confinement at work', async () => {
    const p = await pool('none', false);
    const report = (await run(p, 'escape', escapeInput())) as Record<string, Attempt>;
    expect(report.redis!.ok).toBe(true);
    expect(report.postgres!.ok).toBe(true);
    expect(report[`environ:${process.pid}`]!.ok).toBe(true);
    expect(report.writeHandlerDir!.ok).toBe(true);
    if (process.getuid?.() === 0) expect(report.runnerKey!.value).toBe(SECRET);
    rmSync(join(project, 'planted.txt'), { force: true });
    rmSync(join(runnerDir, 'planted.txt'), { force: true });
    rmSync(paths.hostTmpFile, { force: true });
  });
});
