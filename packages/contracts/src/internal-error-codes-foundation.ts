import type { InternalErrorSpec } from './internal-error-codes.js';

/**
 * Internal error codes of the foundations every service stands on: configuration, PKI and mTLS,
 * field encryption and keyrings, request signing. Part of INTERNAL_ERROR_CODES (internal-error-codes.ts).
 */
export const FOUNDATION_ERROR_CODES = {
  // configuration
  CP_CONFIG_INVALID: {
    message: 'configuration is not valid{source}:\n{problems}',
    hint: 'Fix each listed setting (flag, config file or environment variable, see docs/deployment.md) and start again.',
  },

  // PKI: identities, the CA, certificate issuance
  CP_PKI_SPIFFE_ID_INVALID: {
    message: 'Invalid SPIFFE id {id}: {reason}.',
    hint: 'Use spiffe://<trust domain>/<kind>/<id>, the kind service, runner or client, the id letters, digits, ".", "_" and "-".',
  },
  CP_PKI_SPIFFE_TRUST_DOMAIN_INVALID: {
    message:
      "Invalid trust domain {trustDomain}: use lowercase letters, digits, '-', '_' and dot-separated labels (e.g. controlplane.local).",
    hint: 'Set trustDomain (CONTROLPLANE_TRUST_DOMAIN) to a name such as controlplane.local.',
  },
  CP_PKI_SPIFFE_KIND_UNKNOWN: {
    message: 'Unknown SPIFFE id kind {kind}; use one of {kinds}.',
    hint: 'A caller asked for an identity kind the PKI does not issue; report it as a bug.',
  },
  CP_PKI_TRUST_DOMAIN_MISMATCH: {
    message: 'The SPIFFE id is in trust domain {trustDomain}, but this CA serves {caTrustDomain}.',
    hint: "Ask for an identity in the CA's trust domain, or set trustDomain to the CA's.",
  },
  CP_PKI_CERTIFICATE_NOT_PEM: {
    message: 'No PEM certificate (-----BEGIN CERTIFICATE-----) found.',
    hint: 'Pass a PEM-encoded X.509 certificate.',
  },
  CP_PKI_CERTIFICATE_UNREADABLE: {
    message: 'Not a readable X.509 certificate.',
    hint: 'The certificate is damaged or is something else; use the file the CA issued.',
  },
  CP_PKI_CERTIFICATE_MALFORMED: {
    message: 'The certificate {problem}.',
    hint: 'A certificate whose names are ambiguous is refused; issue a new one from the built-in CA.',
  },
  CP_PKI_CSR_NOT_PEM: {
    message: 'Expected a PEM certificate signing request (-----BEGIN CERTIFICATE REQUEST-----).',
    hint: 'Send the certificate signing request in PEM form (`controlplane runner enroll` does).',
  },
  CP_PKI_CSR_UNREADABLE: {
    message: 'The certificate signing request is not readable.',
    hint: 'Create the certificate signing request again (`controlplane runner enroll` does).',
  },
  CP_PKI_CSR_SIGNATURE_INVALID: {
    message: 'The certificate signing request signature does not verify.',
    hint: 'The request was altered or signed with another key; create it again from the key it names.',
  },
  CP_PKI_KEY_PRIVATE_UNREADABLE: {
    message: 'The private key is not a readable PEM private key.',
    hint: 'Point to a PEM private key (PKCS#8 or SEC1).',
  },
  CP_PKI_KEY_PUBLIC_UNREADABLE: {
    message: 'The public key is not a readable PEM public key.',
    hint: 'Pass a PEM public key (SPKI).',
  },
  CP_PKI_KEY_NOT_PUBLIC: {
    message: 'Expected a public key.',
    hint: 'Pass the public half of the key pair, not the private key.',
  },
  CP_PKI_KEY_ALGORITHM_UNSUPPORTED: {
    message: 'Key algorithm {algorithm} is not supported; use one of {supported}.',
    hint: 'Choose ECDSA-P256 or Ed25519 (--algorithm ecdsa-p256 or ed25519).',
  },
  CP_PKI_KEY_TYPE_UNSUPPORTED: {
    message: 'Key type {keyType} is not supported; use one of {supported}.',
    hint: 'Make the key pair with ECDSA P-256 or Ed25519.',
  },
  CP_PKI_CA_NOT_FOUND: {
    message: 'No CA at {path}. Run `controlplane pki init --dir {dir}` to create one.',
    hint: 'Create the PKI with `controlplane pki init`, or point the setting at the directory holding ca.crt and ca.key.',
  },
  CP_PKI_CA_FILE_UNREADABLE: {
    message: 'Cannot read {path}: {reason}',
    hint: 'Check the path and that the process may read the file.',
  },
  CP_PKI_CA_CERT_UNREADABLE: {
    message: 'The CA certificate is not readable.',
    hint: 'Restore ca.crt from a backup.',
  },
  CP_PKI_CA_NOT_A_CA: {
    message: 'The CA certificate is not a CA (basicConstraints cA is not set).',
    hint: "ca.crt holds a leaf certificate; put the CA's own certificate there.",
  },
  CP_PKI_CA_KEY_UNREADABLE: {
    message: 'The CA private key is not readable or uses an unsupported algorithm.',
    hint: 'Restore ca.key from a backup.',
  },
  CP_PKI_CA_KEY_MISMATCH: {
    message: 'The CA private key does not belong to the CA certificate.',
    hint: 'Put the ca.key that was created with ca.crt next to it.',
  },
  CP_PKI_CA_TRUST_DOMAIN_MISSING: {
    message: 'The CA certificate does not name exactly one trust domain (a spiffe://<domain> URI SAN).',
    hint: 'Use a CA made by `controlplane pki init`.',
  },
  CP_PKI_ALREADY_EXISTS: {
    message:
      'Refusing to overwrite existing PKI files ({files}). A new CA invalidates every certificate issued by the old one; pass --force to replace them.',
    hint: 'Keep the existing PKI, or pass --force knowing that every certificate it issued stops working.',
  },
  CP_PKI_ISSUANCE_PARAMETERS_INVALID: {
    message: '{problem}',
    hint: 'Correct the parameter the message names (service names, validity, DNS names, IP addresses).',
  },

  // mTLS: a process's own material (at start-up) and its peers (per connection)
  CP_TLS_FILE_NOT_SET: {
    message:
      'mTLS needs a CA, a certificate and a key; {missing} {verb} not set. Run `controlplane pki init --dir <dir>` and set tls.caFile, tls.certFile and tls.keyFile.',
    hint: 'Set tls.caFile, tls.certFile and tls.keyFile (or CONTROLPLANE_TLS_CA_FILE, CONTROLPLANE_TLS_CERT_FILE and CONTROLPLANE_TLS_KEY_FILE).',
  },
  CP_TLS_FILE_MISSING: {
    message:
      'The {what} file {file} does not exist; mTLS cannot start without it. Run `controlplane pki init --dir {dir}` to create a CA and service certificates, or point the TLS settings (tls.caFile / tls.certFile / tls.keyFile) at existing files.',
    hint: 'Create the files with `controlplane pki init`, or correct the path.',
  },
  CP_TLS_FILE_UNREADABLE: {
    message: 'The {what} file {file} cannot be read ({reason}).',
    hint: "Check the file's permissions: the service's user must be able to read it.",
  },
  CP_TLS_CA_UNREADABLE: {
    message: 'The CA certificate file {file} {problem}.',
    hint: 'Point tls.caFile at the PEM CA certificate (ca.crt).',
  },
  CP_TLS_CA_NOT_A_CA: {
    message: '{file} contains a certificate that is not a CA ({subject}).',
    hint: 'tls.caFile must hold CA certificates only.',
  },
  CP_TLS_CERT_UNREADABLE: {
    message: 'The certificate file {file} {problem}.',
    hint: "Point tls.certFile at the service's PEM certificate.",
  },
  CP_TLS_CERT_IS_A_CA: {
    message: "{file} holds a CA certificate; use the service's own certificate.",
    hint: "Point tls.certFile at the service's certificate, not at ca.crt.",
  },
  CP_TLS_KEY_UNREADABLE: {
    message: '{file} is not a readable PEM private key.',
    hint: "Point tls.keyFile at the service's PEM private key.",
  },
  CP_TLS_KEY_MISMATCH: {
    message: 'The private key {keyFile} does not belong to the certificate {certFile}.',
    hint: 'Use the key that was issued with that certificate.',
  },
  CP_TLS_CERT_NOT_ISSUED_BY_CA: {
    message: 'The certificate {certFile} was not issued by the CA in {caFile}; peers would refuse it.',
    hint: 'Issue the certificate from this CA, or point tls.caFile at the CA that issued it.',
  },
  CP_TLS_CERT_EXPIRED: {
    message: 'The certificate {file} expired at {validTo}; renew it.',
    hint: 'Issue the service a new certificate from the CA.',
  },
  CP_TLS_CERT_NOT_YET_VALID: {
    message: 'The certificate {file} is not valid before {validFrom}; check the clock.',
    hint: "Correct the machine's clock.",
  },
  CP_TLS_IDENTITY_INVALID: {
    message: 'The certificate {file} is not a usable identity in trust domain {trustDomain}: {reason}',
    hint: "Issue the service's certificate, with its SPIFFE id, from this trust domain's CA.",
  },
  CP_TLS_EXPECTED_SERVER_ID_INVALID: {
    message: 'expectedServerId: {reason}',
    hint: 'A caller named the expected server with a malformed SPIFFE id; report it as a bug.',
  },
  CP_TLS_EXPECTED_SERVER_ID_FOREIGN: {
    message: 'expectedServerId {id} is outside trust domain {trustDomain}.',
    hint: 'A caller expects a server of another trust domain; report it as a bug.',
  },
  CP_TLS_PEER_NOT_AUTHORIZED: {
    message: 'The peer certificate was not verified ({reason}).',
    hint: 'The peer presented no certificate from this CA; give it one the CA issued.',
  },
  CP_TLS_PEER_CERTIFICATE_MISSING: {
    message: 'The {peer} presented no certificate.',
    hint: 'The peer must present a certificate from this CA.',
  },
  CP_TLS_PEER_IDENTITY_INVALID: {
    message: 'The peer {problem}.',
    hint: 'The peer certificate is not a leaf with one SPIFFE id; reissue it from the CA.',
  },
  CP_TLS_PEER_SPIFFE_ID_INVALID: {
    message: 'Invalid SPIFFE id {id}: {reason}.',
    hint: 'The peer certificate carries a malformed SPIFFE id; reissue it from the CA.',
  },
  CP_TLS_PEER_TRUST_DOMAIN_MISMATCH: {
    message: 'The peer belongs to trust domain {trustDomain}, not {expected}.',
    hint: 'The peer holds a certificate of another trust domain; give it one from this CA.',
  },
  CP_TLS_PEER_REJECTED: {
    message: 'The server identity {spiffeId} is not the one expected.',
    hint: 'The address leads to another service than the one configured; check the service URLs.',
  },
  CP_TLS_PEER_VERIFY_TIMEOUT: {
    message: 'verifyPeer took longer than {timeoutMs} ms.',
    hint: 'The revocation check did not answer in time; check the database connection.',
  },

  // field encryption: a stored value that does not decrypt for its row
  CP_CRYPTO_DECRYPT_MALFORMED: {
    message: 'Cannot decrypt {where}: {problem}.',
    hint: 'The stored value is not a ciphertext ControlPlane writes; restore the row from a backup.',
  },
  CP_CRYPTO_DECRYPT_UNKNOWN_DATA_KEY: {
    message:
      'Cannot decrypt {where}: data key {keyId} does not exist for this tenant (a value copied from another tenant, or a deleted key).',
    hint: 'Restore the row (or the data key) from a backup; a value copied between tenants is refused on purpose.',
  },
  CP_CRYPTO_DECRYPT_AUTHENTICATION_FAILED: {
    message: 'Cannot decrypt {where}: the ciphertext does not authenticate (it was altered, or belongs to another row, field or tenant).',
    hint: 'The value was changed or moved in the database; restore the row from a backup and check the audit log.',
  },

  // keyrings (KEKs) and data keys
  CP_KEYRING_NOT_FOUND: {
    message: 'Keyring file {path} cannot be read; create one with generateKeyringFile(), which writes it with mode 0600.',
    hint: 'Create the keyring with `controlplane keys init`, or set encryption.keyringFile to the existing one.',
  },
  CP_KEYRING_EXISTS: {
    message: 'Keyring file {path} already exists; refusing to overwrite its KEKs.',
    hint: 'Keep the keyring: the data keys wrapped by its KEKs need them. For a new KEK, run `controlplane keys rotate --kek`.',
  },
  CP_KEYRING_INSECURE_PERMISSIONS: {
    message:
      'Keyring file {path} has mode {mode}, so group or others can read it; run `chmod 600 {path}` and rotate the KEKs if the file may have been copied.',
    hint: 'Run chmod 600 on the keyring, and rotate the KEKs if it may have been copied.',
  },
  CP_KEYRING_NOT_A_FILE: {
    message: 'Keyring {path} is not a regular file.',
    hint: 'Point encryption.keyringFile at the keyring file.',
  },
  CP_KEYRING_NOT_JSON: {
    message: 'Keyring file {path} is not valid JSON.',
    hint: 'Restore the keyring from a backup.',
  },
  CP_KEYRING_INVALID: {
    message: 'Keyring file {path}: {problem}.',
    hint: 'Restore the keyring from a backup; it must hold "current" and "keys" with 32-byte base64 KEKs.',
  },
  CP_KEYRING_KEK_NOT_FOUND: {
    message:
      'KEK {kekId} is not in keyring {path}; restore it from backup (KEKs must never be removed while data keys wrapped by them exist).',
    hint: 'Restore the KEK into the keyring from a backup.',
  },
  CP_KEYRING_DATA_KEY_ID_INVALID: {
    message: 'Data key id {id} must match {pattern}.',
    hint: 'A caller made a data key id by hand; report it as a bug.',
  },
  CP_KEYRING_DATA_KEY_NOT_FOUND: {
    message: 'Data key {keyId} does not exist for tenant {tenantId}.',
    hint: "Name one of the tenant's data keys (`controlplane keys status` lists them).",
  },
  CP_KEYRING_DATA_KEY_IS_INDEX_ROOT: {
    message: 'The blind-index root of tenant {tenantId} cannot be its current data key.',
    hint: 'The data key store holds an impossible record; restore the data_key_current row from a backup.',
  },
  CP_KEYRING_DATA_KEY_LENGTH_INVALID: {
    message: 'A data key must be {expected} bytes; got {length}.',
    hint: 'A caller passed a key of the wrong size; report it as a bug.',
  },
  CP_KEYRING_DATA_KEY_CURRENT_LOST: {
    message: 'The data key store did not keep a current key for tenant {tenantId}.',
    hint: 'The data key store lost a write; check the database.',
  },
  CP_KEYRING_DATA_KEY_NOT_STORED: {
    message: 'Data key {keyId} of tenant {tenantId} was neither inserted nor found.',
    hint: 'The data key store lost a write; check the database.',
  },
  CP_KEYRING_UNWRAP_FAILED: {
    message:
      'Data key {dataKeyId} of tenant {tenantId} does not unwrap under KEK {kekId}: the stored record was altered or belongs to another tenant.',
    hint: 'The stored data key record was changed or copied; restore it from a backup and check the audit log.',
  },
  CP_KEYRING_UNWRAP_INPUT_LENGTH: {
    message: 'Wrapped data key {dataKeyId} has {length} bytes; expected {expected}.',
    hint: 'The stored data key record was truncated or changed; restore it from a backup.',
  },
  CP_KEYRING_UNWRAP_OUTPUT_LENGTH: {
    message: 'Data key {dataKeyId} of tenant {tenantId} unwrapped to {length} bytes; expected {expected}.',
    hint: 'The key provider returned a key of the wrong size; check the keyring.',
  },

  // request signing and canonical JSON
  CP_SIGNING_REQUEST_INVALID: {
    message: '{problem}',
    hint: 'The request has no canonical form to sign (the message says which part); correct the request.',
  },
  CP_SIGNING_HEADER_MALFORMED: {
    message: '{problem}',
    hint: 'Send x-cp-signature as keyId=…,ts=…,nonce=…,sig=… (the client SDK does).',
  },
  CP_CANONICAL_JSON_UNREPRESENTABLE: {
    message: '{problem} at {path}',
    hint: 'The value holds something JSON cannot carry faithfully (NaN, Infinity, bigint, a function, a cycle); change the value.',
  },
} as const satisfies Record<string, InternalErrorSpec>;
