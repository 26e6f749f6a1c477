-- A runner with whether the certificate it presents was revoked (null: never issued to it by us).
-- :id             text
-- :serial_number  text  lowercase hex
select r.id, r.tenant_id, r.pool, r.name, r.version, r.job_types, r.tags, r.status, r.last_heartbeat_at, r.revoked_at,
       r.created_at, (c.revoked_at is not null) as cert_revoked
  from runners r left join runner_certificates c on c.runner_id = r.id and c.serial_number = :serial_number
 where r.id = :id
