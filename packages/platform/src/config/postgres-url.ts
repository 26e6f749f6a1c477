import { userInfo } from 'node:os';

/**
 * What libpq's environment says about a connection: PGHOST, PGPORT, PGUSER and PGDATABASE, as
 * the config loader read them (config `database.urlDefaults`).
 */
export interface PostgresUrlDefaults {
  readonly host?: string | undefined;
  readonly port?: number | undefined;
  readonly user?: string | undefined;
  readonly database?: string | undefined;
}

// libpq's own last resort for the host is a Unix socket in a directory fixed when it was built;
// node-postgres knows no such directory, so it is the other libpq default: localhost over TCP.
const FALLBACK_HOST = 'localhost';
const FALLBACK_PORT = 5432;

function decodeUserinfo(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** The operating-system user's name, libpq's default user; undefined when the system has none. */
export function operatingSystemUser(): string | undefined {
  try {
    return userInfo().username || undefined;
  } catch {
    return undefined;
  }
}

/**
 * A `postgres://` URL with every part it leaves out filled in the way psql fills it: host, port,
 * user and database from the URL (or its `host`, `port`, `user` query parameters), else from
 * `defaults` (libpq's environment variables), else libpq's defaults — localhost, 5432, the
 * operating-system user, and a database named like the user. node-postgres would instead read
 * process.env itself and fall back to $USER, which containers and service managers often leave
 * unset: `postgres://127.0.0.1:5432/db` worked with psql and failed here with "no PostgreSQL user
 * name specified". Anything that is not a postgres URL is returned unchanged.
 */
export function resolvePostgresUrl(
  url: string,
  defaults: PostgresUrlDefaults = {},
  osUser: () => string | undefined = operatingSystemUser,
): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return url;
  }
  if (!/^postgres(ql)?:$/.test(u.protocol)) return url;
  const query = u.searchParams;
  if (!u.hostname && !query.has('host')) {
    const host = defaults.host ?? FALLBACK_HOST;
    // A directory is a Unix socket, which node-postgres takes as the `host` parameter.
    if (host.startsWith('/')) query.set('host', host);
    else u.hostname = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  }
  // A URL without a host part (socket in the query) cannot carry a user or port: they go in the query.
  const inQuery = !u.hostname;
  if (!u.port && !query.has('port')) {
    const port = String(defaults.port ?? FALLBACK_PORT);
    if (inQuery) query.set('port', port);
    else u.port = port;
  }
  let user = u.username ? decodeUserinfo(u.username) : (query.get('user') ?? undefined);
  if (!user) {
    user = defaults.user ?? osUser();
    if (user !== undefined) {
      if (inQuery) query.set('user', user);
      else u.username = encodeURIComponent(user);
    }
  }
  if (u.pathname === '' || u.pathname === '/') {
    const database = defaults.database ?? user;
    if (database !== undefined) u.pathname = `/${encodeURIComponent(database)}`;
  }
  return u.toString();
}
