-- One page of audit events for the admin API, newest first, after an optional keyset cursor, with
-- optional filters (null: any). It is planned with its values (PostgreSQL keeps custom plans for
-- it), so an absent filter drops out before planning: a tenant's page is read from the tenant
-- index, the platform's from the time index, and the cursor and time bounds are index conditions.
-- :tenant_id       text         only this tenant's events
-- :platform_only   boolean      only platform-level events (no tenant)
-- :action          text
-- :actor_id        text
-- :outcome         text
-- :correlation_id  text
-- :after           timestamptz  only events strictly after
-- :before          timestamptz  only events strictly before
-- :cursor_at       timestamptz  cursor: the occurred_at of the previous page's last event
-- :cursor_seq      bigint       cursor: its seq
-- :limit           int
select
-- @include row_columns
  from audit_events
 where (:tenant_id::text is null or tenant_id = :tenant_id::text) and (not :platform_only::boolean or tenant_id is null)
   and (:action::text is null or action = :action::text)
   and (:actor_id::text is null or actor_id = :actor_id::text)
   and (:outcome::text is null or outcome = :outcome::text)
   and (:correlation_id::text is null or correlation_id = :correlation_id::text)
   and (:after::timestamptz is null or occurred_at > :after::timestamptz)
   and (:before::timestamptz is null or occurred_at < :before::timestamptz)
   and (:cursor_at::timestamptz is null or (occurred_at, seq) < (:cursor_at::timestamptz, :cursor_seq::bigint))
 order by occurred_at desc, seq desc
 limit :limit
