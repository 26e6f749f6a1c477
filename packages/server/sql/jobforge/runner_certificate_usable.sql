-- Whether the runner is not revoked and this certificate of it is not revoked.
-- :id             text
-- :serial_number  text  lowercase hex
select (r.status <> 'revoked' and c.revoked_at is null) as ok
  from runners r join runner_certificates c on c.runner_id = r.id
 where r.id = :id and c.serial_number = :serial_number
