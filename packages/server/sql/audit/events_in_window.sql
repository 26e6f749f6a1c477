-- The events of one window of seq, in chain order. A window rather than LIMIT: an intact chain has
-- no gaps, so each window holds exactly its size in rows, and a bounded range is read through the
-- primary key whatever the planner's statistics say (with LIMIT and stale statistics it may scan
-- the whole tail for every batch).
-- :after  bigint  the window starts after this seq
-- :up_to  bigint  and ends at this seq
select
-- @include row_columns
  from audit_events where seq > :after::bigint and seq <= :up_to::bigint order by seq
