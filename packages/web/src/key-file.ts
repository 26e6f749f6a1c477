import { importSigningKey, type Signer } from './signing.js';

/** What the dashboard takes from a key file (`controlplane keys create --out`, or the dev admin key). */
export interface LoadedKeyFile {
  apiKey: string;
  signer: Signer | null;
  keyId: string;
}

/** Reads a key file's JSON; the private key becomes a non-extractable CryptoKey and the text is dropped. */
export async function readKeyFile(text: string): Promise<LoadedKeyFile> {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new Error('That file is not a ControlPlane key file (it is not JSON).');
  }
  const f = data as { kind?: unknown; key?: unknown; id?: unknown; signingKeyId?: unknown; signingPrivateKey?: unknown };
  if (f.kind !== 'controlplane-api-key' || typeof f.key !== 'string' || typeof f.id !== 'string')
    throw new Error('That file is not a ControlPlane key file.');
  const keyId = typeof f.signingKeyId === 'string' ? f.signingKeyId : f.id;
  const signer = typeof f.signingPrivateKey === 'string' ? { keyId, key: await importSigningKey(f.signingPrivateKey) } : null;
  return { apiKey: f.key, signer, keyId: f.id };
}
