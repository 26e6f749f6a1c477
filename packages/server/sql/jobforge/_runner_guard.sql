-- Whether the runner may be given work at the moment the statement runs: registered or active (not
-- draining, not revoked) and presenting a certificate that is not revoked. Checked inside the lease
-- statement itself, so a runner that began to drain or was revoked while its long-poll waited
-- cannot lease anything, whatever it was told when the poll began. Without a certificate serial
-- (a caller that has already checked the runner) the guard holds.
-- :runner_id           text  the claiming runner
-- :tenant_id           text  the runner's tenant
-- :certificate_serial  text  serial of the certificate it presented (lowercase hex), or null
guard as (
  select :certificate_serial::text is null or exists (
    select 1 from runners r join runner_certificates c on c.runner_id = r.id
     where r.id = :runner_id and r.tenant_id = :tenant_id and r.status in ('enrolled', 'active')
       and c.serial_number = :certificate_serial::text and c.revoked_at is null
  ) as ok
),
