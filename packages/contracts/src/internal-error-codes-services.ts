import type { InternalErrorSpec } from './internal-error-codes.js';

/**
 * Internal error codes of the services, the runner and the tools: storage, migrations, Redis,
 * the audit chain, key rotation, starting a deployment, JobForge, runners and key files. Part of
 * INTERNAL_ERROR_CODES (internal-error-codes.ts).
 */
export const SERVICE_ERROR_CODES = {
  // the database port
  CP_STORAGE_NESTED_TRANSACTION: {
    message: 'database used directly inside one of its own transaction callbacks; use the tx handle passed to the callback',
    hint: 'A bug: code inside db.transaction() must use the tx it was given; report it.',
  },
  CP_STORAGE_TRANSACTION_ABORTED: {
    message: 'transaction was aborted by an earlier failed statement and has been rolled back',
    hint: 'A statement failed inside the transaction and its error was caught; nothing was written. The log shows the first failure.',
  },
  CP_STORAGE_SQL_STATEMENT_INVALID: {
    message: 'SQL statement {statement}: {problem}',
    hint: 'A bug in a statement file under packages/server/sql (its header must name exactly the parameters it uses); report it.',
  },

  // schema migrations
  CP_MIGRATION_FILE_NAME_INVALID: {
    message: 'migration file {file} in {dir} is not named NNN_lower_snake_name.sql',
    hint: 'Rename the file to NNN_lower_snake_name.sql (or move it out of the migrations directory).',
  },
  CP_MIGRATION_VERSION_DUPLICATED: {
    message: 'migrations {first} and {second} share version {version}',
    hint: 'Give the newer migration the next free number.',
  },
  CP_MIGRATION_UNKNOWN: {
    message:
      'the database has migration {version} ({name}) which this build does not have; refusing to run an older build against a newer schema',
    hint: 'Run the release that applied that migration (or a newer one).',
  },
  CP_MIGRATION_CHECKSUM_MISMATCH: {
    message:
      'migration {file} was changed after it was applied (checksum {applied}… in the database, {onDisk}… on disk); restore the file and put the change in a new migration',
    hint: 'Restore the migration file as it was applied; put schema changes in a new migration.',
  },
  CP_MIGRATION_FAILED: {
    message: 'migration {file} failed: {reason}',
    hint: 'Nothing of it was applied (migrations run in one transaction); fix the cause the message names and start again.',
  },

  // Redis
  CP_REDIS_CONFIG_URL_INVALID: {
    message: 'Redis URL {problem}',
    hint: 'Set REDIS_URL (redis.url) to redis://host:port/db or rediss://host:port/db.',
  },
  CP_REDIS_CONFIG_TLS_WITH_PLAINTEXT_URL: {
    message: 'Redis TLS options are set but the URL is plaintext redis://; use rediss://',
    hint: 'Use a rediss:// URL, or remove the Redis TLS settings.',
  },
  CP_REDIS_CONFIG_TLS_FILE_UNREADABLE: {
    message: 'cannot read Redis TLS {what} file {file}: {reason}',
    hint: 'Check the path and that the process may read the file.',
  },
  CP_REDIS_CONFIG_TLS_CERT_WITHOUT_KEY: {
    message: 'Redis TLS certFile and keyFile must be set together',
    hint: 'Set both the Redis client certificate and its key, or neither.',
  },
  CP_REDIS_CONNECT_FAILED: {
    message: 'cannot connect to Redis at {where}: {reason}',
    hint: 'Check that Redis is running and that REDIS_URL is right.',
  },
  CP_REDIS_SCRIPT_INVALID_ARGUMENT: {
    message: 'Redis script {script} failed with InvalidArgument ({reply})',
    hint: 'A caller passed an argument the Lua script refuses; report it as a bug.',
  },
  CP_REDIS_SCRIPT_COST_EXCEEDS_CAPACITY: {
    message: 'Redis script {script} failed with CostExceedsCapacity ({reply})',
    hint: 'A rate limit asked for more tokens than its bucket holds; raise the capacity or lower the cost.',
  },
  CP_REDIS_SCRIPT_FAILED: {
    message: 'Redis script {script} failed with unknown code ({reply})',
    hint: 'The Lua script and the code that calls it are from different releases; deploy one release.',
  },
  CP_REDIS_LUA_HEADER_INVALID: {
    message: 'Lua script {script}: {problem}',
    hint: 'Correct the --[[ ]] header of the script: it lists KEYS[1..n] and ARGV[1..n], each once and in order.',
  },

  // the audit chain
  CP_AUDIT_EVENT_INVALID: {
    message: 'audit event {problem}',
    hint: 'A caller recorded a malformed audit event (the message names the field); report it as a bug.',
  },
  CP_AUDIT_CHAIN_CONFLICT: {
    message: 'the audit chain head moved after this transaction took its snapshot; append audit events in a READ COMMITTED transaction',
    hint: 'A bug: audit events are appended in READ COMMITTED transactions; report it.',
  },

  // field-encryption key management in the services
  CP_KEYS_ROTATION_IN_PROGRESS: {
    message: 'Key rotation run {runId} is still in progress; continue it (controlplane keys rotate --resume) instead of starting another.',
    hint: 'Run `controlplane keys rotate --resume`.',
  },

  // starting a deployment from its configuration
  CP_COMPOSE_CA_KEY_UNREADABLE: {
    message:
      'JobForge signs runner certificates and needs the CA private key, but {keyFile} cannot be read ({reason}); set jobforge.caKeyFile',
    hint: 'Set jobforge.caKeyFile (CONTROLPLANE_JOBFORGE_CA_KEY_FILE) to the CA key.',
  },
  CP_COMPOSE_CA_KEY_INVALID: {
    message: '{keyFile} is not a PEM private key',
    hint: 'Point jobforge.caKeyFile at the PEM CA key (ca.key).',
  },
  CP_COMPOSE_CA_KEY_UNMATCHED: {
    message: 'the CA key {keyFile} belongs to none of the CA certificates in {caFile}',
    hint: 'Use the key of one of the CAs in tls.caFile.',
  },
  CP_COMPOSE_FILE_UNREADABLE: {
    message: 'cannot read the {what} {file}: {reason}',
    hint: 'Check the path and that the process may read the file.',
  },
  CP_COMPOSE_DATABASE_URL_MISSING: {
    message: 'database.url is not set (set DATABASE_URL or database.url)',
    hint: 'Set DATABASE_URL (or database.url, or --database-url) to the PostgreSQL connection string.',
  },
  CP_COMPOSE_DATABASE_CA_UNREADABLE: {
    message: 'cannot read database.sslCaFile {file}: {reason}',
    hint: 'Check database.sslCaFile (CONTROLPLANE_DATABASE_SSL_CA_FILE) and that the process may read it.',
  },
  CP_COMPOSE_KEYRING_REQUIRED: {
    message:
      'controlplane {service} stores job payloads, results and sensitive assertions encrypted at rest and needs a keyring: set encryption.keyringFile (CONTROLPLANE_KEYRING_FILE) to a file made by `controlplane keys init`, or set encryption.enabled to false to store them in clear',
    hint: 'Run `controlplane keys init --keyring <file>` and set encryption.keyringFile, or set encryption.enabled: false explicitly.',
  },
  CP_COMPOSE_AUDIT_CHECKPOINT_DIR: {
    message:
      'the audit checkpoint directory {dir} cannot be written ({reason}); the audit head cannot be anchored outside the database. Set audit.checkpointDir (CONTROLPLANE_AUDIT_CHECKPOINT_DIR) to a writable directory',
    hint: 'Set audit.checkpointDir to a directory the service can write (mode 0700).',
  },
  CP_COMPOSE_EMBEDDED_DATABASE: {
    message:
      "controlplane {service} runs one service against a shared PostgreSQL, but database.mode is 'embedded' (PGlite allows one process). Set DATABASE_URL (or database.url), or run everything in one process with `controlplane dev`.",
    hint: 'Set DATABASE_URL, or run `controlplane dev`.',
  },
  CP_COMPOSE_TRUST_DOMAIN_MISMATCH: {
    message: 'the CA in {dir} is for trust domain {caTrustDomain}, not {trustDomain}; use the same trustDomain, or another data directory',
    hint: "Set trustDomain to the CA's, or use another data directory.",
  },

  // JobForge
  CP_JOBFORGE_TRANSITION_REFUSED: {
    message: 'job {jobId}: its state allows no {event} transition',
    hint: 'A bug: JobForge moved a job in a way its state table does not allow, and the database refused it; nothing was written. Report it with the log line.',
  },
  CP_JOBFORGE_RUNNER_MAY_NOT_CLAIM: {
    message: 'the runner may not be given work now',
    hint: 'The runner is draining, revoked, or its certificate is revoked; it gets no work (expected while it shuts down).',
  },

  // runners: their identity on disk and their handlers
  CP_RUNNER_IDENTITY_MISSING: {
    message:
      '{dir} holds no runner identity; enrol first: controlplane runner enroll --join-token <token> --jobforge <url> --ca <file> --dir {dir}',
    hint: 'Enrol the runner with `controlplane runner enroll`.',
  },
  CP_RUNNER_IDENTITY_INVALID: {
    message: '{path} is not valid JSON: {reason}',
    hint: 'Enrol the runner again into a fresh directory.',
  },
  CP_RUNNER_HANDLER_INVALID: {
    message: '{problem}',
    hint: 'Correct the handler definition as the message says (defineHandler in @controlplane/runner).',
  },
  CP_RUNNER_CONFINEMENT_UNAVAILABLE: {
    message: "sandboxes cannot be confined as '{mode}' here: {reason}",
    hint: 'Install bubblewrap and allow unprivileged user namespaces, or accept a weaker mode explicitly with --confinement (docs/runner.md).',
  },

  // API key files written by the CLI and read by the client SDK
  CP_KEYFILE_NOT_FOUND: {
    message: 'no key file at {path}',
    hint: 'Start `controlplane dev` (it writes <data dir>/admin-key.json), or pass --key-file.',
  },
  CP_KEYFILE_UNREADABLE: {
    message: 'cannot read {path}: {reason}',
    hint: 'Check the path and that you may read the file.',
  },
  CP_KEYFILE_INSECURE_PERMISSIONS: {
    message: '{path} is readable by others (mode {mode}); run `chmod 600 {path}`',
    hint: 'Run chmod 600 on the key file; revoke the key if the file may have been copied.',
  },
  CP_KEYFILE_NOT_JSON: {
    message: '{path} is not JSON',
    hint: 'Write the key file again with `controlplane keys create --out <file>`.',
  },
  CP_KEYFILE_INVALID: {
    message: '{path} is not a ControlPlane key file',
    hint: 'Point --key-file at a file written by `controlplane keys create --out` or `controlplane dev`.',
  },
  CP_KEYFILE_EXISTS: {
    message: '{path} already exists; refusing to overwrite a key file',
    hint: 'Choose another file, or remove the old one if its key is no longer needed.',
  },
} as const satisfies Record<string, InternalErrorSpec>;
