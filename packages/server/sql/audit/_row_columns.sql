-- The columns of audit_events as AuditRow reads them: occurred_at as microsecond text, not as a
-- Date, which would drop the microseconds that an edit below the millisecond leaves behind.
seq, id,
to_char(occurred_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') as occurred_at,
tenant_id, actor_kind, actor_id, action, resource_kind, resource_id, outcome,
correlation_id, source_address, details, prev_hash, hash
