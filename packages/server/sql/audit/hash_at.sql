-- The stored hash of the event at one seq.
-- :seq  bigint
select hash from audit_events where seq = :seq::bigint
