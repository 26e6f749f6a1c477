-- The run in progress, if any.
select
-- @include rotation_run_columns
  from key_rotation_runs where status = 'running'
