-- The first seq after a seq (null: none), to jump over a gap wider than a window.
-- :after  bigint
select min(seq) as seq from audit_events where seq > :after::bigint
