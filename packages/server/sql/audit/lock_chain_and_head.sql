-- In a transaction of its own (AuditLog's appends), the lock, the widened scope and the head read
-- go in one round trip: three statements of one simple query, answered with the last one's rows.
-- The scope needs no restoring, as it ends with the transaction. (No parameters: a text with
-- parameters cannot hold several statements.)
select
-- @include chain_lock
;
select set_config('app.scope', 'system', true);
-- @include chain_head
