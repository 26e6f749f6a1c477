-- The first event after a seq, wherever it is: where a walk lands when a whole window is missing.
-- :after  bigint
select
-- @include row_columns
  from audit_events where seq > :after::bigint order by seq limit 1
