-- Every column of a runner row, in the order RunnerRecord lists them.
id, tenant_id, pool, name, version, job_types, tags, status, last_heartbeat_at, revoked_at, created_at
