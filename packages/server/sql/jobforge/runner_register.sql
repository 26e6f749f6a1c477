-- A runner's registration: what it runs, made active (nothing for a revoked runner).
-- :id            text
-- :tenant_id     text
-- :name          text
-- :version       text
-- :capabilities  jsonb
-- :job_types     text[]
-- :tags          text[]
update runners set name = :name, version = :version, capabilities = :capabilities, job_types = :job_types, tags = :tags,
       status = 'active', updated_at = now()
 where id = :id and tenant_id = :tenant_id and status <> 'revoked'
returning
-- @include runner_columns
