-- Marks the run completed.
-- :id  bigint
update key_rotation_runs set status = 'completed', cursor = null, updated_at = now(), finished_at = now() where id = :id
returning
-- @include rotation_run_columns
