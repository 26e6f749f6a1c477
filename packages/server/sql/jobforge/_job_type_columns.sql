-- Every column of a job-type contract.
tenant_id, type, input_schema, output_schema, pool, version, updated_at
