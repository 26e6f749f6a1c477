-- Counts matching live assertions, but reads at most :cap of them: the count walks the same index
-- as the page, and the bound keeps a very common pattern from costing a full index scan.
-- :object_hashes  bytea[]  only assertions whose object has one of these index keys
-- :cap            int      the most rows to count
select count(*)::int as n from (
  select 1 from truth_assertions
   where
-- @include assertion_filter
     and (:object_hashes::bytea[] is null or object_hash = any(:object_hashes::bytea[]))
   limit :cap
) m
