-- The newest event of the chain (none when it is empty): the head an audit checkpoint anchors.
select seq::text as seq, hash from audit_events order by seq desc limit 1
