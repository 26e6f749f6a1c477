-- Every column of a job-type contract.
tenant_id, type, input_schema, output_schema, pool, concurrency_limit, version, updated_at
