-- Creates or replaces a job type's contract (its version counts the changes).
-- :tenant_id      text
-- :type           text
-- :input_schema   jsonb
-- :output_schema  jsonb
-- :pool           text
insert into job_types (tenant_id, type, input_schema, output_schema, pool)
values (:tenant_id, :type, :input_schema, :output_schema, :pool)
on conflict (tenant_id, type) do update set input_schema = excluded.input_schema, output_schema = excluded.output_schema,
       pool = excluded.pool, version = job_types.version + 1, updated_at = now()
returning
-- @include job_type_columns
