import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import { Redis, type RedisOptions as IORedisOptions } from 'ioredis';
import { InternalError } from '@controlplane/contracts';
import { RedisKeys } from './keys.js';

export interface RedisTlsOptions {
  /** PEM file of the CA that signed the server certificate (default: the system roots). */
  caFile?: string;
  /** Client certificate and key, when the server asks for mutual TLS. */
  certFile?: string;
  keyFile?: string;
  /** Name to verify the server certificate against (default: the URL host when it is a name). */
  servername?: string;
}

export interface RedisOptions {
  /** `redis://` (plaintext) or `rediss://` (TLS) URL with optional user, password and `/db`. */
  url: string;
  /** TLS material; only valid with a `rediss://` URL. */
  tls?: RedisTlsOptions;
  /** Prefix of every key (see RedisKeys); default `cp`. */
  keyPrefix?: string;
  connectTimeoutMs?: number;
  /**
   * A command without a reply after this long fails. Give a connection used for blocking commands
   * (BLPOP, XREAD BLOCK) its own client with a timeout longer than the block.
   */
  commandTimeoutMs?: number;
  /** Shown in CLIENT LIST. */
  connectionName?: string;
  /** Told about connection errors; the client keeps reconnecting on its own. */
  onError?: (err: Error) => void;
}

export interface RedisConnection {
  readonly client: Redis;
  readonly keys: RedisKeys;
  close(): Promise<void>;
}

const MAX_RECONNECT_DELAY_MS = 5_000;

const NO_SOCKET_STATUSES = new Set(['end', 'reconnecting', 'wait']);

// Read through a function so TypeScript does not keep a narrowing across the awaits that change it.
function statusOf(client: Redis): string {
  return client.status;
}

/**
 * The ioredis options createRedis uses, exported so the TLS and failure-mode choices can be checked
 * without a server:
 * - enableOfflineQueue false: while disconnected a command fails at once instead of queueing
 *   without bound; callers sit behind circuit breakers and retry with backoff themselves.
 * - maxRetriesPerRequest 0 and autoResendUnfulfilledCommands false: a command in flight when the
 *   connection drops is failed, never sent a second time. A script such as token_bucket is not
 *   idempotent, and a silent resend would take its tokens twice.
 * - reconnection continues forever with capped, jittered backoff, so a Redis restart heals itself.
 */
export function redisClientOptions(options: RedisOptions): IORedisOptions {
  let url: URL;
  try {
    url = new URL(options.url);
  } catch {
    throw new InternalError('CP_REDIS_CONFIG_URL_INVALID', { params: { problem: 'is not a valid URL' } });
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    throw new InternalError('CP_REDIS_CONFIG_URL_INVALID', {
      params: { problem: `must start with redis:// or rediss://, not ${url.protocol}//` },
    });
  }
  const useTls = url.protocol === 'rediss:';
  if (options.tls && !useTls) {
    // Fail closed: TLS settings next to a plaintext URL mean someone expects encryption they would not get.
    throw new InternalError('CP_REDIS_CONFIG_TLS_WITH_PLAINTEXT_URL');
  }
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1') || '127.0.0.1';
  const dbText = url.pathname.replace(/^\//, '');
  if (dbText !== '' && !/^\d+$/.test(dbText)) {
    throw new InternalError('CP_REDIS_CONFIG_URL_INVALID', { params: { problem: `database must be a number, not ${dbText}` } });
  }

  let tls: ConnectionOptions | undefined;
  if (useTls) {
    const files = options.tls ?? {};
    const read = (file: string | undefined, what: string) => {
      if (file === undefined) return undefined;
      try {
        return readFileSync(file);
      } catch (err) {
        throw new InternalError('CP_REDIS_CONFIG_TLS_FILE_UNREADABLE', {
          params: { what, file, reason: err instanceof Error ? err.message : String(err) },
          cause: err,
        });
      }
    };
    if (Boolean(files.certFile) !== Boolean(files.keyFile)) throw new InternalError('CP_REDIS_CONFIG_TLS_CERT_WITHOUT_KEY');
    const ca = read(files.caFile, 'CA');
    const cert = read(files.certFile, 'certificate');
    const key = read(files.keyFile, 'key');
    const servername = files.servername ?? (isIP(host) === 0 ? host : undefined);
    tls = {
      rejectUnauthorized: true,
      minVersion: 'TLSv1.2',
      ...(ca ? { ca } : {}),
      ...(cert ? { cert } : {}),
      ...(key ? { key } : {}),
      ...(servername ? { servername } : {}),
    };
  }

  return {
    host,
    port: url.port ? Number(url.port) : 6379,
    ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
    ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
    db: dbText === '' ? 0 : Number(dbText),
    ...(tls ? { tls } : {}),
    ...(options.connectionName ? { connectionName: options.connectionName } : {}),
    connectTimeout: options.connectTimeoutMs ?? 5_000,
    commandTimeout: options.commandTimeoutMs ?? 2_000,
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    retryStrategy: (attempt) => Math.min(MAX_RECONNECT_DELAY_MS, 100 * 2 ** Math.min(attempt, 6)) * (0.5 + Math.random() / 2),
  };
}

/**
 * Connects to Redis and resolves once the server answers, so a wrong URL or an unreachable server
 * is a start-up error rather than failures on the first requests.
 */
export async function createRedis(options: RedisOptions): Promise<RedisConnection> {
  const keys = new RedisKeys(options.keyPrefix ?? 'cp');
  const client = new Redis(redisClientOptions(options));
  const onError = options.onError ?? (() => {});
  // ioredis prints unhandled error events; a listener keeps reconnect noise in the caller's logs.
  client.on('error', (err: Error) => onError(err));
  try {
    await client.connect();
  } catch (err) {
    client.disconnect();
    const where = `${String(client.options.host)}:${String(client.options.port)}`;
    throw new InternalError('CP_REDIS_CONNECT_FAILED', {
      params: { where, reason: err instanceof Error ? err.message : String(err) },
      cause: err,
    });
  }
  let closed: Promise<void> | undefined;
  return {
    client,
    keys,
    close() {
      closed ??= (async () => {
        if (client.status === 'end') return;
        const ended = new Promise<void>((resolve) => client.once('end', resolve));
        try {
          await client.quit();
        } catch {
          // Not connected (offline queue disabled): nothing to flush; just stop reconnecting.
          client.disconnect();
        }
        // A client that still has a socket ends when the socket closes; waiting for it means no
        // handle outlives close(). Between reconnect attempts there is no socket and no 'end' comes.
        if (!NO_SOCKET_STATUSES.has(statusOf(client))) await ended;
      })();
      return closed;
    },
  };
}
