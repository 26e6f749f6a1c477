import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InternalError } from '@controlplane/contracts';
import { loadConfig } from '@controlplane/platform';

function tempFile(content: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'cp-config-'));
  const file = join(dir, 'config.json');
  writeFileSync(file, content);
  return file;
}

describe('loadConfig', () => {
  it('gives the embedded defaults with nothing set', () => {
    const c = loadConfig();
    expect(c.database.mode).toBe('embedded');
    expect(c.redis.mode).toBe('embedded');
    expect(c.trustDomain).toBe('controlplane.local');
    expect(c.gateway.listen.port).toBe(8443);
    expect(c.jobforge.url).toBe('https://127.0.0.1:8444');
  });

  it('applies flags > file > environment', () => {
    const file = tempFile(JSON.stringify({ gateway: { listen: { port: 9000 } }, log: { level: 'debug' } }));
    const env = { CONTROLPLANE_GATEWAY_PORT: '7000', CONTROLPLANE_LOG_LEVEL: 'warn', CONTROLPLANE_TRUST_DOMAIN: 'example.org' };
    const c = loadConfig({ env, file, flags: { 'log.level': 'error' } });
    expect(c.gateway.listen.port).toBe(9000); // file beats env
    expect(c.log.level).toBe('error'); // flag beats file
    expect(c.trustDomain).toBe('example.org'); // env beats default
  });

  it('reads the file named by CONTROLPLANE_CONFIG', () => {
    const file = tempFile(JSON.stringify({ dataDir: '/var/lib/cp' }));
    expect(loadConfig({ env: { CONTROLPLANE_CONFIG: file } }).dataDir).toBe('/var/lib/cp');
  });

  it('switches to real backends when DATABASE_URL / REDIS_URL are given', () => {
    const c = loadConfig({ env: { DATABASE_URL: 'postgres://127.0.0.1/test', REDIS_URL: 'redis://127.0.0.1:6379' } });
    expect(c.database).toMatchObject({ mode: 'postgres', url: 'postgres://127.0.0.1/test' });
    expect(c.redis).toMatchObject({ mode: 'redis', url: 'redis://127.0.0.1:6379' });
  });

  it('is frozen all the way down', () => {
    const c = loadConfig();
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.gateway.listen)).toBe(true);
    expect(() => {
      (c.gateway.listen as { port: number }).port = 1;
    }).toThrow(TypeError);
  });

  it('lists every problem with its path and env var', () => {
    let err: InternalError | undefined;
    try {
      loadConfig({ env: { CONTROLPLANE_GATEWAY_PORT: 'eighty', CONTROLPLANE_LOG_LEVEL: 'loud' } });
    } catch (e) {
      err = e as InternalError;
    }
    expect(err).toBeInstanceOf(InternalError);
    expect(err!.code).toBe('CP_CONFIG_INVALID');
    expect(err!.params.problems).toMatch(/gateway\.listen\.port: .*\[env CONTROLPLANE_GATEWAY_PORT\]/);
    expect(err!.params.problems).toMatch(/log\.level: /);
  });

  describe('fails closed on security settings', () => {
    it.each([
      ['plaintext service URL', { flags: { 'jobforge.url': 'http://127.0.0.1:8444' } }, /jobforge\.url: must be an https:\/\/ URL/],
      ['postgres mode without a URL', { flags: { 'database.mode': 'postgres' } }, /database\.url: is required/],
      ['plaintext redis to a remote host', { env: { REDIS_URL: 'redis://redis.internal:6379' } }, /use rediss:\/\//],
      [
        'a redis CA with a plaintext URL',
        { env: { REDIS_URL: 'redis://127.0.0.1:6379', CONTROLPLANE_REDIS_TLS_CA_FILE: '/ca.pem' } },
        /redis\.tlsCaFile/,
      ],
      [
        'TLS disabled to a remote database',
        { env: { DATABASE_URL: 'postgres://db.internal/cp' } },
        /database\.sslMode: is 'disable' for a non-local database/,
      ],
      [
        'TLS disabled to a remote database that PGHOST names',
        { env: { DATABASE_URL: 'postgres:///cp', PGHOST: 'db.internal' } },
        /database\.sslMode: is 'disable' for a non-local database/,
      ],
      [
        'a PGPORT that is no port',
        { env: { DATABASE_URL: 'postgres:///cp', PGPORT: 'fifty' } },
        /database\.urlDefaults\.port.*\[env PGPORT\]/,
      ],
      [
        'a downgradable sslmode in the URL',
        { env: { DATABASE_URL: 'postgres://db.internal/cp?sslmode=prefer', CONTROLPLANE_DATABASE_SSL_MODE: 'verify-full' } },
        /may fall back to plaintext/,
      ],
      ['an unknown TLS mode', { env: { CONTROLPLANE_DATABASE_SSL_MODE: 'maybe' } }, /database\.sslMode/],
      ['a public cert without its key', { flags: { 'gateway.publicCertFile': '/c.pem' } }, /publicKeyFile/],
    ])('%s', (_name, opts, message) => {
      expect(() => loadConfig(opts as Parameters<typeof loadConfig>[0])).toThrow(message);
    });
  });

  it('refuses unreadable, non-JSON and prototype-polluting files', () => {
    expect(() => loadConfig({ file: '/nonexistent/cp.json' })).toThrow(/cannot read config file/);
    expect(() => loadConfig({ file: tempFile('{ nope') })).toThrow(/not valid JSON/);
    expect(() => loadConfig({ file: tempFile('{"__proto__": {"polluted": true}}') })).toThrow(/forbidden key/);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
