import type { Server, TLSSocket } from 'node:tls';
import { InternalError } from '@controlplane/contracts';
import { resolveSocketPrincipal, type Principal } from './principal.js';

export type PeerRejectionReason = 'no-principal' | 'denied' | 'verify-error' | 'verify-timeout';

export interface PeerRejection {
  readonly reason: PeerRejectionReason;
  readonly principal?: Principal;
  readonly error?: Error;
  readonly remoteAddress?: string;
}

export interface PeerVerificationOptions {
  readonly trustDomain: string;
  /** Called for every new connection, e.g. to check revocation. Anything but `true` cuts the connection. */
  readonly verifyPeer: (principal: Principal) => boolean | Promise<boolean>;
  /** For logs and audit; must not throw. */
  readonly onReject?: (rejection: PeerRejection) => void;
  /** A verdict that takes longer than this cuts the connection. Default 10 s. */
  readonly timeoutMs?: number;
}

const verifiedPrincipals = new WeakMap<TLSSocket, Principal>();

/** The principal `attachPeerVerification` admitted on this socket (e.g. `req.socket` in a handler). */
export function getVerifiedPrincipal(socket: unknown): Principal | undefined {
  return verifiedPrincipals.get(socket as TLSSocket);
}

const DEFAULT_TIMEOUT_MS = 10_000;

/**
 * Checks the peer of every connection before the server's own `secureConnection` handling (for
 * an https.Server: the HTTP parser) sees the socket. A plain extra listener would not do: the
 * HTTP layer is already listening, so with an asynchronous `verifyPeer` a request could be
 * dispatched before the verdict. The server's `emit` is therefore wrapped so that
 * `secureConnection` is only delivered, to every listener, once the peer is admitted.
 *
 * Returns a function that removes the check.
 */
export function attachPeerVerification(server: Server, options: PeerVerificationOptions): () => void {
  const { trustDomain, verifyPeer, onReject } = options;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const originalEmit = server.emit;
  const emitRaw = originalEmit as (this: Server, event: string | symbol, ...args: unknown[]) => boolean;

  const reject = (socket: TLSSocket, rejection: Omit<PeerRejection, 'remoteAddress'>): void => {
    // Read before destroy(): a destroyed socket no longer knows its peer's address.
    const remoteAddress = socket.remoteAddress;
    socket.destroy();
    if (onReject) {
      try {
        onReject({ ...rejection, ...(remoteAddress ? { remoteAddress } : {}) });
      } catch {
        // A failing logger must not turn a refusal into a crash.
      }
    }
  };

  const admit = (socket: TLSSocket, principal: Principal, args: unknown[]): void => {
    verifiedPrincipals.set(socket, principal);
    emitRaw.call(server, 'secureConnection', socket, ...args.slice(1));
  };

  const gate = (socket: TLSSocket, args: unknown[]): void => {
    const resolved = resolveSocketPrincipal(socket, { trustDomain });
    if ('error' in resolved) return reject(socket, { reason: 'no-principal', error: resolved.error });
    const { principal } = resolved;
    let verdict: boolean | Promise<boolean>;
    try {
      verdict = verifyPeer(principal);
    } catch (err) {
      return reject(socket, { reason: 'verify-error', principal, error: err as Error });
    }
    if (verdict === true) return admit(socket, principal, args);
    if (typeof (verdict as Promise<boolean> | undefined)?.then !== 'function') return reject(socket, { reason: 'denied', principal });

    // While the verdict is pending nobody else listens on the socket: an error (e.g. the peer
    // resetting) would otherwise be unhandled and crash the process.
    const onError = (): void => {
      socket.destroy();
    };
    socket.on('error', onError);
    let settled = false;
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      socket.removeListener('error', onError);
      reject(socket, {
        reason: 'verify-timeout',
        principal,
        error: new InternalError('CP_TLS_PEER_VERIFY_TIMEOUT', { params: { timeoutMs } }),
      });
    }, timeoutMs);
    timer.unref();
    (verdict as Promise<boolean>).then(
      (ok) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        socket.removeListener('error', onError);
        if (socket.destroyed) return;
        if (ok === true) admit(socket, principal, args);
        else reject(socket, { reason: 'denied', principal });
      },
      (err: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        socket.removeListener('error', onError);
        reject(socket, { reason: 'verify-error', principal, error: err instanceof Error ? err : new Error(String(err)) });
      },
    );
  };

  const gatedEmit = function (this: Server, event: string | symbol, ...args: unknown[]): boolean {
    if (event !== 'secureConnection') return emitRaw.call(this, event, ...args);
    gate(args[0] as TLSSocket, args);
    return true;
  } as Server['emit'];

  server.emit = gatedEmit;
  return () => {
    if (server.emit === gatedEmit) server.emit = originalEmit;
  };
}
