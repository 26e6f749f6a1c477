-- Audit log: an append-only, hash-chained record of security-relevant actions (docs/audit.md).
--
-- seq is assigned by the writer under an advisory lock (src/audit/audit-chain.ts), not by a
-- sequence: a sequence hands out numbers that a rolled-back transaction never uses, and a gap
-- must mean "a row was removed". hash is SHA-256 over the canonical JSON of the row's content and
-- prev_hash, computed in TypeScript so that the verifier runs the very same function.
-- tenant_id has no foreign key: an audit row must outlive its tenant and may name one that does
-- not exist (a failed authentication for an unknown tenant).
create table audit_events (
  seq            bigint primary key
    constraint audit_events_seq_positive check (seq > 0),
  id             uuid not null
    constraint audit_events_id_key unique,
  occurred_at    timestamptz not null,
  tenant_id      text,
  actor_kind     text not null,
  actor_id       text not null,
  action         text not null,
  resource_kind  text,
  resource_id    text,
  outcome        text not null
    constraint audit_events_outcome_check check (outcome in ('success', 'failure', 'denied')),
  correlation_id text,
  source_address text,
  details        jsonb not null,
  prev_hash      text not null
    constraint audit_events_prev_hash_format check (prev_hash ~ '^[0-9a-f]{64}$'),
  hash           text not null
    constraint audit_events_hash_format check (hash ~ '^[0-9a-f]{64}$'),
  constraint audit_events_resource_pair check ((resource_kind is null) = (resource_id is null)),
  constraint audit_events_details_object check (jsonb_typeof(details) = 'object')
);

-- The admin API lists newest first, per tenant or across tenants, and follows one request's
-- correlation id through every service.
create index audit_events_tenant_time_idx on audit_events (tenant_id, occurred_at desc, seq desc);
create index audit_events_time_idx on audit_events (occurred_at desc, seq desc);
create index audit_events_correlation_idx on audit_events (correlation_id, seq) where correlation_id is not null;

-- Statement-level, so even an UPDATE or DELETE that matches no row is refused, and TRUNCATE
-- (which fires no row triggers) is covered by the same function.
create function audit_events_refuse_change() returns trigger
  language plpgsql
as $$
begin
  raise exception 'audit_events is append-only: % is refused', tg_op
    using errcode = 'insufficient_privilege',
          hint = 'audit rows can only be inserted; corrections are new events';
end;
$$;

create trigger audit_events_append_only
  before update or delete or truncate on audit_events
  for each statement execute function audit_events_refuse_change();

-- PUBLIC holds none of these by default; revoking states the intent and undoes a GRANT ... TO
-- PUBLIC made by hand. Deployments should run services as a role granted only SELECT and INSERT
-- here (roles are cluster-wide, so creating them is left to the operator, see docs/audit.md).
revoke update, delete, truncate on audit_events from public;
