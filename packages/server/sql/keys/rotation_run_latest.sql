-- The most recent run, finished or not.
select
-- @include rotation_run_columns
  from key_rotation_runs order by id desc limit 1
