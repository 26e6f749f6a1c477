export {
  LocalFileKeyProvider,
  generateKeyringFile,
  addKekToKeyringFile,
  type KeyProvider,
  type KeyWrapContext,
  type WrappedKeyMaterial,
} from './key-provider.js';
export { generateDataKey, InMemoryDataKeyStore, type DataKey, type DataKeyStore, type WrappedDataKey } from './data-keys.js';
export { Keyring, BLIND_INDEX_KEY_ID, type KeyringOptions } from './keyring.js';
export { FieldCipher, isEncrypted, dataKeyIdOf, FIELD_CIPHERTEXT_PREFIX, type FieldAad, type FieldValue } from './field-cipher.js';
export { blindIndex, deriveBlindIndexKey } from './blind-index.js';
export { InMemoryNonceStore, type NonceStore, type InMemoryNonceStoreOptions } from './nonce-store.js';
export {
  SIGNATURE_HEADER,
  SIGNATURE_VERSION,
  DEFAULT_SIGNATURE_WINDOW_SECONDS,
  signRequest,
  verifyRequestSignature,
  generateSigningKeyPair,
  canonicalRequestString,
  canonicalPath,
  canonicalQuery,
  bodyDigest,
  parseSignatureHeader,
  formatSignatureHeader,
  type SignatureHeaderFields,
  type CanonicalRequest,
  type SignRequestOptions,
  type VerifyRequestOptions,
  type SigningKeyPair,
} from './request-signing.js';
export {
  resultDigest,
  signJobEnvelope,
  verifyJobEnvelope,
  signJobEnvelopes,
  verifyJobEnvelopes,
  signJobResult,
  signJobResults,
  verifyJobResult,
  type EnvelopeSignatureFields,
  type ResultSignatureFields,
} from './provenance.js';
