import type { KeyFile } from '@controlplane/client';
import type { CreatedApiKey } from '@controlplane/server';

/** The credentials file for a freshly created admin key (its secret and signing key, shown once). */
export function keyFileOf(k: CreatedApiKey): KeyFile {
  return {
    kind: 'controlplane-api-key',
    version: 1,
    id: k.id,
    tenantId: k.tenantId,
    role: k.role,
    name: k.name,
    key: k.key,
    signingKeyId: k.id,
    signingPrivateKey: k.signingPrivateKeyPem!,
    createdAt: k.createdAt.toISOString(),
  };
}
