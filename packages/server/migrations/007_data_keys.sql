-- Field-level encryption at rest (docs/encryption.md): per-tenant data keys wrapped by a key-encryption
-- key (KEK) that never reaches the database, which key each tenant encrypts new values with, and the
-- state of the background job that moves stored values onto new keys.

-- No foreign key to tenants: a key must outlive its tenant's rows for as long as a backup may hold
-- ciphertext that names it, and a cascade must never be able to delete one.
create table data_keys (
  tenant_id    text not null,
  -- Written into every ciphertext (`cpenc:v1:<id>:…`), whose parts are ':'-separated.
  id           text not null check (id ~ '^[A-Za-z0-9_-]{1,64}$'),
  kek_id       text not null,
  -- AES-256-GCM of the key under the KEK, bound to (tenant_id, id): iv(12) || key(32) || tag(16).
  wrapped      bytea not null check (octet_length(wrapped) between 1 and 1024),
  created_at   timestamptz not null default now(),
  -- When a KEK rotation last re-wrapped it (the key itself is unchanged).
  rewrapped_at timestamptz,
  -- When a completed data-key rotation left no stored value under it. Kept, never deleted.
  retired_at   timestamptz,
  primary key (tenant_id, id)
);
-- A KEK rotation looks for records still wrapped by another KEK.
create index data_keys_kek_idx on data_keys (kek_id, tenant_id, id);

create table data_key_current (
  tenant_id  text primary key,
  -- The blind-index root is wrapped like a data key but must never encrypt a field.
  key_id     text not null check (key_id <> 'blind-index-root-v1'),
  updated_at timestamptz not null default now(),
  foreign key (tenant_id, key_id) references data_keys (tenant_id, id)
);

-- One data-key rotation: new keys made current (phase 'rotate-keys'), then every table holding
-- ciphertext swept in keyset order. Each batch commits its rows together with `cursor`, so a
-- crashed run resumes exactly where the last committed batch ended.
create table key_rotation_runs (
  id             bigint generated always as identity primary key,
  status         text not null default 'running' check (status in ('running', 'completed', 'cancelled')),
  phase          text not null default 'rotate-keys',
  -- The last key (as a JSON array of its columns) of `phase` whose rows are done; null = from the start.
  cursor         jsonb,
  -- Sweeping waits until every service has stopped encrypting with the old keys (their key cache
  -- lifetime), so a value written under an old key cannot land behind the cursor.
  sweep_after    timestamptz,
  rows_scanned   bigint not null default 0,
  rows_rewritten bigint not null default 0,
  started_by     text,
  started_at     timestamptz not null default now(),
  updated_at     timestamptz not null default now(),
  finished_at    timestamptz
);
-- At most one run at a time: two would make each other's keys stale.
create unique index key_rotation_runs_running_idx on key_rotation_runs (status) where status = 'running';

-- Which assertion objects are ciphertext. A flag rather than guessing from the value: a client may
-- legitimately assert a string that looks like a ciphertext. When set, object_hash is the tenant's
-- keyed blind index of the clear object instead of its SHA-256.
alter table truth_assertions add column object_encrypted boolean not null default false;
