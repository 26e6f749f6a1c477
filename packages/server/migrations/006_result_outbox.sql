-- Transactional outbox of job results for TruthCore. A row is written in the same statement that
-- records a signed completion, so a result can never be recorded without also being queued for
-- delivery; delivery is retried until TruthCore acknowledges it (TruthCore is idempotent on
-- tenant, job and attempt, so a re-delivery after a crash records nothing twice).
create table result_outbox (
  id               bigserial primary key,
  tenant_id        text not null,
  job_id           uuid not null,
  attempt          integer not null,
  fencing_token    bigint not null,
  runner_id        text not null,
  cert_fingerprint text not null,
  signature        text not null,
  created_at       timestamptz not null default now(),
  attempts         integer not null default 0,
  next_attempt_at  timestamptz not null default now(),
  delivered_at     timestamptz,
  -- set when TruthCore refused the result for good (kept for inspection, never retried)
  rejected_at      timestamptz,
  last_error       text,
  unique (tenant_id, job_id, attempt),
  foreign key (tenant_id, job_id) references jobs (tenant_id, id)
);
create index result_outbox_pending_idx on result_outbox (next_attempt_at, id) where delivered_at is null and rejected_at is null;
