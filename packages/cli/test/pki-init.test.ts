import { X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { inspectCertificate, loadTlsMaterial, mtlsServerOptions, servicePkiFiles } from '@controlplane/platform';
import { EXIT } from '../src/command.js';
import { main } from '../src/main.js';

const tempDirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'cp-cli-pki-'));
  tempDirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
});

async function run(
  argv: string[],
  env: Record<string, string | undefined> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c: Buffer) => (out += c.toString()));
  stderr.on('data', (c: Buffer) => (err += c.toString()));
  const code = await main(argv, { stdout, stderr, env });
  return { code, stdout: out, stderr: err };
}

describe('controlplane pki init', () => {
  it('writes the CA and service certificates and reports them as JSON', async () => {
    const dir = join(tempDir(), 'pki');
    const res = await run(['pki', 'init', '--dir', dir, '--trust-domain', 'example.test', '--json']);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(EXIT.OK);
    const out = JSON.parse(res.stdout) as {
      dir: string;
      trustDomain: string;
      algorithm: string;
      ca: { certFile: string; fingerprint256: string };
      services: Array<{ name: string; spiffeId: string; keyFile: string }>;
    };
    expect(out).toMatchObject({ dir, trustDomain: 'example.test', algorithm: 'ECDSA-P256' });
    expect(out.services.map((s) => [s.name, s.spiffeId])).toEqual([
      ['gateway', 'spiffe://example.test/service/gateway'],
      ['jobforge', 'spiffe://example.test/service/jobforge'],
      ['truthcore', 'spiffe://example.test/service/truthcore'],
    ]);
    expect(out.ca.fingerprint256).toBe(new X509Certificate(readFileSync(join(dir, 'ca.crt'))).fingerprint256);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    for (const f of ['ca.key', ...out.services.map((s) => `${s.name}.key`)]) expect(statSync(join(dir, f)).mode & 0o777, f).toBe(0o600);
    // What it wrote is directly usable by a service.
    const material = loadTlsMaterial(servicePkiFiles(dir, 'jobforge'));
    expect(mtlsServerOptions(material, { trustDomain: 'example.test' }).requestCert).toBe(true);
  });

  it('prints a human summary, honours --algorithm, --service and --host', async () => {
    const dir = tempDir();
    const res = await run([
      'pki',
      'init',
      '--dir',
      dir,
      '--algorithm',
      'ed25519',
      '--service',
      'jobforge',
      '--host',
      'jobforge.internal',
      '--host',
      '10.1.2.3',
    ]);
    expect(res.code).toBe(EXIT.OK);
    expect(res.stdout).toContain(`Created a PKI for trust domain controlplane.local in ${dir} (Ed25519 keys)`);
    expect(res.stdout).toContain('jobforge.crt, jobforge.key');
    expect(res.stdout).toContain('spiffe://controlplane.local/service/jobforge');
    expect(existsSync(join(dir, 'gateway.crt'))).toBe(false);
    const summary = inspectCertificate(readFileSync(join(dir, 'jobforge.crt'), 'utf8'));
    expect(summary).toMatchObject({ dnsNames: ['jobforge.internal'], ipAddresses: ['10.1.2.3'], trustDomain: 'controlplane.local' });
    expect(new X509Certificate(readFileSync(join(dir, 'ca.crt'))).publicKey.asymmetricKeyType).toBe('ed25519');
  });

  it('takes the trust domain and data directory from the environment when no flag is given', async () => {
    const dataDir = tempDir();
    const res = await run(['pki', 'init', '--json', '--service', 'gateway'], {
      CONTROLPLANE_TRUST_DOMAIN: 'env.test',
      CONTROLPLANE_DATA_DIR: dataDir,
    });
    expect(res.code).toBe(EXIT.OK);
    expect(JSON.parse(res.stdout)).toMatchObject({ dir: join(dataDir, 'pki'), trustDomain: 'env.test' });
  });

  it('refuses to overwrite an existing CA without --force, and replaces it with --force', async () => {
    const dir = tempDir();
    expect((await run(['pki', 'init', '--dir', dir])).code).toBe(EXIT.OK);
    const caKey = readFileSync(join(dir, 'ca.key'), 'utf8');

    const again = await run(['pki', 'init', '--dir', dir]);
    expect(again.code).toBe(EXIT.CONFLICT);
    expect(again.stderr).toContain('--force');
    expect(again.stdout).toBe('');
    expect(readFileSync(join(dir, 'ca.key'), 'utf8')).toBe(caKey);

    const forced = await run(['pki', 'init', '--dir', dir, '--force']);
    expect(forced.code).toBe(EXIT.OK);
    expect(readFileSync(join(dir, 'ca.key'), 'utf8')).not.toBe(caKey);
    expect(statSync(join(dir, 'ca.key')).mode & 0o777).toBe(0o600);
  });

  it('rejects bad input with a usage error and writes nothing', async () => {
    const dir = join(tempDir(), 'pki');
    for (const argv of [
      ['--algorithm', 'rsa'],
      ['--trust-domain', 'Bad.Domain'],
      ['--service', '../etc'],
      ['--host', 'not a host'],
    ]) {
      const res = await run(['pki', 'init', '--dir', dir, ...argv]);
      expect(res.code, argv.join(' ')).toBe(EXIT.USAGE);
      expect(res.stderr).toMatch(/^controlplane pki init: /);
    }
    expect((await run(['pki', 'init', '--dir', dir, '--bogus'])).code).toBe(EXIT.USAGE);
    expect(existsSync(dir)).toBe(false);
  });

  it('is listed in the help', async () => {
    const res = await run(['--help']);
    expect(res.stdout).toMatch(/pki init\s+create the built-in CA/);
  });
});
