/**
 * CP-SIG-V1 request signatures made in the browser (docs/request-signing.md): the private key comes
 * from the user's key file, is imported into WebCrypto as a non-extractable Ed25519 key, and never
 * leaves this page. The canonical string is built exactly as @controlplane/contracts builds it
 * (packages/web/test/signing.test.ts checks the two against each other).
 */
/** WebCrypto's key type, named so the file typechecks under Node's types as well as the DOM's (the unit test runs it in Node). */
type WebCryptoKey = Awaited<ReturnType<typeof crypto.subtle.importKey>>;

export interface Signer {
  keyId: string;
  key: WebCryptoKey;
}

const te = new TextEncoder();

function normaliseComponent(raw: string, plusIsSpace: boolean): string {
  const bytes: number[] = [];
  let i = 0;
  while (i < raw.length) {
    const ch = raw[i];
    if (ch === '%') {
      const hex = raw.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) throw new Error('the url has a "%" not followed by two hex digits');
      bytes.push(parseInt(hex, 16));
      i += 3;
    } else if (plusIsSpace && ch === '+') {
      bytes.push(0x20);
      i += 1;
    } else {
      let end = i + 1;
      while (end < raw.length && raw[end] !== '%' && !(plusIsSpace && raw[end] === '+')) end += 1;
      for (const b of te.encode(raw.slice(i, end))) bytes.push(b);
      i = end;
    }
  }
  let out = '';
  for (const b of bytes) {
    const unreserved =
      (b >= 0x41 && b <= 0x5a) ||
      (b >= 0x61 && b <= 0x7a) ||
      (b >= 0x30 && b <= 0x39) ||
      b === 0x2d ||
      b === 0x2e ||
      b === 0x5f ||
      b === 0x7e;
    out += unreserved ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

export function canonicalPath(path: string): string {
  return path
    .split('/')
    .map((s) => normaliseComponent(s, false))
    .join('/');
}

export function canonicalQuery(query: string): string {
  const pairs: [string, string][] = [];
  for (const piece of query.split('&')) {
    if (piece === '') continue;
    const eq = piece.indexOf('=');
    pairs.push([
      normaliseComponent(eq === -1 ? piece : piece.slice(0, eq), true),
      normaliseComponent(eq === -1 ? '' : piece.slice(eq + 1), true),
    ]);
  }
  pairs.sort(([an, av], [bn, bv]) => (an < bn ? -1 : an > bn ? 1 : av < bv ? -1 : av > bv ? 1 : 0));
  return pairs.map(([n, v]) => `${n}=${v}`).join('&');
}

const hex = (b: ArrayBuffer) => [...new Uint8Array(b)].map((x) => x.toString(16).padStart(2, '0')).join('');

function base64url(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export async function canonicalRequestString(r: {
  method: string;
  url: string;
  body: string | undefined;
  keyId: string;
  timestamp: number;
  nonce: string;
}): Promise<string> {
  const q = r.url.indexOf('?');
  const path = q === -1 ? r.url : r.url.slice(0, q);
  const query = q === -1 ? '' : r.url.slice(q + 1);
  const digest = hex(await crypto.subtle.digest('SHA-256', te.encode(r.body ?? '')));
  return [
    'CP-SIG-V1',
    r.method.toUpperCase(),
    canonicalPath(path),
    canonicalQuery(query),
    digest,
    String(r.timestamp),
    r.nonce,
    r.keyId,
  ].join('\n');
}

/** The `x-cp-signature` header for one request: a fresh nonce and the current time each call. */
export async function signatureHeader(
  signer: Signer,
  method: string,
  url: string,
  body: string | undefined,
  now: Date = new Date(),
): Promise<string> {
  const timestamp = Math.floor(now.getTime() / 1000);
  const nonce = base64url(crypto.getRandomValues(new Uint8Array(16)));
  const canonical = await canonicalRequestString({ method, url, body, keyId: signer.keyId, timestamp, nonce });
  const sig = new Uint8Array(await crypto.subtle.sign({ name: 'Ed25519' }, signer.key, te.encode(canonical)));
  return `keyId=${signer.keyId},ts=${timestamp},nonce=${nonce},sig=${base64url(sig)}`;
}

/** A PKCS#8 PEM Ed25519 private key as a non-extractable WebCrypto signing key. */
export async function importSigningKey(pem: string): Promise<WebCryptoKey> {
  const m = /-----BEGIN PRIVATE KEY-----([\s\S]+?)-----END PRIVATE KEY-----/.exec(pem);
  if (!m) throw new Error('the signing key is not a PKCS#8 PEM private key');
  const der = Uint8Array.from(atob(m[1]!.replace(/\s+/g, '')), (c) => c.charCodeAt(0));
  return crypto.subtle.importKey('pkcs8', der, { name: 'Ed25519' }, false, ['sign']);
}

const pem = (label: string, der: ArrayBuffer) => {
  let s = '';
  for (const b of new Uint8Array(der)) s += String.fromCharCode(b);
  const body = btoa(s)
    .replace(/(.{64})/g, '$1\n')
    .replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${body}\n-----END ${label}-----\n`;
};

/** A new Ed25519 pair made in this page: the public key goes to the server, the private key only into the key file. */
export async function newSigningKeyPair(): Promise<{ publicKeyPem: string; privateKeyPem: string }> {
  const pair = (await crypto.subtle.generateKey({ name: 'Ed25519' }, true, ['sign', 'verify'])) as {
    publicKey: WebCryptoKey;
    privateKey: WebCryptoKey;
  };
  return {
    publicKeyPem: pem('PUBLIC KEY', await crypto.subtle.exportKey('spki', pair.publicKey)),
    privateKeyPem: pem('PRIVATE KEY', await crypto.subtle.exportKey('pkcs8', pair.privateKey)),
  };
}
