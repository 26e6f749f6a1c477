-- TruthCore: assertions (subject, predicate, object) and the provenance of job results.
-- Every row belongs to a tenant, and every index starts with tenant_id, so no query can be
-- answered from another tenant's part of an index.

create table truth_assertions (
  tenant_id   text not null references tenants (id),
  id          uuid not null,
  -- Event id of subscriptions. Appends of one tenant are serialised by an advisory lock taken
  -- before the insert, so within a tenant seq order is commit order and a subscriber that has
  -- seen seq n has seen every committed row below it.
  seq         bigint generated always as identity,
  subject     text not null,
  predicate   text not null,
  object      jsonb not null,
  -- SHA-256 of the canonical JSON of object: equality on a jsonb value of any size through a
  -- fixed 32-byte key that a btree can index.
  object_hash bytea not null check (octet_length(object_hash) = 32),
  confidence  double precision not null check (confidence >= 0 and confidence <= 1),
  source      text not null,
  -- The assertion's `timestamp`. Kept to whole milliseconds (what a JS Date and the ISO strings
  -- we answer with hold), so a query cursor built from a returned row names that row exactly.
  asserted_at timestamptz not null check (asserted_at = date_trunc('milliseconds', asserted_at)),
  expires_at  timestamptz,
  metadata    jsonb not null default '{}',
  -- Who wrote it: the forwarded actor for API assertions, the runner's SPIFFE id for results.
  asserted_by text not null,
  recorded_at timestamptz not null default now(),
  primary key (tenant_id, id)
);
-- The query paths. Each ends with (asserted_at desc, id desc), the answer order and the keyset
-- cursor, so a pattern query reads its page straight off the index and stops after limit + 1.
create index truth_assertions_sp_idx on truth_assertions (tenant_id, subject, predicate, asserted_at desc, id desc);
create index truth_assertions_p_idx on truth_assertions (tenant_id, predicate, asserted_at desc, id desc);
create index truth_assertions_o_idx on truth_assertions (tenant_id, object_hash, asserted_at desc, id desc);
create index truth_assertions_time_idx on truth_assertions (tenant_id, asserted_at desc, id desc);
-- Subscriptions poll for rows after the last seq they delivered.
create index truth_assertions_seq_idx on truth_assertions (tenant_id, seq);

-- One row per recorded job outcome (job, attempt): who asked for the job, which runner ran it
-- with which certificate, and the runner's signature over the outcome, kept so that the
-- signature can be checked again at any later time from this row alone.
create table truth_job_provenance (
  tenant_id               text not null references tenants (id),
  job_id                  uuid not null,
  attempt                 integer not null check (attempt >= 1),
  -- Text, as signed: the signature covers the decimal string, not a number.
  fencing_token           text not null check (fencing_token ~ '^[0-9]{1,19}$'),
  outcome                 text not null check (outcome in ('completed', 'failed')),
  submitted_by            text not null,
  request_digest          text not null,
  result                  jsonb not null,
  result_digest           text not null,
  runner_id               text not null,
  runner_spiffe_id        text not null,
  runner_cert_serial      text not null,
  runner_cert_fingerprint text not null,
  runner_cert_pem         text not null,
  signature               text not null,
  evidence                jsonb,
  evidence_hash           text,
  -- The service identity (jobforge) that delivered the result.
  recorded_by             text not null,
  recorded_at             timestamptz not null default now(),
  primary key (tenant_id, job_id, attempt),
  check ((evidence is null) = (evidence_hash is null))
);
-- "Which jobs did this runner run?" without a scan.
create index truth_job_provenance_runner_idx on truth_job_provenance (tenant_id, runner_id, recorded_at desc);
