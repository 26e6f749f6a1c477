import { describe, expect, it } from 'vitest';
import { loadConfig, resolvePostgresUrl } from '@controlplane/platform';

// Database URLs mean what they mean to psql: every part a URL leaves out comes from libpq's
// environment (PGHOST, PGPORT, PGUSER, PGDATABASE), else from libpq's defaults.
describe('resolvePostgresUrl', () => {
  const osUser = () => 'dora';
  const resolve = (url: string, defaults = {}) => resolvePostgresUrl(url, defaults, osUser);

  it('leaves a complete URL alone', () => {
    expect(resolve('postgres://alice:s3cret@db.internal:6432/cp?sslmode=require')).toBe(
      'postgres://alice:s3cret@db.internal:6432/cp?sslmode=require',
    );
    expect(resolve('postgres://db/cp?user=bob&port=6000')).toBe('postgres://db/cp?user=bob&port=6000');
  });

  it('takes the user from PGUSER, else the operating-system user, never from $USER', () => {
    expect(resolve('postgres://127.0.0.1:5432/cp')).toBe('postgres://dora@127.0.0.1:5432/cp');
    expect(resolve('postgres://127.0.0.1:5432/cp', { user: 'svc' })).toBe('postgres://svc@127.0.0.1:5432/cp');
    // No operating-system user either (a uid without a passwd entry): node-postgres decides, as before.
    expect(resolvePostgresUrl('postgres://127.0.0.1:5432/cp', {}, () => undefined)).toBe('postgres://127.0.0.1:5432/cp');
  });

  it('takes host, port and database from PGHOST, PGPORT and PGDATABASE, else localhost, 5432 and the user name', () => {
    expect(resolve('postgres://')).toBe('postgres://dora@localhost:5432/dora');
    expect(resolve('postgresql:///cp')).toBe('postgresql://dora@localhost:5432/cp');
    expect(resolve('postgres://', { host: 'db.internal', port: 6432, user: 'svc', database: 'cp' })).toBe(
      'postgres://svc@db.internal:6432/cp',
    );
    expect(resolve('postgres://', { host: '::1' })).toBe('postgres://dora@[::1]:5432/dora');
    // A URL's own database wins over PGDATABASE, and a user given in the URL names the default database.
    expect(resolve('postgres://db/cp', { database: 'other' })).toBe('postgres://dora@db:5432/cp');
    expect(resolve('postgres://erin@db')).toBe('postgres://erin@db:5432/erin');
  });

  it('connects through a Unix socket when PGHOST is a directory', () => {
    const url = resolve('postgres:///cp', { host: '/var/run/postgresql' });
    const parsed = new URL(url);
    expect(parsed.hostname).toBe('');
    expect(parsed.pathname).toBe('/cp');
    expect(Object.fromEntries(parsed.searchParams)).toEqual({ host: '/var/run/postgresql', port: '5432', user: 'dora' });
  });

  it('keeps names that need escaping intact', () => {
    const url = new URL(resolve('postgres://db', { user: 'a b@c%d', database: 'my db' }));
    expect(decodeURIComponent(url.username)).toBe('a b@c%d');
    expect(decodeURI(url.pathname)).toBe('/my db');
  });

  it('returns anything that is not a postgres URL unchanged', () => {
    for (const other of ['host=db dbname=cp', 'mysql://db/cp', 'not a url']) expect(resolve(other)).toBe(other);
  });

  it('is fed by the config loader from the environment it is given', () => {
    const c = loadConfig({ env: { DATABASE_URL: 'postgres://127.0.0.1/cp', PGUSER: 'svc', PGPORT: '6432', PGDATABASE: 'x', PGHOST: 'h' } });
    expect(c.database.urlDefaults).toEqual({ user: 'svc', port: 6432, database: 'x', host: 'h' });
    expect(resolvePostgresUrl(c.database.url!, c.database.urlDefaults)).toBe('postgres://svc@127.0.0.1:6432/cp');
    expect(loadConfig({ env: {} }).database.urlDefaults).toEqual({});
  });
});
