-- The run in progress, locked for one batch; no row when there is none or another process holds it
-- (SKIP LOCKED: a second stepper learns that at once instead of waiting).
select
-- @include rotation_run_columns
  from key_rotation_runs where status = 'running' limit 1 for update skip locked
