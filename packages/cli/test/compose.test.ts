// The compose module's decisions from a loaded Config (no servers): which certificate files a
// service uses, which CA key JobForge signs runners with, which limits the gateway gets, and the
// configuration fields added for the production start.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initPki, loadConfig, loadTlsMaterial, servicePkiFiles } from '@controlplane/platform';
import { userInfo } from 'node:os';
import {
  DEFAULT_GATEWAY_LIMITS,
  gatewayLimitsFrom,
  jobforgeCertificateAuthority,
  ensureDevKeyring,
  postgresConnectionString,
  requiredKeyringFile,
  serviceTlsFiles,
  startAuditCheckpoints,
  startServiceFromConfig,
  STORED_IN_CLEAR,
  type Database,
} from '@controlplane/server';
import { createLogger } from '@controlplane/platform';
import { statSync } from 'node:fs';

describe('compose from configuration', () => {
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cp-compose-'));
    await initPki({ dir: join(dir, 'pki'), trustDomain: 'compose.test' });
    await initPki({ dir: join(dir, 'other'), trustDomain: 'compose.test', services: ['jobforge'] });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('has defaults and environment variables for the enrolment listener and the CA key', () => {
    const c = loadConfig({ env: {} });
    expect(c.jobforge.enrollListen).toEqual({ host: '127.0.0.1', port: 8446 });
    expect(c.jobforge.caKeyFile).toBeUndefined();
    expect(c.gateway.rateLimits).toEqual({});
    const e = loadConfig({
      env: {
        CONTROLPLANE_JOBFORGE_ENROLL_PORT: '9446',
        CONTROLPLANE_JOBFORGE_CA_KEY_FILE: '/etc/cp/ca.key',
        CONTROLPLANE_JOBFORGE_ADVERTISED_URL: 'https://jobforge.internal:8444',
      },
    });
    expect(e.jobforge).toMatchObject({
      enrollListen: { port: 9446 },
      caKeyFile: '/etc/cp/ca.key',
      advertisedUrl: 'https://jobforge.internal:8444',
    });
    expect(() => loadConfig({ env: { CONTROLPLANE_JOBFORGE_ADVERTISED_URL: 'http://jobforge.internal:8444' } })).toThrow(
      /jobforge\.advertisedUrl: must be an https:\/\/ URL/,
    );
    expect(() => loadConfig({ flags: { 'gateway.rateLimits.perKey': { capacity: 0, refillPerSecond: 1 } } })).toThrow(
      expect.objectContaining({ name: 'InternalError', code: 'CP_CONFIG_INVALID' }),
    );
  });

  it('gives the gateway the configured rate limits and keeps the other defaults', () => {
    const c = loadConfig({ flags: { 'gateway.rateLimits.perKey': { capacity: 5, refillPerSecond: 2 }, 'gateway.bodyLimitBytes': 2048 } });
    const limits = { ...DEFAULT_GATEWAY_LIMITS, ...gatewayLimitsFrom(c) };
    expect(limits.perKey).toEqual({ capacity: 5, refillPerSecond: 2 });
    expect(limits.perTenant).toEqual(DEFAULT_GATEWAY_LIMITS.perTenant);
    expect(limits.bodyLimitBytes).toBe(2048);
  });

  it('takes a service certificate from tls.* or else from <dataDir>/pki', () => {
    const byDir = serviceTlsFiles(loadConfig({ flags: { dataDir: dir } }), 'truthcore');
    expect(byDir).toEqual(servicePkiFiles(join(dir, 'pki'), 'truthcore'));
    const explicit = serviceTlsFiles(
      loadConfig({ flags: { dataDir: dir, 'tls.certFile': '/x/y.crt', 'tls.keyFile': '/x/y.key', 'tls.caFile': '/x/ca.crt' } }),
      'truthcore',
    );
    expect(explicit).toEqual({ caFile: '/x/ca.crt', certFile: '/x/y.crt', keyFile: '/x/y.key' });
  });

  it('signs runner certificates with the CA the key belongs to, and says what is missing otherwise', () => {
    const material = loadTlsMaterial(servicePkiFiles(join(dir, 'pki'), 'jobforge'));
    const ca = jobforgeCertificateAuthority(loadConfig({ flags: { dataDir: dir } }), material);
    expect(ca.certPem).toBe(material.ca[0]);
    expect(ca.keyPem).toMatch(/PRIVATE KEY/);
    expect(() =>
      jobforgeCertificateAuthority(loadConfig({ flags: { dataDir: dir, 'jobforge.caKeyFile': join(dir, 'other', 'ca.key') } }), material),
    ).toThrow(/belongs to none of the CA certificates/);
    expect(() =>
      jobforgeCertificateAuthority(loadConfig({ flags: { dataDir: dir, 'jobforge.caKeyFile': join(dir, 'nope.key') } }), material),
    ).toThrow(expect.objectContaining({ name: 'InternalError', code: 'CP_COMPOSE_CA_KEY_UNREADABLE' }));
    expect(() =>
      jobforgeCertificateAuthority(loadConfig({ flags: { dataDir: dir, 'jobforge.caKeyFile': join(dir, 'nope.key') } }), material),
    ).toThrow(/set jobforge\.caKeyFile/);
  });

  it('connects to PostgreSQL as the operating-system user when the URL names none, as psql does', () => {
    const connect = (url: string, env: Record<string, string> = {}) =>
      postgresConnectionString(loadConfig({ env, flags: { 'database.url': url, 'database.sslMode': 'require' } }).database);
    expect(connect('postgres://127.0.0.1:5432/cp')).toBe(`postgres://${encodeURIComponent(userInfo().username)}@127.0.0.1:5432/cp`);
    expect(connect('postgres://alice:pw@db:5432/cp')).toBe('postgres://alice:pw@db:5432/cp');
    // The user may also come as a parameter; the port the URL leaves out is libpq's default.
    expect(connect('postgres://db/cp?user=bob')).toBe('postgres://db:5432/cp?user=bob');
    // libpq's environment comes before its defaults, and reaches the services through the config.
    expect(connect('postgres://db/', { PGUSER: 'carol', PGPORT: '6432' })).toBe('postgres://carol@db:6432/carol');
  });

  it('a production JobForge or TruthCore refuses to start without a keyring unless encryption.enabled is false, said explicitly', async () => {
    const base = { env: { DATABASE_URL: 'postgres://127.0.0.1:1/never', CONTROLPLANE_DATA_DIR: dir } };
    const none = loadConfig(base);
    for (const service of ['jobforge', 'truthcore'] as const) {
      expect(() => requiredKeyringFile(none, service)).toThrow(/CP_COMPOSE_KEYRING_REQUIRED|needs a keyring/);
      // Refused before any connection is attempted (the URL above leads nowhere).
      await expect(startServiceFromConfig(service, none, { logger: createLogger({ service, level: 'silent' }) })).rejects.toMatchObject({
        code: 'CP_COMPOSE_KEYRING_REQUIRED',
      });
    }
    const withFile = loadConfig({ env: { ...base.env, CONTROLPLANE_KEYRING_FILE: '/etc/cp/keyring.json' } });
    expect(requiredKeyringFile(withFile, 'jobforge')).toBe('/etc/cp/keyring.json');
    const off = loadConfig({ env: { ...base.env, CONTROLPLANE_ENCRYPTION_ENABLED: 'false' } });
    expect(off.encryption.enabled).toBe(false);
    expect(requiredKeyringFile(off, 'truthcore')).toBeUndefined();
    expect(STORED_IN_CLEAR).toMatch(/stored in clear/);
  });

  it('controlplane dev makes its keyring beside the CA on the first start (0600) and reuses it; none when encryption is off', async () => {
    const c = loadConfig({ env: { CONTROLPLANE_DATA_DIR: dir } });
    const first = await ensureDevKeyring(c);
    expect(first).toEqual({ file: join(dir, 'pki', 'keyring.json'), created: true });
    expect(statSync(first!.file).mode & 0o777).toBe(0o600);
    expect(await ensureDevKeyring(c)).toEqual({ file: first!.file, created: false });
    expect(
      await ensureDevKeyring(loadConfig({ env: { CONTROLPLANE_DATA_DIR: dir, CONTROLPLANE_ENCRYPTION_ENABLED: 'false' } })),
    ).toBeUndefined();
  });

  it('audit checkpoints fail closed: a directory that cannot be written refuses the start; a failed write turns /health degraded', async () => {
    const tls = loadTlsMaterial(servicePkiFiles(join(dir, 'pki'), 'jobforge'));
    const logger = createLogger({ service: 'test', level: 'silent' });
    const failingDb = { kind: 'postgres', query: () => Promise.reject(new Error('database gone')) } as unknown as Database;
    const audit = { record: () => Promise.resolve() };
    const unwritable = loadConfig({ env: { CONTROLPLANE_DATA_DIR: dir, CONTROLPLANE_AUDIT_CHECKPOINT_DIR: '/dev/null/checkpoints' } });
    expect(() => startAuditCheckpoints({ config: unwritable, db: failingDb, audit, tls, service: 'jobforge', logger })).toThrow(
      expect.objectContaining({ code: 'CP_COMPOSE_AUDIT_CHECKPOINT_DIR' }),
    );

    const writable = loadConfig({ env: { CONTROLPLANE_DATA_DIR: dir } });
    const { checkpointer, probe } = startAuditCheckpoints({ config: writable, db: failingDb, audit, tls, service: 'jobforge', logger });
    expect(statSync(join(dir, 'audit-checkpoints')).mode & 0o777).toBe(0o700);
    expect(await probe.check()).toBeUndefined();
    await expect(checkpointer.checkpoint()).rejects.toThrow('database gone');
    expect(await probe.check()).toEqual({ status: 'degraded', message: expect.stringMatching(/audit checkpoints cannot be written/) });
    await checkpointer.close();
  });
});
