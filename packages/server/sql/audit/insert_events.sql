-- Appends events as consecutive links of the chain, in seq order. Each row is the object its hash
-- was computed over (auditHashInput: flat and named after the columns) plus the hash; `domain` is
-- not stored.
-- :events  jsonb  [{seq, id, occurredAt, tenantId, actorKind, actorId, action, resourceKind, resourceId, outcome, correlationId, sourceAddress, details, prevHash, hash}]
insert into audit_events (seq, id, occurred_at, tenant_id, actor_kind, actor_id, action, resource_kind, resource_id,
                          outcome, correlation_id, source_address, details, prev_hash, hash)
select t.seq, t.id, t."occurredAt", t."tenantId", t."actorKind", t."actorId", t.action, t."resourceKind", t."resourceId",
       t.outcome, t."correlationId", t."sourceAddress", t.details, t."prevHash", t.hash
  from jsonb_to_recordset(:events::jsonb) as t(seq bigint, id uuid, "occurredAt" timestamptz, "tenantId" text, "actorKind" text,
       "actorId" text, action text, "resourceKind" text, "resourceId" text, outcome text, "correlationId" text,
       "sourceAddress" text, details jsonb, "prevHash" text, hash text)
 order by t.seq
