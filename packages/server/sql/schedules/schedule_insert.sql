-- Creates a schedule (nothing when its id exists: the caller reads it back).
-- :tenant_id       text
-- :id              uuid
-- :name            text
-- :template        jsonb
-- :cron            text
-- :timezone        text
-- :interval_ms     bigint
-- :start_at        timestamptz
-- :end_at          timestamptz
-- :max_runs        int
-- :paused          boolean
-- :overlap         text
-- :catch_up        text
-- :catch_up_limit  int
-- :next_fire_at    timestamptz
-- :created_by      text
insert into schedules (tenant_id, id, name, template, cron, timezone, interval_ms, start_at, end_at, max_runs, paused, overlap,
                       catch_up, catch_up_limit, next_fire_at, created_by)
values (:tenant_id, :id, :name, :template, :cron, :timezone, :interval_ms, :start_at, :end_at, :max_runs, :paused, :overlap,
        :catch_up, :catch_up_limit, :next_fire_at, :created_by)
on conflict do nothing
returning
-- @include schedule_columns
