-- The events of one window of seq that match an export's filters (null: any), in chain order. The
-- window is materialised so that the planner cannot start from the tenant index instead and re-read
-- a large tenant's every row for each window.
-- :after          bigint       the window starts after this seq
-- :up_to          bigint       and ends at this seq
-- :tenant_id      text         only this tenant's events
-- :platform_only  boolean      only platform-level events (no tenant)
-- :since          timestamptz  only events at or after
-- :until          timestamptz  only events strictly before
with audit_window as materialized (
  select * from audit_events where seq > :after::bigint and seq <= :up_to::bigint
)
select
-- @include row_columns
  from audit_window
 where (:tenant_id::text is null or tenant_id = :tenant_id::text) and (not :platform_only::boolean or tenant_id is null)
   and (:since::timestamptz is null or occurred_at >= :since::timestamptz)
   and (:until::timestamptz is null or occurred_at < :until::timestamptz)
 order by seq
