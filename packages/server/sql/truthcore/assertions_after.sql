-- Live assertions with after < seq <= up_to matching the subscription's pattern (null: any), in
-- seq order. The rows are found by (tenant_id, seq) whatever the pattern.
-- :tenant_id  text
-- :after      bigint
-- :up_to      bigint
-- :subject    text    only this subject
-- :predicate  text    only this predicate
-- :limit      int
select
-- @include assertion_columns
  from truth_assertions
 where tenant_id = :tenant_id and seq > :after::bigint and seq <= :up_to::bigint and (expires_at is null or expires_at > now())
   and (:subject::text is null or subject = :subject::text)
   and (:predicate::text is null or predicate = :predicate::text)
 order by seq
 limit :limit
