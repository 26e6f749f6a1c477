-- One page of live assertions whose object has any of several index keys (a clear object's hash
-- and its blind index), newest asserted_at first, after an optional keyset cursor. One ordered
-- index range per key, merged: "object_hash = any(…)" would make PostgreSQL read and sort every
-- match of a common object before it could return the first page.
-- :object_hashes  bytea[]      the object's index keys
-- :cursor_at      timestamptz  cursor: the asserted_at of the previous page's last row
-- :cursor_id      uuid         cursor: its id
-- :per_key        int          rows each key may contribute: limit + offset
-- :limit          int
-- :offset         int
select m.* from unnest(:object_hashes::bytea[]) as k(hash)
 cross join lateral (
   select
-- @include assertion_columns
     from truth_assertions
    where
-- @include assertion_filter
      and object_hash = k.hash
      and (:cursor_at::timestamptz is null or (asserted_at, id) < (:cursor_at::timestamptz, :cursor_id::uuid))
    order by asserted_at desc, id desc
    limit :per_key
 ) as m
 order by m.asserted_at desc, m.id desc
 limit :limit offset :offset
