-- Sets the given quota fields of a tenant, the others unchanged: a value with its flag false keeps
-- the stored one, so that an explicit null (flag true) can clear a limit.
-- :tenant_id                text
-- :max_queued_jobs          int      the new value, or null
-- :max_running_jobs         int
-- :max_payload_bytes        int
-- :requests_per_second      int
-- :burst                    int
-- :set_max_queued_jobs      boolean  whether the request gives max_queued_jobs
-- :set_max_running_jobs     boolean
-- :set_max_payload_bytes    boolean
-- :set_requests_per_second  boolean
-- :set_burst                boolean
-- :updated_by               text
insert into tenant_quotas (tenant_id, max_queued_jobs, max_running_jobs, max_payload_bytes, requests_per_second, burst, updated_by)
values (:tenant_id, :max_queued_jobs, :max_running_jobs, :max_payload_bytes, :requests_per_second, :burst, :updated_by)
on conflict (tenant_id) do update set
  max_queued_jobs     = case when :set_max_queued_jobs     then excluded.max_queued_jobs     else tenant_quotas.max_queued_jobs end,
  max_running_jobs    = case when :set_max_running_jobs    then excluded.max_running_jobs    else tenant_quotas.max_running_jobs end,
  max_payload_bytes   = case when :set_max_payload_bytes   then excluded.max_payload_bytes   else tenant_quotas.max_payload_bytes end,
  requests_per_second = case when :set_requests_per_second then excluded.requests_per_second else tenant_quotas.requests_per_second end,
  burst               = case when :set_burst               then excluded.burst               else tenant_quotas.burst end,
  updated_by = excluded.updated_by, updated_at = now()
returning
-- @include quota_columns
