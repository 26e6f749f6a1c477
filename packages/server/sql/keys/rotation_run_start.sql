-- Starts a rotation run (a unique partial index allows one running run at a time).
-- :started_by  text  or null
insert into key_rotation_runs (started_by) values (:started_by)
returning
-- @include rotation_run_columns
