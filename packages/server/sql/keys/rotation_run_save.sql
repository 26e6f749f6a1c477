-- Records a batch's progress: the phase and cursor reached, and the rows it scanned and rewrote;
-- with start_sweep_clock, the sweep may start once grace_ms have passed.
-- :id                 bigint
-- :phase              text
-- :cursor             jsonb    the last key done, as a JSON array of its columns, or null: from the start
-- :scanned            int
-- :rewritten          int
-- :start_sweep_clock  boolean
-- :grace_ms           int
update key_rotation_runs
   set phase = :phase, cursor = :cursor::jsonb, rows_scanned = rows_scanned + :scanned, rows_rewritten = rows_rewritten + :rewritten,
       sweep_after = case when :start_sweep_clock then now() + make_interval(secs => :grace_ms::double precision / 1000) else sweep_after end,
       updated_at = now()
 where id = :id
returning
-- @include rotation_run_columns
