// The client commands against a running system (`controlplane dev` with its demo runner, as a real
// process): jobs, keys, join tokens, runners, job types and doctor, with their tables, --json and
// exit codes, including signed operations (cancel, key and runner revocation, contracts, tokens).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../src/main.js';
import { EXIT } from '../src/command.js';
import { CLI, FREE_PORTS, killAll, startDev, type DevProcess } from './support/dev-process.js';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  json(): any;
}

describe('CLI against a running system', () => {
  let work: string;
  let dataDir: string;
  let dev: DevProcess;
  let enrollUrl: string;

  async function cli(...argv: string[]): Promise<Run> {
    let stdout = '';
    let stderr = '';
    const sink = (onChunk: (s: string) => void) =>
      new Writable({
        write(chunk: Buffer, _enc, done) {
          onChunk(chunk.toString());
          done();
        },
      });
    const code = await main(argv, {
      stdout: sink((s) => (stdout += s)),
      stderr: sink((s) => (stderr += s)),
      env: { CONTROLPLANE_DATA_DIR: dataDir },
    });
    return { code, stdout, stderr, json: () => JSON.parse(stdout) };
  }

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'cp-cli-e2e-'));
    dataDir = join(work, 'data');
    dev = startDev(['--data-dir', dataDir, '--skip-demo', ...FREE_PORTS]);
    await dev.waitFor(/ControlPlane is running\. gateway: https:/);
    enrollUrl = JSON.parse(readFileSync(join(dataDir, 'dev.json'), 'utf8')).enrollUrl;
  });

  afterAll(async () => {
    if (dev) expect(await dev.stop('SIGTERM')).toBe(0);
    await killAll();
    rmSync(work, { recursive: true, force: true });
  });

  it('submits and waits, gets and lists jobs, as tables and as JSON', async () => {
    const submitted = await cli('jobs', 'submit', 'echo', '--data', '{"n":41}', '--wait', '--json');
    expect(submitted.code).toBe(EXIT.OK);
    const job = submitted.json();
    expect(job).toMatchObject({ status: 'completed', result: { success: true, data: { n: 41 } } });
    expect(submitted.stderr).toMatch(/waiting for it to finish/);
    expect(submitted.stderr).toMatch(/job\.started +runner \S+\n.*job\.completed/s);

    const got = await cli('jobs', 'get', job.id);
    expect(got.code).toBe(EXIT.OK);
    expect(got.stdout).toMatch(new RegExp(`^id +${job.id}$`, 'm'));
    expect(got.stdout).toMatch(/^status +completed$/m);
    expect(got.stdout).toMatch(/^result +\{"n":41\}$/m);

    const table = await cli('jobs', 'list', '--type', 'echo');
    expect(table.stdout.split('\n')[0]).toMatch(/^ID +TYPE +STATUS +UPDATED +RESULT$/);
    expect(table.stdout).toMatch(new RegExp(`^${job.id} +echo +completed `, 'm'));
    const listed = (await cli('jobs', 'list', '--json', '--limit', '5')).json();
    expect(listed.jobs.map((j: any) => j.id)).toContain(job.id);

    const quick = await cli('jobs', 'submit', 'echo');
    expect(quick.stdout).toMatch(/^submitted job [0-9a-f-]{36} \(echo\): queued\n$/);
  });

  it('cancels (signed), watches the stream to its end, and retries a job', async () => {
    const parked = (await cli('jobs', 'submit', 'nobody.runs.this', '--json')).json();
    expect(parked.status).toBe('queued');
    const cancel = await cli('jobs', 'cancel', parked.id);
    expect(cancel).toMatchObject({ code: EXIT.OK, stdout: `job ${parked.id} cancelled\n` });

    const watch = await cli('jobs', 'watch', parked.id, '--json');
    // A cancelled job is not a success: scripts see exit status 1.
    expect(watch.code).toBe(EXIT.FAILURE);
    const types = watch.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).type);
    expect(types).toEqual(['job.created', 'job.queued', 'job.cancelled']);

    const retried = await cli('jobs', 'retry', parked.id, '--json');
    expect(retried.code).toBe(EXIT.OK);
    expect(retried.json().status).toBe('queued');
    expect((await cli('jobs', 'cancel', parked.id)).code).toBe(EXIT.OK);

    const human = await cli('jobs', 'watch', parked.id);
    expect(human.stdout).toMatch(/Z {2}job\.created\n/);
    expect(human.stdout.trim().split('\n').pop()).toMatch(/job\.cancelled$/);
  });

  it('creates a key into a 0600 key file, uses it, lists and revokes it (signed); the revoked key is refused', async () => {
    const file = join(work, 'submitter.json');
    const created = await cli('keys', 'create', '--name', 'ci', '--role', 'submitter', '--out', file, '--json');
    expect(created.code).toBe(EXIT.OK);
    const info = created.json();
    expect(info).toMatchObject({ name: 'ci', role: 'submitter', tenantId: 'dev', keyFile: file });
    expect(info.key).toBeUndefined();
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(file, 'utf8')).key).toMatch(/^cpk_/);

    expect((await cli('jobs', 'submit', 'echo', '--key-file', file)).code).toBe(EXIT.OK);
    const forbidden = await cli('keys', 'list', '--key-file', file);
    expect(forbidden.code).toBe(EXIT.AUTH);
    expect(forbidden.stderr).toContain('FORBIDDEN');

    const list = await cli('keys', 'list');
    expect(list.stdout).toMatch(new RegExp(`^${info.id} +ci +submitter +[0-9a-f]{16} +active `, 'm'));
    const revoke = await cli('keys', 'revoke', info.id);
    expect(revoke.code).toBe(EXIT.OK);
    expect(revoke.stdout).toMatch(new RegExp(`^revoked key ${info.id} \\(ci\\) at \\d{4}-`));
    expect((await cli('keys', 'list')).stdout).toMatch(new RegExp(`^${info.id} +ci +submitter +[0-9a-f]{16} +revoked `, 'm'));

    const refused = await cli('jobs', 'list', '--key-file', file);
    expect(refused.code).toBe(EXIT.AUTH);
    expect(refused.stderr).toMatch(/AUTHENTICATION_FAILED: .*\n {2}correlation id [0-9a-f-]{36}/);
    expect((await cli('keys', 'create', '--name', 'again', '--role', 'viewer', '--out', file)).code).toBe(EXIT.FAILURE);
  });

  it('creates a join token (signed), enrols a runner with it, lists and revokes the runner (signed)', async () => {
    const token = await cli('runner-tokens', 'create', '--ttl-seconds', '300', '--json');
    expect(token.code).toBe(EXIT.OK);
    const { token: secret } = token.json();
    expect(secret).toMatch(/^cpjt_/);
    const human = await cli('runner-tokens', 'create');
    expect(human.stdout).toContain(`--jobforge ${enrollUrl} --ca `);

    const dir = join(work, 'extra-runner');
    const enrol = await cli(
      'runner',
      'enroll',
      '--join-token',
      secret,
      '--jobforge',
      enrollUrl,
      '--ca',
      join(dataDir, 'pki', 'ca.crt'),
      '--dir',
      dir,
      '--name',
      'extra',
      '--json',
    );
    expect(enrol.code).toBe(EXIT.OK);
    const runnerId = enrol.json().runnerId;
    const reused = await cli(
      'runner',
      'enroll',
      '--join-token',
      secret,
      '--jobforge',
      enrollUrl,
      '--ca',
      join(dataDir, 'pki', 'ca.crt'),
      '--dir',
      join(work, 'again'),
      '--name',
      'again',
    );
    expect(reused.code).toBe(EXIT.AUTH);

    const runners = (await cli('runners', 'list', '--json')).json();
    expect(runners.map((r: any) => r.name)).toEqual(expect.arrayContaining(['demo-runner', 'extra']));
    const revoke = await cli('runners', 'revoke', runnerId);
    expect(revoke).toMatchObject({ code: EXIT.OK, stdout: `revoked runner ${runnerId} (extra)\n` });
    const table = await cli('runners', 'list');
    expect(table.stdout).toMatch(new RegExp(`^${runnerId} +extra +default +revoked `, 'm'));
    expect(table.stdout).toMatch(/ demo-runner +default +active +echo,flaky,primes,sleep /);
  });

  it('sets a job type contract (signed) that submissions must then satisfy', async () => {
    const schema = JSON.stringify({ type: 'object', required: ['ms'], properties: { ms: { type: 'integer', maximum: 5000 } } });
    const put = await cli('job-types', 'put', 'sleep', '--input-schema', schema);
    expect(put.code).toBe(EXIT.OK);
    expect(put.stdout).toMatch(/^job type sleep: version \d+, pool default\n$/);
    const list = (await cli('job-types', 'list', '--json')).json();
    expect(list.find((t: any) => t.type === 'sleep').inputSchema).toEqual(JSON.parse(schema));
    const bad = await cli('jobs', 'submit', 'sleep', '--data', '{"ms":999999}');
    expect(bad.code).toBe(EXIT.USAGE);
    expect(bad.stderr).toMatch(/: .*\n {2}\S*ms/);
    expect((await cli('jobs', 'submit', 'sleep', '--data', '{"ms":10}', '--wait')).code).toBe(EXIT.OK);
  });

  it('creates, lists, pauses, resumes, triggers and deletes a schedule (each change signed)', async () => {
    const made = await cli(
      'schedules',
      'create',
      'cli-nightly',
      '--type',
      'echo',
      '--data',
      '{"n":1}',
      '--cron',
      '0 3 * * *',
      '--timezone',
      'Europe/Berlin',
      '--json',
    );
    expect(made.code, made.stderr).toBe(EXIT.OK);
    const s = made.json();
    expect(s).toMatchObject({ name: 'cli-nightly', cron: '0 3 * * *', timezone: 'Europe/Berlin', paused: false });
    expect((await cli('schedules', 'list', '--json')).json().map((x: any) => x.id)).toContain(s.id);
    expect((await cli('schedules', 'get', s.id)).stdout).toMatch(/cron 0 3 \* \* \* \(Europe\/Berlin\)/);
    expect((await cli('schedules', 'pause', s.id, '--json')).json().paused).toBe(true);
    expect((await cli('schedules', 'resume', s.id, '--json')).json().paused).toBe(false);
    const fired = await cli('schedules', 'trigger', s.id);
    expect(fired.stdout).toMatch(/^job [0-9a-f-]{36} submitted\n$/);
    expect((await cli('schedules', 'delete', s.id)).code).toBe(EXIT.OK);
    expect((await cli('schedules', 'get', s.id)).code).toBe(EXIT.NOT_FOUND);
    const bad = await cli('schedules', 'create', 'cli-bad', '--type', 'echo', '--cron', 'not a cron');
    expect(bad.code).toBe(EXIT.USAGE);
  });

  it('exits with the documented codes', async () => {
    expect((await cli('jobs', 'get', '7b0c3f4e-2c7a-4f7e-9a51-3f1f4c9f8e10')).code).toBe(EXIT.NOT_FOUND);
    expect((await cli('jobs', 'get')).code).toBe(EXIT.USAGE);
    expect((await cli('jobs', 'submit', 'echo', '--data', 'not json')).code).toBe(EXIT.USAGE);
    expect((await cli('jobs', 'list', '--status', 'sleeping')).code).toBe(EXIT.USAGE);
    expect((await cli('jobs', 'list', '--key-file', join(work, 'missing.json'))).code).toBe(EXIT.CONFIG);
    expect((await cli('jobs', 'list', '--gateway', 'http://127.0.0.1:8443')).code).toBe(EXIT.USAGE);
    const down = await cli('jobs', 'list', '--gateway', 'https://127.0.0.1:1');
    expect(down.code).toBe(EXIT.UNAVAILABLE);
    expect(down.stderr).toContain('CONNECTION_FAILED');
  });

  it('doctor (the real binary) finds everything in order', () => {
    const r = spawnSync(process.execPath, [CLI, 'doctor'], {
      env: { PATH: process.env.PATH, CONTROLPLANE_DATA_DIR: dataDir },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(r.status).toBe(0);
    for (const check of [
      'configuration',
      'CA certificate',
      'gateway certificate',
      'jobforge certificate',
      'truthcore certificate',
      'API key file',
      'database',
      'gateway',
      'API key',
    ]) {
      expect(r.stdout).toMatch(new RegExp(`^${check} +OK `, 'm'));
    }
    expect(r.stdout).toContain('all checks passed');
  });
});
