/**
 * The dashboard's only way to the gateway: same-origin fetch with the session cookie, the CSRF token
 * on every state-changing request, and the key's request signature where the route needs one. The
 * API answers exactly as it would a program: every refusal comes from the server, not from here.
 */
import { signatureHeader, type Signer } from './signing.js';

export interface ApiErrorBody {
  code: string;
  message: string;
  category?: string;
  details?: Array<{ path: string; message: string }>;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: ApiErrorBody,
  ) {
    super(body.message);
  }
}

export interface SessionInfo {
  keyId: string;
  tenantId: string;
  role: 'admin' | 'operator' | 'submitter' | 'viewer';
  platformAdmin: boolean;
  csrfToken: string | null;
  expiresAt: string | null;
  idleTimeoutSeconds: number;
}

let csrfToken: string | null = null;
let onSignedOut: () => void = () => {};

export function useSession(s: SessionInfo | null, signedOut: () => void): void {
  csrfToken = s?.csrfToken ?? null;
  onSignedOut = signedOut;
}

async function answer<T>(res: Response): Promise<T> {
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  if (!res.ok) {
    const err = (body as { error?: ApiErrorBody } | undefined)?.error ?? { code: 'HTTP_' + res.status, message: `HTTP ${res.status}` };
    if (res.status === 401 && err.code === 'AUTHENTICATION_FAILED') onSignedOut();
    throw new ApiError(res.status, err);
  }
  return body as T;
}

/** Reads are asked again (twice at most) when the gateway sheds load and says when to come back. */
export async function get<T>(path: string): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    const res = await fetch(path, { credentials: 'same-origin', headers: { accept: 'application/json' } });
    const after = Number(res.headers.get('retry-after'));
    if (res.status !== 503 || attempt >= 2 || !(after > 0 && after <= 5)) return answer<T>(res);
    await new Promise((r) => setTimeout(r, after * 1000));
  }
}

/** A state-changing call: CSRF token always; the key's signature when `signer` is given. */
export async function send<T>(method: 'POST' | 'PUT', path: string, body?: unknown, signer?: Signer): Promise<T> {
  const text = body === undefined ? undefined : JSON.stringify(body);
  const headers: Record<string, string> = { accept: 'application/json' };
  if (text !== undefined) headers['content-type'] = 'application/json';
  if (csrfToken) headers['x-csrf-token'] = csrfToken;
  if (signer) headers['x-cp-signature'] = await signatureHeader(signer, method, path, text);
  return answer<T>(await fetch(path, { method, credentials: 'same-origin', headers, ...(text !== undefined ? { body: text } : {}) }));
}

/** Sign-in: the API key goes to the gateway once, as a bearer token, and comes back as a cookie. */
export async function signIn(apiKey: string): Promise<SessionInfo> {
  return answer<SessionInfo>(
    await fetch('/session', {
      method: 'POST',
      credentials: 'same-origin',
      headers: { accept: 'application/json', authorization: `Bearer ${apiKey}` },
    }),
  );
}

export async function currentSession(): Promise<SessionInfo | null> {
  try {
    const s = await get<SessionInfo>('/session');
    return s.csrfToken ? s : null;
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return null;
    throw err;
  }
}

export const q = (params: Record<string, string | number | undefined | null>): string => {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') u.set(k, String(v));
  const s = u.toString();
  return s ? `?${s}` : '';
};
