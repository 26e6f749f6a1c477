-- Creates or replaces a job type's contract (its version counts the changes).
-- :tenant_id      text
-- :type           text
-- :input_schema   jsonb
-- :output_schema  jsonb
-- :pool           text
-- :concurrency_limit  int  leases at once per concurrency key (null: 1)
insert into job_types (tenant_id, type, input_schema, output_schema, pool, concurrency_limit)
values (:tenant_id, :type, :input_schema, :output_schema, :pool, :concurrency_limit)
on conflict (tenant_id, type) do update set input_schema = excluded.input_schema, output_schema = excluded.output_schema,
       pool = excluded.pool, concurrency_limit = excluded.concurrency_limit, version = job_types.version + 1, updated_at = now()
returning
-- @include job_type_columns
