// The system as `controlplane dev` composes it (embedded PGlite, gateway, JobForge and TruthCore on
// mTLS), a tenant admin and a platform admin key, and a raw HTTPS caller that signs when asked and
// waits out the load shedder's 503 OVERLOADED the way a well-behaved client does.
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLogger, loadConfig, signRequest, SIGNATURE_HEADER } from '@controlplane/platform';
import {
  asSystem,
  createApiKey,
  createBootstrapAdminKey,
  ensureDevPki,
  ensureTenant,
  startSystem,
  type DevPki,
  type RunningSystem,
} from '@controlplane/server';

export const silent = (service: string) => createLogger({ service, level: 'silent' });

export interface Answer {
  status: number;
  text: string;
  body: any;
}

export interface DevKey {
  id: string;
  key: string;
  signingPrivateKeyPem?: string | undefined;
}

export interface CallOptions {
  sign?: boolean;
  /** The admin of the `system` tenant (platform routes) instead of the `dev` tenant's. */
  platform?: boolean;
  /** Sent as is instead of JSON-encoding `body`. */
  rawBody?: string;
  contentType?: string;
  /** Send to this base URL instead of the gateway's. */
  base?: string;
  agent?: Agent;
  /** Read an event stream to its end (a finished job's ends on its own) instead of answering at its start. */
  readStream?: boolean;
}

export interface DevSystem {
  dir: string;
  pki: DevPki;
  system: RunningSystem;
  admin: DevKey;
  platformAdmin: DevKey;
  agent: Agent;
  /** Every answer of 400 or more, for contract checks. */
  errors: Array<{ what: string; body: unknown }>;
  call(method: string, path: string, body?: unknown, o?: CallOptions): Promise<Answer>;
  close(): Promise<void>;
}

export async function startDevSystem(prefix: string): Promise<DevSystem> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const config = loadConfig({
    env: {},
    flags: {
      dataDir: dir,
      'gateway.listen.port': 0,
      'jobforge.listen.port': 0,
      'truthcore.listen.port': 0,
      'jobforge.enrollListen.port': 0,
    },
  });
  const pki = await ensureDevPki(config);
  const system = await startSystem({ config, pki, loggerFor: silent });
  await ensureTenant(system.db, { id: 'dev', name: 'Development' });
  const admin = await createBootstrapAdminKey(system.db, 'dev', 'test admin');
  const platformAdmin = await asSystem('test: platform admin key', () =>
    createApiKey(system.db, { tenantId: 'system', role: 'admin', name: 'platform admin' }),
  );
  const agent = new Agent({ ca: pki.ca.certPem, keepAlive: true });
  const errors: DevSystem['errors'] = [];

  const once = (method: string, path: string, body: unknown, o: CallOptions): Promise<Answer> => {
    const text = o.rawBody ?? (body === undefined ? undefined : JSON.stringify(body));
    const key = o.platform ? platformAdmin : admin;
    const headers: Record<string, string> = { authorization: `Bearer ${key.key}`, accept: 'application/json' };
    if (text !== undefined) headers['content-type'] = o.contentType ?? 'application/json';
    if (o.sign) {
      const sign = (url: string) => signRequest({ method, url, body: text, keyId: key.id, privateKey: key.signingPrivateKeyPem! });
      try {
        headers[SIGNATURE_HEADER] = sign(path);
      } catch {
        // A URL with no canonical form (a broken % escape) cannot be signed: send a signature over
        // its repaired form, which the server must refuse cleanly.
        headers[SIGNATURE_HEADER] = sign(path.replace(/%(?![0-9A-Fa-f]{2})/g, '%25'));
      }
    }
    return new Promise((resolve, reject) => {
      const req = httpsRequest(
        `${o.base ?? system.gateway.url}${path}`,
        { method, agent: o.agent ?? agent, headers, timeout: 20_000 },
        (res) => {
          // An event stream that opened stays open: its status is the answer.
          if (!o.readStream && String(res.headers['content-type'] ?? '').startsWith('text/event-stream')) {
            resolve({ status: res.statusCode ?? 0, text: '', body: undefined });
            res.destroy();
            return;
          }
          let t = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (t += c));
          res.on('end', () => {
            let parsed: unknown;
            try {
              parsed = JSON.parse(t);
            } catch {
              parsed = undefined;
            }
            resolve({ status: res.statusCode ?? 0, text: t, body: parsed });
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`${method} ${path} got no answer`)));
      req.on('error', reject);
      req.end(text);
    });
  };

  return {
    dir,
    pki,
    system,
    admin,
    platformAdmin,
    agent,
    errors,
    async call(method, path, body, o = {}) {
      for (let i = 0; ; i++) {
        const res = await once(method, path, body, o);
        if (res.status !== 503 || res.body?.error?.code !== 'OVERLOADED' || i >= 20) {
          if (res.status >= 400) errors.push({ what: `${method} ${path} → ${res.status}`, body: res.body });
          return res;
        }
        await sleep(500);
      }
    },
    async close() {
      agent.destroy();
      await system.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
