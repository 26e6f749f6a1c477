-- The newest event of the chain (none when it is empty): the head an audit checkpoint anchors.
-- Ordered by the bigint column: the text alias `seq` would sort '9' after '16'.
select e.seq::text as seq, e.hash from audit_events e order by e.seq desc limit 1
