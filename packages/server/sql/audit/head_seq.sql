-- The highest seq of the chain (null when it is empty): where a walk of the chain ends.
select max(seq) as head from audit_events
