-- One page of live assertions, newest asserted_at first (ties broken by id), after an optional
-- keyset cursor, for an object filter of one index key or none.
-- :object_hash  bytea        only assertions whose object has this index key
-- :cursor_at    timestamptz  cursor: the asserted_at of the previous page's last row
-- :cursor_id    uuid         cursor: its id
-- :limit        int
-- :offset       int
select
-- @include assertion_columns
  from truth_assertions
 where
-- @include assertion_filter
   and (:object_hash::bytea is null or object_hash = :object_hash::bytea)
   and (:cursor_at::timestamptz is null or (asserted_at, id) < (:cursor_at::timestamptz, :cursor_id::uuid))
 order by asserted_at desc, id desc
 limit :limit offset :offset
